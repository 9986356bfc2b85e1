"""Chains of moves (`moves.place_by_moves`): one more pupil placed, nobody loses a week."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from conftest import check_week, make_scenario, near, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.domain.allocation import lexicographic_score
from affectation.domain.instance import Instance
from affectation.engine.candidates import NO_PRUNING, allowed_pairs, build_candidates, offer_roles
from affectation.engine.moves import place_by_moves
from affectation.engine.start import StartInputs, greedy_allocation
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable


def _conversion_case(tmp_path: Path, signed: bool = False) -> tuple[Instance, np.ndarray]:
    """U reaches only the two-week offer S, held by H; H also reaches a week-1 offer and a
    week-2 offer with free seats (U is 10 km from them, beyond its 6.7 km)."""
    students = [{"student_id": "H", **near(0.02)}, {"student_id": "U", **near(-0.04)}]
    offers = [{"offer_id": "S", "capacity": 1, **near(-0.01)},
              {"offer_id": "W1", "capacity": 1, "period": 1, **near(0.05)},
              {"offer_id": "W2", "capacity": 1, "period": 2, **near(0.05)}]
    conventions = ([{"student_id": "H", "offer_id": "S", "week": w} for w in (1, 2)]
                   if signed else None)
    inst = load_instance(make_scenario(tmp_path, students, offers, conventions))
    allocation = inst.fixed.copy()
    allocation[0] = (0, 0)  # H holds S for both weeks
    return inst, allocation


def _moves(inst: Instance, allocation: np.ndarray, convert: bool) -> np.ndarray:
    reach = reachable(inst)
    new, _, _ = place_by_moves(inst, reach, offer_roles(inst), allocation,
                               np.zeros(inst.students.n, dtype=bool), "after_total", 20,
                               convert=convert)
    return new


def test_a_single_turns_split_to_place_one_more(tmp_path: Path) -> None:
    inst, allocation = _conversion_case(tmp_path)
    # Moves of the same kind cannot help: S's holder has no other two-week offer.
    assert (_moves(inst, allocation, convert=False) == allocation).all()
    new = _moves(inst, allocation, convert=True)
    assert new.tolist() == [[1, 2], [0, 0]]  # H splits over W1 and W2, U takes S
    assert check_week(inst, new) == []


def _pair_case(tmp_path: Path, members: bool) -> tuple[Instance, np.ndarray]:
    """H holds S, U reaches only S; H also reaches the pair (A, B) (2 seats each week,
    minimum group 2), which G1 and G2 fill halfway (one per direction) when `members`."""
    students = [{"student_id": "H", **near(0.02)}, {"student_id": "U", **near(-0.04)},
                {"student_id": "G1", **near(0.05)}, {"student_id": "G2", **near(0.05)}]
    offers = [{"offer_id": "S", "capacity": 1, **near(-0.01)},
              {"offer_id": "A", "capacity": 2, "pair_id": "M", "min_group": 2, **near(0.05)},
              {"offer_id": "B", "capacity": 2, "pair_id": "M", "min_group": 2, **near(0.05)}]
    inst = load_instance(make_scenario(tmp_path, students, offers, folder=f"m{members}"))
    allocation = inst.fixed.copy()
    allocation[0] = (0, 0)
    if members:
        allocation[2], allocation[3] = (1, 2), (2, 1)
    return inst, allocation


def test_a_single_joins_an_open_pair_to_place_one_more(tmp_path: Path) -> None:
    inst, allocation = _pair_case(tmp_path, members=True)
    assert check_week(inst, allocation) == []
    new = _moves(inst, allocation, convert=True)
    assert new[1].tolist() == [0, 0]  # U takes S
    assert sorted(new[0].tolist()) == [1, 2]  # H joins the pair, in either direction
    assert check_week(inst, new) == []


def test_a_single_never_opens_a_pair_below_its_minimum_group(tmp_path: Path) -> None:
    inst, allocation = _pair_case(tmp_path, members=False)
    new = _moves(inst, allocation, convert=True)
    assert new[:2].tolist() == [[0, 0], [-1, -1]]


def test_a_signed_single_never_turns_split(tmp_path: Path) -> None:
    inst, allocation = _conversion_case(tmp_path, signed=True)
    new = _moves(inst, allocation, convert=True)
    assert new.tolist() == [[0, 0], [-1, -1]]


FAST = settings(deadline=None, database=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    case = random_case(draw, n_students=(4, 14), n_offers=(3, 8))
    case["rules"] = {"split_two_week_offers": False}
    return case


@FAST
@given(case=cases())
def test_moves_keep_every_week_and_every_rule(case: dict[str, Any]) -> None:
    """From the nearest-seat allocation, chains of moves (with conversions) give a valid
    allocation where no pupil has fewer weeks, signed weeks are untouched, and the placement
    levels never go down."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    roles = offer_roles(inst)
    cands = build_candidates(inst, reach, allowed_pairs(inst, reach), roles, NO_PRUNING)
    allocation = greedy_allocation(StartInputs(inst, roles, cands, reach))
    assert check_week(inst, allocation) == []
    new = _moves(inst, allocation, convert=True)
    assert check_week(inst, new) == []
    assert ((new >= 0).sum(axis=1) >= (allocation >= 0).sum(axis=1)).all()
    signed = inst.fixed >= 0
    assert (new[signed] == inst.fixed[signed]).all()
    assert lexicographic_score(inst, new)[:2] >= lexicographic_score(inst, allocation)[:2]
