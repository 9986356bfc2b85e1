"""The CP-SAT model alone: over every pupil and every reachable offer (no pruning), its optimum
is valid for the independent checker and equals the exhaustive optimum of levels 1-4; a
neighbourhood keeps the pupils it does not free as they are."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import (
    aim_at_contention,
    brute_force,
    check_week,
    make_scenario,
    near,
    random_case,
    score_of,
    tiny_case,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from affectation.domain.instance import Instance
from affectation.engine.candidates import NO_PRUNING, allowed_pairs, build_candidates, offer_roles
from affectation.engine.model import build_model, hint_allocation, read_allocation
from affectation.engine.variables import neighbourhood
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])


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
    _check_whole_model(case)


@st.composite
def small_exhaustive(draw: Any) -> dict[str, Any]:
    return random_case(draw, n_students=(3, 7), n_offers=(2, 5))


@pytest.mark.slow
@settings(FAST, max_examples=400)
@given(case=small_exhaustive())
def test_whole_model_optimum_is_exhaustive_optimum_on_more_cases(case: dict[str, Any]) -> None:
    """400 cases of up to 7 pupils: the budget at which the issue saw a model without
    `split_needs_both_weeks` score (0, 0, 2, 0) where the optimum is (1, 1, 0, -1)."""
    _check_whole_model(case)


def _check_whole_model(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
        status, allocation = solve_model(inst, inst.fixed.copy(), inst.students.to_place.copy())
        assert status == cp_model.OPTIMAL
        violations = check_week(inst, allocation)
    assert violations == [], "\n".join(map(str, violations))
    best, best_week = brute_force(inst)
    aim_at_contention(inst, best, best_week)
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


# -- Every rule of the model, pinned ----------------------------------------------------------
#
# For each rule of `model.RULES`: a case where fixing a violating choice of variables makes
# the model INFEASIBLE (the rule forbids it, and nothing else does: the same model without
# the rule accepts it), and a case where the rule binds (the model's optimum is the one the
# rule allows; without the rule the optimum would break it). `scripts/mutate_rules.py`
# removes each rule in turn and records which tests fail (docs/mutation-record.md).
#
# The variables of a choice are found through `Variables` (`option`): only that helper knows
# how the model names its options.

RULE_NAMES = ("one_offer_per_week", "split_needs_both_weeks", "capacity_per_week",
              "pair_minimum_group")


def pupil(sid: str, dlat: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"student_id": sid, **near(dlat), **extra}


def offer(oid: str, capacity: int = 1, period: int = 0, dlon: float = 0.01,
          **extra: Any) -> dict[str, Any]:
    return {"offer_id": oid, "capacity": capacity, "period": period, **near(0.0, dlon),
            **extra}


def whole_model(tmp_path: Path, students: list[dict[str, Any]], offers: list[dict[str, Any]],
                split_two_week_offers: bool = False) -> tuple[Instance, Any, Any]:
    """The model over every pupil and every reachable option (as `solve` builds it whole)."""
    path = make_scenario(tmp_path, students=students, offers=offers, conventions=[],
                         rules={"split_two_week_offers": split_two_week_offers})
    inst = load_instance(path)
    reach = reachable(inst)
    roles = offer_roles(inst)
    cands = build_candidates(inst, reach, allowed_pairs(inst, reach), roles, NO_PRUNING)
    hood = neighbourhood(inst, inst.fixed.copy(), inst.students.to_place.copy())
    return inst, build_model(inst, roles, cands, hood), hood


def option(inst: Instance, built: Any, kind: str, sid: str, oid: str = "", week: int = 0,
           direction: int = 0) -> cp_model.IntVar:
    """The variable of one option of pupil `sid`: kind "single" (at `oid`), "stay" (at `oid`
    in week `week` 1 or 2), "split", "pair" (the pair of `oid`, `direction`) or "open" (the
    pair of `oid` hosts pupils)."""
    v = built.variables
    s = list(inst.students.ids).index(sid)
    o = list(inst.offers.ids).index(oid) if oid else -1
    if kind == "single":
        (i,) = np.flatnonzero((v.single_student == s) & (v.single_offer == o))
        return v.single[i]
    if kind == "stay":
        w = week - 1
        (i,) = np.flatnonzero((v.stay_student[w] == s) & (v.stay_offer[w] == o))
        return v.stay[w][i]
    if kind == "split":
        (i,) = np.flatnonzero(v.split_student == s)
        return v.split[i]
    k = int(inst.offers.pair[o])
    if kind == "open":
        return v.open_pair[k]
    (i,) = np.flatnonzero((v.pair_student == s) & (v.pair_index == k)
                          & (v.pair_direction == direction))
    return v.pair[i]


def status_with(built: Any, forced: list[tuple[cp_model.IntVar, int]]) -> int:
    """CP-SAT's status on the model with the variables of `forced` fixed to their values."""
    for var, value in forced:
        built.model.add(var == value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 10.0
    return solver.solve(built.model)


def optimum(inst: Instance, built: Any, hood: Any) -> np.ndarray:
    """The model's proven optimum, read back as an allocation."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 10.0
    assert solver.solve(built.model) == cp_model.OPTIMAL
    return read_allocation(solver, built, inst, inst.fixed.copy(), hood)


def assert_optimum(inst: Instance, allocation: np.ndarray, score: tuple[int, ...]) -> None:
    """Valid for the independent checker, and the exhaustive optimum `score` (levels 1-4)."""
    violations = check_week(inst, allocation)
    assert violations == [], "\n".join(map(str, violations))
    assert score_of(inst, allocation) == score
    assert brute_force(inst)[0] == score


def test_every_rule_of_the_model_is_pinned_here() -> None:
    """A rule added to the model needs its forced-infeasible and binding tests below."""
    from affectation.engine.model import RULES

    assert {rule.__name__ for rule in RULES} == set(RULE_NAMES)


# one_offer_per_week


def test_one_offer_per_week_forbids_a_single_and_a_stay_the_same_week(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0")],
                                 [offer("A"), offer("B", period=1, dlon=-0.01)])
    both = [(option(inst, built, "single", "S0", "A"), 1),
            (option(inst, built, "stay", "S0", "B", week=1), 1)]
    assert status_with(built, both) == cp_model.INFEASIBLE


def test_one_offer_per_week_forbids_two_singles(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0")], [offer("A"), offer("B", dlon=-0.01)])
    both = [(option(inst, built, "single", "S0", "A"), 1),
            (option(inst, built, "single", "S0", "B"), 1)]
    assert status_with(built, both) == cp_model.INFEASIBLE


def test_one_offer_per_week_binds_a_priority_pupil_to_one_seat(tmp_path: Path) -> None:
    """Counting a pupil twice would give the priority pupil both seats, the other none."""
    inst, built, hood = whole_model(tmp_path, [pupil("S0", priority=True), pupil("S1", 0.01)],
                                    [offer("A"), offer("B", dlon=-0.01)])
    assert_optimum(inst, optimum(inst, built, hood), (1, 2, 0, 0))


# split_needs_both_weeks


def test_a_split_without_its_week_2_stay_is_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0")],
                                 [offer("W1", period=1), offer("W2", period=2, dlon=-0.01)])
    forced = [(option(inst, built, "split", "S0"), 1),
              (option(inst, built, "stay", "S0", "W2", week=2), 0)]
    assert status_with(built, forced) == cp_model.INFEASIBLE


def test_a_split_without_its_week_1_stay_is_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0")],
                                 [offer("W1", period=1), offer("W2", period=2, dlon=-0.01)])
    forced = [(option(inst, built, "split", "S0"), 1),
              (option(inst, built, "stay", "S0", "W1", week=1), 0)]
    assert status_with(built, forced) == cp_model.INFEASIBLE


def test_two_stays_at_one_two_week_offer_are_never_a_split(tmp_path: Path) -> None:
    """With two-week offers open to one-week stays, the same offer both weeks is a single."""
    inst, built, _ = whole_model(tmp_path, [pupil("S0")], [offer("A")],
                                 split_two_week_offers=True)
    forced = [(option(inst, built, "stay", "S0", "A", week=1), 1),
              (option(inst, built, "stay", "S0", "A", week=2), 1)]
    assert status_with(built, forced) == cp_model.INFEASIBLE


def test_split_needs_both_weeks_binds_the_priority_split(tmp_path: Path) -> None:
    """The issue's case: a split counted without its stays would place the priority pupil for
    free and give both one-week seats to the other pupil (0, 1, 0, -1 instead of 1, 1, 0, -1)."""
    inst, built, hood = whole_model(tmp_path, [pupil("S0", priority=True), pupil("S1", 0.01)],
                                    [offer("W1", period=1), offer("W2", period=2, dlon=-0.01)])
    assert_optimum(inst, optimum(inst, built, hood), (1, 1, 0, -1))


# capacity_per_week


def test_two_singles_on_one_seat_are_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0"), pupil("S1", 0.01)], [offer("A")])
    both = [(option(inst, built, "single", "S0", "A"), 1),
            (option(inst, built, "single", "S1", "A"), 1)]
    assert status_with(built, both) == cp_model.INFEASIBLE


def test_two_week_1_stays_on_one_seat_are_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0"), pupil("S1", 0.01)],
                                 [offer("W1", period=1)])
    both = [(option(inst, built, "stay", "S0", "W1", week=1), 1),
            (option(inst, built, "stay", "S1", "W1", week=1), 1)]
    assert status_with(built, both) == cp_model.INFEASIBLE


def test_two_pupils_in_one_pair_direction_beyond_its_seats_are_infeasible(
        tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0"), pupil("S1", 0.01)],
                                 [offer("PA", pair_id="M"), offer("PB", dlon=-0.01, pair_id="M")])
    both = [(option(inst, built, "pair", "S0", "PA", direction=0), 1),
            (option(inst, built, "pair", "S1", "PA", direction=0), 1)]
    assert status_with(built, both) == cp_model.INFEASIBLE


def test_capacity_binds_per_offer_and_per_week(tmp_path: Path) -> None:
    """Two seats for three pupils; one seat a week at two one-week offers for two pupils."""
    three = [pupil("S0"), pupil("S1", 0.01), pupil("S2", -0.01)]
    inst, built, hood = whole_model(tmp_path / "a", three, [offer("A", capacity=2)])
    assert_optimum(inst, optimum(inst, built, hood), (0, 2, 0, 0))
    inst, built, hood = whole_model(tmp_path / "b", three[:2],
                                    [offer("W1", period=1), offer("W2", period=2, dlon=-0.01)])
    assert_optimum(inst, optimum(inst, built, hood), (0, 1, 0, -1))


# pair_minimum_group


PAIR_OF_TWO = [offer("PA", capacity=2, pair_id="M", min_group=2),
               offer("PB", capacity=2, dlon=-0.01, pair_id="M")]


def test_a_lone_pupil_in_a_pair_of_two_is_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0")], PAIR_OF_TWO)
    forced = [(option(inst, built, "pair", "S0", "PA", direction=0), 1)]
    assert status_with(built, forced) == cp_model.INFEASIBLE


def test_a_pupil_in_a_pair_that_is_not_open_is_infeasible(tmp_path: Path) -> None:
    inst, built, _ = whole_model(tmp_path, [pupil("S0"), pupil("S1", 0.01)], PAIR_OF_TWO)
    forced = [(option(inst, built, "pair", "S0", "PA", direction=0), 1),
              (option(inst, built, "pair", "S1", "PA", direction=1), 1),
              (option(inst, built, "open", "S0", "PA"), 0)]
    assert status_with(built, forced) == cp_model.INFEASIBLE


def test_pair_minimum_group_binds(tmp_path: Path) -> None:
    """One pupil cannot open a pair of two (nobody placed); two can (both placed)."""
    inst, built, hood = whole_model(tmp_path / "a", [pupil("S0")], PAIR_OF_TWO)
    assert_optimum(inst, optimum(inst, built, hood), (0, 0, 0, 0))
    inst, built, hood = whole_model(tmp_path / "b", [pupil("S0"), pupil("S1", 0.01)],
                                    PAIR_OF_TWO)
    assert_optimum(inst, optimum(inst, built, hood), (0, 2, 0, 0))
