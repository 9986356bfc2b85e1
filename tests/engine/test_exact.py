"""Levels 1-2 solved exactly (`exact`): the brute-force optimum, valid, and used by `solve`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from conftest import brute_force, check_week, make_scenario, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.domain.allocation import lexicographic_score
from affectation.engine.budget import never
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.exact import exact_placements
from affectation.engine.search import SearchSettings
from affectation.engine.solve import SolveSettings, solve
from affectation.synthetic.scenario import generate_scenario
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, database=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    return random_case(draw, n_students=(1, 6), n_offers=(1, 5))


@FAST
@given(case=cases())
def test_exact_levels_equal_the_brute_force_optimum(case: dict[str, Any]) -> None:
    """From the signed weeks alone, HiGHS's allocation is valid and places as many priority
    pupils, then pupils, for both weeks as the exhaustive optimum (None: the signed weeks
    already are that optimum)."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    start = inst.fixed.copy()
    out = exact_placements(inst, offer_roles(inst), reach, allowed_pairs(inst, reach), start,
                           never())
    assert out.info["exact_optimal"] == 1
    best, _ = brute_force(inst, key=(0, 1))
    allocation = start if out.allocation is None else out.allocation
    assert check_week(inst, allocation) == []
    assert lexicographic_score(inst, allocation)[:2] == best


def test_solve_uses_exact_levels_above_the_whole_model_size(tmp_path: Path) -> None:
    """With the whole-model MIP limited to 0 pupils, a small region goes through `exact`:
    proven optimal on levels 1-2, and the result is valid."""
    folder = tmp_path / "g"
    generate_scenario(folder, scale=0.02, seed=3)
    inst = load_instance(folder / "scenario.toml")
    settings_ = SolveSettings(time_limit_s=30, search=SearchSettings(
        whole_model_pupils=0, mip_pupils=0, max_neighbourhoods=0))
    sol = solve(inst, settings_)
    assert sol.search["exact_optimal"] == 1
    assert check_week(inst, sol.allocation) == []
    assert int(np.asarray(sol.allocation >= 0).all(axis=1).sum()) > 0
