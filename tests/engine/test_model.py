"""The CP-SAT model alone: over every pupil and every reachable offer (no pruning), its optimum
is valid for the independent checker and equals the exhaustive optimum of levels 1-4; a
neighbourhood keeps the pupils it does not free as they are."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from conftest import brute_force, check_week, make_scenario, random_case, score_of, tiny_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from affectation.domain.instance import Instance
from affectation.engine.candidates import NO_PRUNING, allowed_pairs, build_candidates, offer_roles
from affectation.engine.model import build_model, hint_allocation, read_allocation
from affectation.engine.variables import neighbourhood
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def solve_model(inst: Instance, allocation: np.ndarray, free: np.ndarray,
                hint: bool = False) -> tuple[int, np.ndarray]:
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    roles = offer_roles(inst)
    cands = build_candidates(inst, reach, allowed, roles, NO_PRUNING)
    hood = neighbourhood(inst, allocation, free)
    built = build_model(inst, roles, cands, hood)
    if hint:
        hint_allocation(built, inst, allocation)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 10.0
    status = solver.solve(built.model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return status, read_allocation(solver, built, inst, allocation, hood)


@st.composite
def tiny(draw: Any) -> dict[str, Any]:
    return tiny_case(draw, pair=None)


@settings(FAST, max_examples=40)
@given(case=tiny())
def test_whole_model_optimum_is_exhaustive_optimum(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
        status, allocation = solve_model(inst, inst.fixed.copy(), inst.students.to_place.copy())
        assert status == cp_model.OPTIMAL
        violations = check_week(inst, allocation)
    assert violations == [], "\n".join(map(str, violations))
    best, _ = brute_force(inst)
    assert score_of(inst, allocation) == best


@st.composite
def small(draw: Any) -> dict[str, Any]:
    return random_case(draw, n_students=(6, 15))


@settings(FAST, max_examples=15)
@given(case=small(), seed=st.integers(0, 1000))
def test_neighbourhood_keeps_the_others(case: dict[str, Any], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
        _, start = solve_model(inst, inst.fixed.copy(), inst.students.to_place.copy())
        rng = np.random.default_rng(seed)
        free = inst.students.to_place & (rng.random(inst.students.n) < 0.5)
        _, allocation = solve_model(inst, start, free, hint=True)
        assert check_week(inst, allocation) == []
    assert np.array_equal(allocation[~free], start[~free])
    assert np.array_equal(allocation[inst.fixed >= 0], inst.fixed[inst.fixed >= 0])
    # The start was optimal, so a neighbourhood of it scores the same.
    assert score_of(inst, allocation) == score_of(inst, start)
