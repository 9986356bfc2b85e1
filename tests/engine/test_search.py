"""The large-instance path (`search.improve`'s neighbourhoods, then `exact`) and the quality
floors of `tests/floors.toml`.

Every académie is above the whole-model size (`SearchSettings.mip_pupils`, 1,500 pupils to
place), so the path a real campaign takes is the neighbourhood search. Solving an instance of
that size in every CI run would cost minutes; here the whole-model thresholds are lowered
(`whole_model_pupils`, `mip_pupils`), and the neighbourhoods sized to the instance (`window`,
`max_neighbourhoods`): settings of the production code, whose path is otherwise unchanged
(flow start, neighbourhoods, exact levels 1-2, moves, polish), so that generated instances of
about a thousand pupils take it.

The floors assert what a worse engine would fail: on generated instances of two profiles
(`tests/generated.py`), the pupils placed for both weeks are at least a stated share of the
proven upper bound, and more than a first-come-first-served baseline places. The floors are
set below what the engine reaches, with margin (the engine changes, issue 14), and are only
ever raised.
"""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pytest
from conftest import TESTS, check_week
from generated import generate

from affectation.domain.instance import Instance
from affectation.engine.search import SearchSettings
from affectation.engine.solve import Solution, SolveSettings, solve
from affectation.travel.loading import load_instance

FLOORS = tomllib.loads((TESTS / "floors.toml").read_text(encoding="utf-8"))
# Lowered whole-model thresholds: every floor instance is above them (asserted below).
WHOLE_MODEL_PUPILS = 300
# The time limit never binds (the path and the result depend on the budgets of work only).
TIME_LIMIT_S = 600.0


# Smaller and more neighbourhoods than the defaults (600 pupils, 2 neighbourhoods), in
# proportion to these instances: with the defaults, the two neighbourhoods of 600 pupils (more
# than half of each instance) return their hint within their budget of work, improving nothing
# (measured when this was written), and the test would not see a neighbourhood that works.
WINDOW = 60
NEIGHBOURHOODS = 10


def large_settings(seed: int = 0) -> SolveSettings:
    search = dataclasses.replace(SearchSettings(), whole_model_pupils=WHOLE_MODEL_PUPILS,
                                 mip_pupils=WHOLE_MODEL_PUPILS, window=WINDOW,
                                 max_neighbourhoods=NEIGHBOURHOODS)
    return SolveSettings(time_limit_s=TIME_LIMIT_S, seed=seed, search=search)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Instance, Solution]]:
    """Each floor's instance, generated and solved on the large-instance path (once)."""
    out: dict[str, tuple[Instance, Solution]] = {}
    for name, floor in FLOORS["instance"].items():
        folder = tmp_path_factory.mktemp(name)
        inst = load_instance(generate(folder, floor["scale"], floor["seed"], floor["profile"]))
        out[name] = inst, solve(inst, large_settings())
    return out


def first_come_first_served(inst: Instance, sol: Solution) -> np.ndarray:
    """The baseline: signed conventions kept, then each pupil in file order takes the nearest
    reachable two-week offer (not mutualised) with a seat left in both weeks, if any."""
    st, of = inst.students, inst.offers
    allocation = inst.fixed.copy()
    seats = inst.seats_left_by_conventions()
    two_week = (of.period == 0) & (of.pair < 0)
    reach = sol.reach
    for s in np.flatnonzero(st.to_place & (inst.fixed < 0).all(axis=1)):
        offers = reach.offer[reach.indptr[s]:reach.indptr[s + 1]]  # nearest first
        for o in offers:
            if (two_week[o] and seats[o, 0] > 0 and seats[o, 1] > 0
                    and (not of.reserved[o] or st.priority[s])
                    and (of.accessible[o] or not st.needs_accessible[s])):
                allocation[s] = o
                seats[o] -= 1
                break
    return allocation


def placed_full(inst: Instance, allocation: np.ndarray) -> int:
    """Pupils to place who have an offer in both weeks."""
    return int((inst.students.to_place & (allocation >= 0).all(axis=1)).sum())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS["instance"]))
def test_large_instance_path_improves_and_is_valid(
        solved: dict[str, tuple[Instance, Solution]], name: str) -> None:
    """Above the (lowered) whole-model size: no whole model, neighbourhoods that improve the
    objective, an allocation the independent checker accepts."""
    inst, sol = solved[name]
    assert int(inst.students.to_place.sum()) > WHOLE_MODEL_PUPILS
    assert sol.search["whole_model_solver"] == ""
    assert sol.search["neighbourhoods"] >= 1
    assert sol.search["improved"] >= 1, sol.search
    assert sol.search["stopped_by_time_limit"] == 0
    violations = check_week(inst, sol.allocation)
    assert violations == [], "\n".join(map(str, violations[:20]))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS["instance"]))
def test_quality_floors(solved: dict[str, tuple[Instance, Solution]], name: str) -> None:
    floor = FLOORS["instance"][name]
    inst, sol = solved[name]
    placed = placed_full(inst, sol.allocation)
    baseline = first_come_first_served(inst, sol)
    assert check_week(inst, baseline) == []  # the baseline is a valid allocation
    fcfs = placed_full(inst, baseline)
    assert placed <= sol.upper_bound_full
    share = placed / sol.upper_bound_full
    print(f"{name}: placed {placed}, bound {sol.upper_bound_full} ({share:.4f}), "
          f"first come first served {fcfs}")
    assert share >= floor["min_share_of_bound"], (placed, sol.upper_bound_full)
    assert placed - fcfs >= floor["min_more_than_fcfs"], (placed, fcfs)
