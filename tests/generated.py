"""Generated instances of several profiles, for the tests that need more than a handful of
pupils (the large-instance path, the quality floors, determinism across processes).

`affectation.synthetic` draws one profile (the calibrated Normandy one). The other profiles
here are that scenario rewritten, deterministically (a fixed numpy seed), into a campaign that
looks different to the engine:

- `normandy`: the generator as it is (about 0.9 seats a week per pupil, a fifth of the
  offers one-week, 3 % of offers in mutualised pairs, 3 % of pupils with a signed convention);
- `scarce`: fewer seats (about 0.8 a week per pupil), a third of the two-week offers turned into
  one-week offers (more splits), every mutualised pair with a minimum group of 2 or 3, no
  signed convention;
- `roomy`: more seats in larger offers (a heavy tail up to 10 per offer, about 1.1 per pupil),
  slower public transport and faster cars (reach shifts from pupils in towns to pupils in the
  countryside), no signed convention;
- `nopairs`: no mutualised pair, no signed convention.

When the generator grows profiles of its own (engine issue 14), these can become its options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from affectation.synthetic.scenario import generate_scenario

PROFILES = ("normandy", "scarce", "roomy", "nopairs")


def generate(folder: Path, scale: float, seed: int, profile: str = "normandy") -> Path:
    """Write a generated scenario of `profile` into `folder`; return its scenario.toml."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    generate_scenario(folder, scale=scale, seed=seed)
    path = folder / "scenario.toml"
    if profile == "normandy":
        return path
    rng = np.random.default_rng([seed, PROFILES.index(profile)])
    offers = pd.read_csv(folder / "offers.csv", dtype=str, keep_default_na=False)
    capacity = offers.capacity.astype(int).to_numpy()
    period = offers.period.astype(int).to_numpy()
    paired = (offers.pair_id != "").to_numpy()
    if profile == "nopairs":
        offers["pair_id"] = ""
        offers["min_group"] = ""
    elif profile == "scarce":
        one_week = (~paired) & (period == 0) & (rng.random(len(offers)) < 0.33)
        period = np.where(one_week, rng.integers(1, 3, size=len(offers)), period)
        first = ~offers.pair_id.duplicated().to_numpy() & paired
        group = rng.integers(2, 4, size=len(offers)).astype(str)
        offers["min_group"] = np.where(first, group, np.where(paired, "", offers.min_group))
    elif profile == "roomy":
        grow = (capacity > 0) & ~paired & (rng.random(len(offers)) < 0.15)
        capacity = np.where(grow, np.minimum(10, capacity + rng.integers(1, 5, len(offers))),
                            capacity)
    offers["capacity"] = capacity.astype(int).astype(str)
    offers["period"] = period.astype(str)
    offers.to_csv(folder / "offers.csv", index=False, lineterminator="\n")
    text = path.read_text(encoding="utf-8")
    # No signed convention in these profiles (conventions.csv stays, unread).
    text = text.replace('conventions = "conventions.csv"\n', "")
    if profile == "roomy":
        text = _set_speed(text, "public", 24.0)
        text = _set_speed(text, "car", 70.0)
    path.write_text(text, encoding="utf-8")
    return path


def _set_speed(text: str, mode: str, speed: float) -> str:
    head = f"[travel.modes.{mode}]\n"
    start = text.index(head) + len(head)
    line_end = text.index("\n", start)
    line = text[start:line_end]
    assert line.startswith("speed_kmh = "), line
    return text[:start] + f"speed_kmh = {speed:.1f}" + text[line_end:]
