"""The instance-profile options of `affectation generate`: a named profile and the options
that override it field by field (`synthetic.profiles`). Kept apart from `cli/data.py` so
that the generate command only gains one decorator and one call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from affectation.errors import Problem
from affectation.synthetic.profiles import (
    CAPACITY_KINDS,
    PROFILE_NAMES,
    PROFILES,
    ModeParams,
    Profile,
    override,
    problems_as_errors,
)

# Profile field -> option name (for the French error messages).
OPTION_OF = {
    "seats_per_pupil": "--seats-per-pupil",
    "capacities": "--capacities",
    "one_week_share": "--one-week-share",
    "reserved_share": "--reserved-share",
    "pairs": "--pairs",
    "conventions": "--conventions",
    "mode_shares": "--mode-shares",
    "modes": "--speeds/--max-minutes",
    "priority_share": "--priority-share",
    "clustering": "--clustering",
}
PROFILE_KEYS = ("profile", "seats_per_pupil", "capacities", "one_week_share", "reserved_share",
                "pairs", "conventions", "mode_shares", "speeds", "max_minutes",
                "priority_share", "clustering")

_OPTIONS = [
    click.option("--profile", type=click.Choice(PROFILE_NAMES), default="bundled",
                 show_default=True,
                 help="Profil d'instance : bundled (le scénario fourni), dense-seats (plus de "
                      "places par offre), scarce (0,8 place par élève), rural-transit "
                      "(transports lents, voiture rapide), few-conventions, constrained "
                      "(paires, offres d'une semaine, réservées), dense-rural. Les options "
                      "suivantes en changent une partie."),
    click.option("--seats-per-pupil", type=float, default=None,
                 help="Places (en équivalent deux semaines) par élève à placer, de 0,8 à 1,15."),
    click.option("--capacities", type=click.Choice(CAPACITY_KINDS), default=None,
                 help="Répartition des capacités : standard (1-2 surtout, 3-6 en ville), "
                      "small (1-2 presque toujours), heavy-tail (jusqu'à 10 places)."),
    click.option("--one-week-share", type=float, default=None,
                 help="Part des offres d'une seule semaine (0 à 0,6)."),
    click.option("--reserved-share", type=float, default=None,
                 help="Part des offres réservées aux élèves prioritaires (0 à 0,5)."),
    click.option("--pairs", type=int, default=None,
                 help="Paires d'offres mutualisées à l'échelle 1 (0 à 400), multipliées "
                      "par --scale."),
    click.option("--conventions", type=int, default=None,
                 help="Conventions signées à l'échelle 1 (0 à 2000), multipliées par --scale."),
    click.option("--mode-shares", default=None,
                 help="Parts des modes, de somme 1, ex. public=0.45,car=0.42,bike=0.09,"
                      "walk=0.04."),
    click.option("--speeds", default=None,
                 help="Vitesses (km/h) de certains modes, ex. public=24,car=72."),
    click.option("--max-minutes", default=None,
                 help="Limites de trajet (minutes) de certains modes, ex. public=40,car=35."),
    click.option("--priority-share", type=float, default=None,
                 help="Part moyenne d'élèves prioritaires (0 à 0,6)."),
    click.option("--clustering", type=float, default=None,
                 help="Concentration des offres dans les villes : exposant de la population "
                      "des communes, de 0,5 (dispersées) à 2 (groupées) ; 1,15 par défaut."),
]


def profile_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the profile options to a click command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def _pairs(text: str, option: str, problems: list[Problem],
           names: tuple[str, ...]) -> dict[str, float]:
    """Parse `mode=value,mode=value`; a malformed item becomes a problem."""
    out: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or key not in names or key in out or number != number:
            problems.append(Problem(option, "des éléments mode=nombre séparés par des "
                                    "virgules, modes parmi " + ", ".join(names)
                                    + ", chacun une fois", value=item))
            continue
        out[key] = number
    return out


def profile_from_options(values: dict[str, Any]) -> Profile:
    """The profile named by `--profile`, changed by the other options; exit 2 with French
    messages when a value is out of range or malformed."""
    from affectation.cli.common import check_options

    base = PROFILES[values.get("profile") or "bundled"]
    problems: list[Problem] = []
    changes: dict[str, Any] = {k: values.get(k) for k in (
        "seats_per_pupil", "capacities", "one_week_share", "reserved_share", "pairs",
        "conventions", "priority_share", "clustering")}
    names = tuple(base.modes)
    if values.get("mode_shares") is not None:
        shares = _pairs(values["mode_shares"], "--mode-shares", problems, names)
        if not problems:
            changes["mode_shares"] = {m: shares.get(m, 0.0) for m in names}
    speeds = (_pairs(values["speeds"], "--speeds", problems, names)
              if values.get("speeds") is not None else {})
    limits = (_pairs(values["max_minutes"], "--max-minutes", problems, names)
              if values.get("max_minutes") is not None else {})
    if speeds or limits:
        changes["modes"] = {m: ModeParams(speeds.get(m, p.speed_kmh),
                                          limits.get(m, p.max_minutes))
                            for m, p in base.modes.items()}
    check_options(problems)
    profile = override(base, **changes)
    check_options(problems_as_errors(profile, OPTION_OF))
    return profile
