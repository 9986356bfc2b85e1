"""The accessibility rule (equal-opportunity issue): a pupil with `needs_accessible` only gets
offers marked `accessible` (the national platform's `handicap_accessible`). Solved through the
CLI and the independent checker (`solve_cli`), as in test_solve.

Travel (conftest `PUBLIC`): limit 30 min, i.e. 6.67 km; 0.01 degree of latitude is 9.2 min,
0.1 degree (46.7 min) is out of reach.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, near, solve_cli

from affectation.engine.candidates import usable
from affectation.errors import InputError
from affectation.travel.loading import load_instance

FAR = 0.1


def pupil(sid: str, dlat: float = 0.0, dlon: float = 0.0, **extra) -> dict:
    return {"student_id": sid, **near(dlat, dlon), **extra}


def offer(oid: str, capacity: int = 1, dlat: float = 0.0, dlon: float = 0.0, **extra) -> dict:
    return {"offer_id": oid, "capacity": capacity, **near(dlat, dlon), **extra}


def test_columns_are_optional_and_default_to_false(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2")],
                         offers=[offer("O1"), offer("O2")])
    inst = load_instance(path)
    assert inst.students.needs_accessible.dtype == bool
    assert not inst.students.needs_accessible.any()
    assert inst.offers.accessible.dtype == bool and not inst.offers.accessible.any()
    path = make_scenario(tmp_path, folder="b",
                         students=[pupil("S1", needs_accessible=True), pupil("S2")],
                         offers=[offer("O1"), offer("O2", accessible=True)])
    inst = load_instance(path)
    assert inst.students.needs_accessible.tolist() == [True, False]
    assert inst.offers.accessible.tolist() == [False, True]


def test_usable_is_elementwise(tmp_path: Path) -> None:
    path = make_scenario(
        tmp_path,
        students=[pupil("N"), pupil("A", needs_accessible=True), pupil("P", priority=True),
                  pupil("PA", priority=True, needs_accessible=True)],
        offers=[offer("O"), offer("ACC", accessible=True), offer("R", reserved=True),
                offer("RA", reserved=True, accessible=True)])
    inst = load_instance(path)
    s, o = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    expected = np.array([[True, True, False, False],   # N: no reserved
                         [False, True, False, False],  # A: accessible, not reserved
                         [True, True, True, True],     # P: everything
                         [False, True, False, True]])  # PA: accessible ones
    assert (usable(inst, s.ravel(), o.ravel()).reshape(4, 4) == expected).all()
    assert bool(usable(inst, 1, 1)) and not bool(usable(inst, 1, 0))


def test_pupil_needing_accessibility_gets_the_farther_accessible_offer(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("A", needs_accessible=True)],
                         offers=[offer("NEAR", dlon=0.005), offer("ACC", dlat=0.03,
                                                                  accessible=True)])
    res = solve_cli(path)
    assert res.weeks("A") == ("ACC", "ACC") and res.kind("A") == "single"


def test_pupil_without_the_need_takes_the_non_accessible_offer(tmp_path: Path) -> None:
    """Two pupils, two one-seat offers: only the assignment honouring the need places both."""
    path = make_scenario(tmp_path,
                         students=[pupil("A", needs_accessible=True), pupil("B", 0.01)],
                         offers=[offer("NEAR", dlon=0.005), offer("ACC", dlat=0.03,
                                                                  accessible=True)])
    res = solve_cli(path)
    assert res.weeks("A") == ("ACC", "ACC")
    assert res.weeks("B") == ("NEAR", "NEAR")
    assert res.summary["placed_full"] == 2 and res.summary["upper_bound_full"] == 2


def test_no_accessible_offer_within_reach_leaves_the_pupil_unplaced(tmp_path: Path) -> None:
    path = make_scenario(tmp_path,
                         students=[pupil("A", needs_accessible=True), pupil("B")],
                         offers=[offer("NEAR", capacity=2, dlon=0.005),
                                 offer("ACC", dlat=FAR, accessible=True)])
    res = solve_cli(path)
    assert res.kind("A") == "unplaced" and res.weeks("A") == ("", "")
    assert res.reason("A") == "aucune offre accessible (handicap) à portée " \
                              "(1 offre(s) à moins de 30 min)"
    assert res.weeks("B") == ("NEAR", "NEAR")
    assert res.summary["upper_bound_full"] == 1


def test_reason_in_english(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("A", needs_accessible=True)],
                         offers=[offer("NEAR", dlon=0.005)], output={"language": "en"})
    res = solve_cli(path)
    assert res.reason("A") == "no accessible offer (disability) within reach " \
                              "(1 offer(s) within 30 min)"


def test_accessible_offers_reserved_to_priority_pupils(tmp_path: Path) -> None:
    """The only accessible offer is reserved: the reason says so; a priority pupil gets it."""
    path = make_scenario(
        tmp_path,
        students=[pupil("A", needs_accessible=True),
                  pupil("P", 0.01, priority=True, needs_accessible=True)],
        offers=[offer("NEAR", capacity=2, dlon=0.005),
                offer("RA", capacity=2, dlat=0.02, reserved=True, accessible=True)])
    res = solve_cli(path)
    assert res.weeks("P") == ("RA", "RA")
    assert res.kind("A") == "unplaced"
    assert "les seules offres accessibles (handicap) à portée sont réservées" in res.reason("A")


def test_reserved_only_reason_unchanged_without_the_need(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("N")],
                         offers=[offer("R", reserved=True, accessible=True)])
    res = solve_cli(path)
    assert res.reason("N").startswith("seules des offres réservées aux élèves prioritaires")


def test_convention_on_a_pair_with_a_non_accessible_partner_is_an_input_error(
        tmp_path: Path) -> None:
    path = make_scenario(
        tmp_path, students=[pupil("A", needs_accessible=True)],
        offers=[offer("PA", pair_id="M", accessible=True), offer("PB", pair_id="M")],
        conventions=[{"student_id": "A", "offer_id": "PA", "week": 1}])
    with pytest.raises(InputError) as err:
        load_instance(path)
    text = str(err.value)
    assert "conventions.csv" in text and "ligne 2" in text and "PB" in text
    assert "accessible" in text
