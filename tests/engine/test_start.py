"""The flow-based construction: priority rescue, and a valid allocation whatever the case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import check_week, make_scenario, near

from affectation.domain.allocation import seats_left
from affectation.domain.instance import Instance
from affectation.engine import start as construct
from affectation.engine.candidates import NO_PRUNING, allowed_pairs, build_candidates, offer_roles
from affectation.engine.seats import place_by_one_move
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

PUBLIC = {"speed_kmh": 20.0, "detour": 1.25, "access_minutes": 5.0, "max_minutes": 30.0}


def _problem(inst: Instance) -> construct.StartInputs:
    reach = reachable(inst)
    roles = offer_roles(inst)
    cands = build_candidates(inst, reach, allowed_pairs(inst, reach), roles,
                             NO_PRUNING)
    return construct.StartInputs(inst, roles, cands, reach)


def test_priority_pupil_displaces_a_non_priority_pupil(tmp_path: Path) -> None:
    # A is the only offer the priority pupil P reaches (B is 20 km away); N holds A.
    path = make_scenario(
        tmp_path,
        students=[{"student_id": "N", **near(0.0, 0.0)},
                  {"student_id": "P", "priority": 1, **near(0.0, 0.01)}],
        offers=[{"offer_id": "A", "capacity": 1, **near(0.0, 0.005)},
                {"offer_id": "B", "capacity": 1, **near(-0.05, -0.03)}],
    )
    inst = load_instance(path)
    problem = _problem(inst)
    allocation = np.array([[0, 0], [-1, -1]], dtype=np.int64)
    rem = seats_left(inst, allocation)
    construct._rescue_priority(problem, allocation, rem)
    assert allocation.tolist() == [[-1, -1], [0, 0]]
    assert (rem >= 0).all()
    # The evicted pupil is placed again where it can be.
    construct._greedy(problem, np.array([1, 0]), allocation, rem)
    assert allocation.tolist() == [[1, 1], [0, 0]]
    assert check_week(inst, allocation) == []


def test_pair_members_are_never_evicted(tmp_path: Path) -> None:
    path = make_scenario(
        tmp_path,
        students=[{"student_id": "N", **near(0.0, 0.0)},
                  {"student_id": "P", "priority": 1, **near(0.0, 0.01)}],
        offers=[{"offer_id": "A", "capacity": 1, "pair_id": "M", **near(0.0, 0.005)},
                {"offer_id": "C", "capacity": 1, "pair_id": "M", **near(0.002, 0.005)}],
    )
    inst = load_instance(path)
    problem = _problem(inst)
    allocation = np.array([[0, 1], [-1, -1]], dtype=np.int64)
    rem = seats_left(inst, allocation)
    construct._rescue_priority(problem, allocation, rem)
    # The pair's only other direction (C then A) is free: P joins it; N keeps its place.
    assert allocation.tolist() == [[0, 1], [1, 0]]


def test_initial_allocation_is_valid_on_a_generated_scenario(tmp_path: Path) -> None:
    from affectation.synthetic.scenario import generate_scenario

    generate_scenario(tmp_path / "s", scale=0.02, seed=3)
    inst = load_instance(tmp_path / "s" / "scenario.toml")
    allocation = construct.initial_allocation(_problem(inst))
    assert check_week(inst, allocation) == []
    assert (allocation[inst.fixed >= 0] == inst.fixed[inst.fixed >= 0]).all()


def test_unplaced_pupil_takes_a_seat_whose_holder_can_split(tmp_path: Path) -> None:
    # H reaches the two-week offer B and the one-week offers W1, W2; U reaches only B.
    path = make_scenario(
        tmp_path,
        students=[{"student_id": "H", **near(0.0, 0.0)},
                  {"student_id": "U", **near(0.0, 0.06)}],
        offers=[{"offer_id": "B", "capacity": 1, **near(0.0, 0.03)},
                {"offer_id": "W1", "capacity": 1, "period": 1, **near(0.0, -0.01)},
                {"offer_id": "W2", "capacity": 1, "period": 2, **near(0.01, 0.0)}],
    )
    inst = load_instance(path)
    problem = _problem(inst)
    allocation = np.array([[0, 0], [-1, -1]], dtype=np.int64)
    rem = seats_left(inst, allocation)
    construct._make_room_by_splitting(problem, allocation, rem)
    assert allocation.tolist() == [[1, 2], [0, 0]]
    assert check_week(inst, allocation) == []


def test_one_move_places_a_pupil_and_keeps_the_holder_placed(tmp_path: Path) -> None:
    # U reaches only the two-week offer B, held by H. H reaches B and C (free): H moves to C,
    # U takes B. G holds D, which U does not reach: G stays.
    path = make_scenario(
        tmp_path,
        students=[{"student_id": "H", **near(0.0, 0.0)},
                  {"student_id": "U", **near(0.0, 0.06)},
                  {"student_id": "G", **near(0.0, -0.03)}],
        offers=[{"offer_id": "B", "capacity": 1, **near(0.0, 0.03)},
                {"offer_id": "C", "capacity": 1, **near(0.0, -0.02)},
                {"offer_id": "D", "capacity": 1, **near(0.0, -0.03)}],
    )
    inst = load_instance(path)
    problem = _problem(inst)
    allowed = allowed_pairs(inst, problem.reach)
    allocation = np.array([[0, 0], [-1, -1], [2, 2]], dtype=np.int64)
    out = place_by_one_move(inst, problem.roles, problem.reach, allowed, allocation)
    assert out.tolist() == [[1, 1], [0, 0], [2, 2]]
    assert allocation.tolist() == [[0, 0], [-1, -1], [2, 2]]  # the input is not modified
    assert check_week(inst, out) == []


def test_one_move_never_moves_a_holder_without_room(tmp_path: Path) -> None:
    path = make_scenario(
        tmp_path,
        students=[{"student_id": "H", **near(0.0, 0.0)},
                  {"student_id": "U", **near(0.0, 0.06)}],
        offers=[{"offer_id": "B", "capacity": 1, **near(0.0, 0.03)},
                {"offer_id": "W1", "capacity": 1, "period": 1, **near(0.0, -0.01)}],
    )
    inst = load_instance(path)
    problem = _problem(inst)
    allocation = np.array([[0, 0], [-1, -1]], dtype=np.int64)
    out = place_by_one_move(inst, problem.roles, problem.reach,
                                      allowed_pairs(inst, problem.reach), allocation)
    assert out.tolist() == allocation.tolist()
