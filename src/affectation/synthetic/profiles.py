"""Instance profiles of the synthetic generator: how a campaign may differ from the bundled one.

A coordinator's real campaign will not look like our calibrated generator: more or fewer
seats per pupil, big employers taking ten pupils, slow coaches in the countryside, few
signed conventions... The engine must hold on every plausible profile, so the generator can
vary them, by name (``PROFILES``) and field by field (``dataclasses.replace``).

``BUNDLED`` is the calibrated generator itself: with it, ``build_scenario`` draws exactly the
same random numbers as before profiles existed, so the bundled scenario and the golden
outputs stay byte-identical. The other profiles change the draws (a profile is another
instance, not a perturbation of the bundled one).

Counts that grow with the académie (``pairs``, ``conventions``) are given at scale 1 and
multiplied by the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from affectation.errors import Problem

__all__ = [
    "BUNDLED",
    "CAPACITY_KINDS",
    "PROFILES",
    "PROFILE_NAMES",
    "Profile",
    "ModeParams",
    "profile_problems",
]

# Capacity distributions (before the seats are tuned to ``seats_per_pupil``):
# - "standard": the bundled one: 1-2 mostly, 3-6 (public services, big firms) in towns;
# - "small": 1-2 seats for about 95 % of offers, at most 4;
# - "heavy-tail": a long tail up to 10 seats (P(k) ~ k^-1.6 for k >= 3), more in towns.
CAPACITY_KINDS = ("standard", "small", "heavy-tail")
CAPACITY_MAX = {"standard": 6, "small": 4, "heavy-tail": 10}

MODE_NAMES = ("public", "car", "bike", "walk")


@dataclass(frozen=True)
class ModeParams:
    """Speed (km/h) and travel limit (minutes) of one mode; detour and access stay the
    bundled ones."""

    speed_kmh: float
    max_minutes: float


def _bundled_modes() -> dict[str, ModeParams]:
    return {"public": ModeParams(32.0, 45.0), "car": ModeParams(60.0, 45.0),
            "bike": ModeParams(16.0, 35.0), "walk": ModeParams(5.0, 30.0)}


def _bundled_shares() -> dict[str, float]:
    return {"public": 0.55, "car": 0.30, "bike": 0.10, "walk": 0.05}


@dataclass(frozen=True)
class Profile:
    """Every knob of the generator an instance profile may turn (defaults: the bundled one).

    ``pairs`` and ``conventions`` are counts at scale 1 (``None``: the bundled shares, 3 % of
    offers in pairs and conventions for 3 % of the pupils to place). ``clustering`` is the
    exponent of a commune's population in the weight of its offers (1.15 bundled: towns
    weigh more; 0.6 spreads offers over the countryside, 1.6 packs them in cities).
    """

    name: str = "bundled"
    seats_per_pupil: float = 0.95
    capacities: str = "standard"
    one_week_share: float = 0.20
    reserved_share: float = 0.07
    pairs: int | None = None
    conventions: int | None = None
    mode_shares: dict[str, float] = field(default_factory=_bundled_shares)
    modes: dict[str, ModeParams] = field(default_factory=_bundled_modes)
    priority_share: float = 0.20
    clustering: float = 1.15

    def describe(self) -> str:
        """One line naming every field that differs from the bundled profile."""
        parts = []
        for f in fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if value != getattr(BUNDLED, f.name):
                parts.append(f"{f.name}={_text(value)}")
        return ", ".join(parts) if parts else "bundled"


def _text(value: object) -> str:
    if isinstance(value, dict):
        return ";".join(f"{k}:{_text(v)}" for k, v in value.items())
    if isinstance(value, ModeParams):
        return f"{value.speed_kmh:g}km/h/{value.max_minutes:g}min"
    return f"{value:g}" if isinstance(value, float) else str(value)


BUNDLED = Profile()


def _modes(**changes: tuple[float, float]) -> dict[str, ModeParams]:
    modes = _bundled_modes()
    for mode, (speed, limit) in changes.items():
        modes[mode] = ModeParams(speed, limit)
    return modes


PROFILES: dict[str, Profile] = {
    "bundled": BUNDLED,
    # More seats per offer: big employers and public services taking 3 to 10 pupils.
    "dense-seats": Profile(name="dense-seats", seats_per_pupil=1.10, capacities="heavy-tail"),
    # Not enough seats: 0.8 per pupil, almost all offers of 1 or 2.
    "scarce": Profile(name="scarce", seats_per_pupil=0.80, capacities="small"),
    # The countryside: slow coaches, fast cars, more pupils driven, tighter limits.
    "rural-transit": Profile(
        name="rural-transit",
        mode_shares={"public": 0.45, "car": 0.42, "bike": 0.09, "walk": 0.04},
        modes=_modes(public=(24.0, 40.0), car=(72.0, 35.0), bike=(16.0, 30.0),
                     walk=(5.0, 25.0)),
        clustering=0.9),
    # Few signed conventions (50 at scale 1 instead of ~740) and no mutualised pairs.
    "few-conventions": Profile(name="few-conventions", conventions=50, pairs=0),
    # Many constraints: 400 pairs, a third of one-week offers, more reserved offers and
    # priority pupils, offers packed in cities.
    "constrained": Profile(name="constrained", pairs=400, conventions=2000,
                           one_week_share=0.35, reserved_share=0.15, priority_share=0.30,
                           clustering=1.4),
    # The independent instance of the engine issue: more seats in bigger offers, slower
    # public transport, faster cars, fewer conventions.
    "dense-rural": Profile(
        name="dense-rural", seats_per_pupil=1.14, capacities="heavy-tail", conventions=300,
        mode_shares={"public": 0.50, "car": 0.35, "bike": 0.10, "walk": 0.05},
        modes=_modes(public=(26.0, 45.0), car=(70.0, 45.0))),
}
PROFILE_NAMES = tuple(PROFILES)


def profile_problems(profile: Profile) -> list[tuple[str, str, str]]:
    """What is wrong with a profile: (field, what was expected in French, value given).

    Empty for a usable profile. The command line turns each into a French error naming its
    option.
    """
    out: list[tuple[str, str, str]] = []

    def check(name: str, ok: bool, expected: str, value: object) -> None:
        if not ok:
            out.append((name, expected, _text(value)))

    def within(x: float, lo: float, hi: float) -> bool:
        return math.isfinite(x) and lo <= x <= hi

    p = profile
    check("seats_per_pupil", within(p.seats_per_pupil, 0.8, 1.15),
          "un nombre entre 0,8 et 1,15", p.seats_per_pupil)
    check("capacities", p.capacities in CAPACITY_KINDS,
          "une de : " + ", ".join(CAPACITY_KINDS), p.capacities)
    check("one_week_share", within(p.one_week_share, 0.0, 0.6),
          "une part entre 0 et 0,6", p.one_week_share)
    check("reserved_share", within(p.reserved_share, 0.0, 0.5),
          "une part entre 0 et 0,5", p.reserved_share)
    check("pairs", p.pairs is None or 0 <= p.pairs <= 400,
          "un nombre de paires entre 0 et 400 (à l'échelle 1)", p.pairs)
    check("conventions", p.conventions is None or 0 <= p.conventions <= 2000,
          "un nombre de conventions entre 0 et 2000 (à l'échelle 1)", p.conventions)
    check("priority_share", within(p.priority_share, 0.0, 0.6),
          "une part entre 0 et 0,6", p.priority_share)
    check("clustering", within(p.clustering, 0.5, 2.0),
          "un exposant entre 0,5 et 2", p.clustering)
    shares = p.mode_shares
    check("mode_shares", set(shares) == set(MODE_NAMES)
          and all(within(v, 0.0, 1.0) for v in shares.values())
          and abs(sum(shares.values()) - 1.0) <= 1e-6 and shares.get("car", 0) <= 0.8,
          "des parts pour public, car, bike et walk, de somme 1 (car au plus 0,8)", shares)
    check("modes", set(p.modes) == set(MODE_NAMES)
          and all(within(m.speed_kmh, 2.0, 130.0) and within(m.max_minutes, 10.0, 120.0)
                  for m in p.modes.values()),
          "des vitesses entre 2 et 130 km/h et des limites entre 10 et 120 minutes",
          p.modes)
    return out


def problems_as_errors(profile: Profile, option_of: dict[str, str]) -> list[Problem]:
    """``profile_problems`` as the command line's problems, each naming its option."""
    return [Problem(option_of.get(name, name), expected, value=value)
            for name, expected, value in profile_problems(profile)]


def override(profile: Profile, **changes: object) -> Profile:
    """``profile`` with some fields changed; ``None`` values keep the profile's."""
    kept = {k: v for k, v in changes.items() if v is not None}
    return replace(profile, **kept) if kept else profile  # type: ignore[arg-type]
