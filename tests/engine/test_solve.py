"""The solver on small hand-built scenarios: each rule alone, where it changes the outcome and
where it leaves a pupil partial or unplaced (never a violation). Every result goes through the
CLI and the independent checker (`solve_cli`).

Travel (conftest `PUBLIC`): 5 min access + 1.25 * km / 20 km/h, limit 30 min, i.e. 6.67 km.
0.01 degree of latitude is 1.11 km (9.2 min), 0.1 degree is 11.1 km (46.7 min: out of reach).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import CAR, PUBLIC, crowfly_minutes, make_scenario, near, solve_cli

from affectation.engine.solve import SolveSettings, solve
from affectation.travel.loading import load_instance

FAR = 0.1  # degrees of latitude: beyond 30 min by public transport, within 30 min by car


def pupil(sid: str, dlat: float = 0.0, dlon: float = 0.0, **extra) -> dict:
    return {"student_id": sid, **near(dlat, dlon), **extra}


def offer(oid: str, capacity: int = 1, period: int = 0, dlat: float = 0.0, dlon: float = 0.0,
          **extra) -> dict:
    return {"offer_id": oid, "capacity": capacity, "period": period, **near(dlat, dlon), **extra}


# -- capacity ---------------------------------------------------------------------------------


def test_capacity_leaves_one_pupil_unplaced(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.01), pupil("S3", -0.01)],
                         offers=[offer("O1", capacity=2, dlon=0.01)])
    res = solve_cli(path)
    kinds = sorted(res.kind(s) for s in ("S1", "S2", "S3"))
    assert kinds == ["single", "single", "unplaced"]
    (left,) = [s for s in res.order if res.kind(s) == "unplaced"]
    assert res.weeks(left) == ("", "")
    assert "complète" in res.reason(left)
    assert res.summary["placed_full"] == 2 and res.summary["unplaced"] == 1
    assert res.summary["upper_bound_full"] == 2


def test_capacity_large_enough_places_everyone(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.01), pupil("S3", -0.01)],
                         offers=[offer("O1", capacity=3, dlon=0.01)])
    res = solve_cli(path)
    assert all(res.weeks(s) == ("O1", "O1") and res.kind(s) == "single" for s in res.order)


def test_capacity_is_per_week(tmp_path: Path) -> None:
    """Capacity 1 a week: one pupil in week 1 and another in week 2 of one-week offers."""
    path = make_scenario(
        tmp_path, students=[pupil("S1"), pupil("S2", 0.01)],
        offers=[offer("A", 1, period=1, dlat=0.01), offer("B", 1, period=2, dlat=-0.01),
                offer("C", 1, period=1, dlon=0.01), offer("D", 1, period=2, dlon=-0.01)])
    res = solve_cli(path)
    assert {res.kind("S1"), res.kind("S2")} == {"split"}
    assert {res.weeks("S1")[0], res.weeks("S2")[0]} == {"A", "C"}
    assert {res.weeks("S1")[1], res.weeks("S2")[1]} == {"B", "D"}


# -- period -----------------------------------------------------------------------------------


def test_week1_and_week2_offers_make_a_split(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("W1", period=1, dlat=0.01),
                                 offer("W2", period=2, dlat=-0.01)])
    res = solve_cli(path)
    assert res.weeks("S1") == ("W1", "W2")
    assert res.kind("S1") == "split"
    assert res.rows["S1"]["reason"] == ""


def test_one_week_offer_only_gives_partial(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("W1", capacity=3, period=1, dlat=0.01)])
    res = solve_cli(path)
    assert res.weeks("S1") == ("W1", "")
    assert res.kind("S1") == "partial"
    assert "semaine 2" in res.reason("S1")


def test_week2_offer_never_used_in_week1(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2")],
                         offers=[offer("W2", capacity=2, period=2, dlat=0.01)])
    res = solve_cli(path)
    for s in ("S1", "S2"):
        assert res.weeks(s) == ("", "W2")
        assert res.kind(s) == "partial"
        assert "semaine 1" in res.reason(s)


def test_period_mix_one_single_one_split(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.01)],
                         offers=[offer("B", 1, period=0, dlat=0.02),
                                 offer("W1", 1, period=1, dlon=0.01),
                                 offer("W2", 1, period=2, dlon=-0.01)])
    res = solve_cli(path)
    assert sorted(res.kind(s) for s in ("S1", "S2")) == ["single", "split"]
    assert res.summary["placed_full"] == 2


# -- split_two_week_offers --------------------------------------------------------------------


def _split_rule_case(tmp_path: Path, split: bool) -> Path:
    """S1 has week 2 signed at a week-2 offer; the only week-1 option is a two-week offer."""
    return make_scenario(
        tmp_path, students=[pupil("S1")],
        offers=[offer("B", 1, period=0, dlat=0.01), offer("C", 1, period=2, dlat=-0.01)],
        conventions=[{"student_id": "S1", "offer_id": "C", "week": ""}],
        rules={"split_two_week_offers": split}, folder=f"split-{split}")


def test_split_rule_off_forbids_one_week_at_two_week_offer(tmp_path: Path) -> None:
    res = solve_cli(_split_rule_case(tmp_path, split=False))
    assert res.weeks("S1") == ("", "C")
    assert res.kind("S1") == "partial"
    assert "split_two_week_offers" in res.reason("S1")


def test_split_rule_on_allows_one_week_at_two_week_offer(tmp_path: Path) -> None:
    res = solve_cli(_split_rule_case(tmp_path, split=True))
    assert res.weeks("S1") == ("B", "C")
    assert res.kind("S1") == "split"


def _split_rule_partial_case(tmp_path: Path, split: bool) -> Path:
    """B's week 2 is signed by S2 (who signed week 1 elsewhere): only B's week 1 is left."""
    return make_scenario(
        tmp_path, students=[pupil("S1"), pupil("S2", 0.01)],
        offers=[offer("B", 1, period=0, dlat=0.01), offer("A", 1, period=1, dlon=0.01)],
        conventions=[{"student_id": "S2", "offer_id": "A", "week": 1},
                     {"student_id": "S2", "offer_id": "B", "week": 2}],
        rules={"split_two_week_offers": split}, folder=f"partial-{split}")


def test_split_rule_off_leaves_pupil_unplaced_rather_than_one_week_at_two_week_offer(
        tmp_path: Path) -> None:
    res = solve_cli(_split_rule_partial_case(tmp_path, split=False))
    assert res.weeks("S2") == ("A", "B")
    assert res.weeks("S1") == ("", "")
    assert res.kind("S1") == "unplaced"


def test_split_rule_on_gives_partial_at_two_week_offer(tmp_path: Path) -> None:
    res = solve_cli(_split_rule_partial_case(tmp_path, split=True))
    assert res.weeks("S2") == ("A", "B")
    assert res.weeks("S1") == ("B", "")
    assert res.kind("S1") == "partial"


# -- reserved offers --------------------------------------------------------------------------


def test_reserved_offer_only_for_priority_pupils(tmp_path: Path) -> None:
    path = make_scenario(tmp_path,
                         students=[pupil("N1", priority=False), pupil("P1", 0.01, priority=True)],
                         offers=[offer("R", capacity=2, dlon=0.01, reserved=True)])
    res = solve_cli(path)
    assert res.weeks("P1") == ("R", "R")
    assert res.weeks("N1") == ("", "")
    assert res.kind("N1") == "unplaced"
    assert "réservées" in res.reason("N1")
    assert res.summary["priority_placed_full"] == 1
    assert res.summary["priority_students"] == 1


def test_reserved_offer_left_empty_rather_than_given_to_non_priority(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("N1"), pupil("N2", 0.01)],
                         offers=[offer("R", capacity=2, reserved=True),
                                 offer("O", capacity=1, dlat=0.03)])
    res = solve_cli(path)
    assert sorted(res.kind(s) for s in ("N1", "N2")) == ["single", "unplaced"]
    assert "R" not in {w for s in res.order for w in res.weeks(s)}


def test_without_reserved_flag_both_placed(tmp_path: Path) -> None:
    path = make_scenario(tmp_path,
                         students=[pupil("N1", priority=False), pupil("P1", 0.01, priority=True)],
                         offers=[offer("R", capacity=2, dlon=0.01, reserved=False)])
    res = solve_cli(path)
    assert res.weeks("P1") == ("R", "R") and res.weeks("N1") == ("R", "R")


def test_priority_pupil_may_use_ordinary_offers(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("P1", priority=True)],
                         offers=[offer("O", capacity=1, dlon=0.01)])
    assert solve_cli(path).weeks("P1") == ("O", "O")


# -- travel limit -----------------------------------------------------------------------------


def test_offer_beyond_travel_limit_is_never_used(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("FAR", capacity=5, dlat=FAR)])
    assert crowfly_minutes(*near().values(), *near(FAR).values(), PUBLIC) > 30
    res = solve_cli(path)
    assert res.weeks("S1") == ("", "")
    assert res.kind("S1") == "unplaced"
    reason = res.reason("S1")
    assert "30 min" in reason and "transports en commun" in reason
    # The nearest offer's travel time is given (rounded; French decimal comma allowed).
    nearest = crowfly_minutes(*near().values(), *near(FAR).values(), PUBLIC)
    found = re.findall(r"(\d+(?:[.,]\d+)?) min", reason)
    assert any(abs(float(x.replace(",", ".")) - nearest) <= 0.5 for x in found), reason


def test_travel_limit_picks_the_reachable_offer(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[offer("FAR", capacity=5, dlat=FAR),
                                 offer("NEAR", capacity=1, dlat=0.04)])
    res = solve_cli(path)
    assert sorted(res.weeks(s) for s in ("S1", "S2")) == [("", ""), ("NEAR", "NEAR")]


def test_car_mode_reaches_further(tmp_path: Path) -> None:
    assert crowfly_minutes(*near().values(), *near(FAR).values(), CAR) < 30
    path = make_scenario(tmp_path, students=[pupil("PUB", mode="public"), pupil("CAR", mode="car")],
                         offers=[offer("FAR", capacity=5, dlat=FAR)])
    res = solve_cli(path)
    assert res.weeks("CAR") == ("FAR", "FAR")
    assert res.weeks("PUB") == ("", "")
    assert float(res.rows["CAR"]["week1_minutes"]) == pytest.approx(
        crowfly_minutes(*near().values(), *near(FAR).values(), CAR), abs=0.051)


def test_pupil_max_minutes_tighter_than_mode(tmp_path: Path) -> None:
    minutes = crowfly_minutes(*near().values(), *near(0.03).values(), PUBLIC)
    assert 15 < minutes < 20
    path = make_scenario(
        tmp_path,
        students=[pupil("TIGHT", max_minutes=15), pupil("OK", max_minutes=20),
                  pupil("LOOSE", max_minutes=90)],
        offers=[offer("O", capacity=5, dlat=0.03), offer("FAR", capacity=5, dlat=FAR)])
    res = solve_cli(path)
    assert res.weeks("TIGHT") == ("", "")
    assert "15 min" in res.reason("TIGHT")
    assert res.weeks("OK") == ("O", "O")
    # A pupil's own limit never loosens the mode's.
    assert res.weeks("LOOSE") == ("O", "O")


def test_pupil_own_limit_does_not_loosen_mode(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("LOOSE", max_minutes=90)],
                         offers=[offer("FAR", capacity=5, dlat=FAR)])
    res = solve_cli(path)
    assert res.weeks("LOOSE") == ("", "")
    assert "30 min" in res.reason("LOOSE")


# -- mutualised pairs -------------------------------------------------------------------------


def pair_offers(cap_a: int = 1, cap_b: int = 1, min_group: int | None = None,
                period_a: int = 0, period_b: int = 0) -> list[dict]:
    extra = {} if min_group is None else {"min_group": min_group}
    return [offer("PA", cap_a, period_a, dlat=0.01, pair_id="M", **extra),
            offer("PB", cap_b, period_b, dlat=-0.01, pair_id="M", **extra)]


def test_mutualised_pair_one_week_at_each_offer(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")], offers=pair_offers(2, 2))
    res = solve_cli(path)
    assert set(res.weeks("S1")) == {"PA", "PB"}
    assert res.kind("S1") == "mutualised"


def test_mutualised_pair_uses_both_directions_when_capacity_forces_it(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=pair_offers(1, 1))
    res = solve_cli(path)
    assert {res.weeks("S1"), res.weeks("S2")} == {("PA", "PB"), ("PB", "PA")}
    assert res.kind("S1") == res.kind("S2") == "mutualised"


def test_mutualised_pair_direction_follows_periods(tmp_path: Path) -> None:
    """PA runs week 1 only, PB week 2 only: the only direction is PA then PB."""
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=pair_offers(1, 1, period_a=1, period_b=2))
    res = solve_cli(path)
    assert sorted([res.weeks("S1"), res.weeks("S2")]) == [("", ""), ("PA", "PB")]


def test_pair_full_leaves_third_pupil_unplaced(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005), pupil("S3", -0.005)],
                         offers=pair_offers(1, 1))
    res = solve_cli(path)
    assert sorted(res.kind(s) for s in res.order) == ["mutualised", "mutualised", "unplaced"]


def test_paired_offer_hosts_only_pupils_of_its_pair(tmp_path: Path) -> None:
    """PB is out of S1's reach: PA alone may not host S1, even as a partial placement."""
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("PA", 3, dlat=0.01, pair_id="M"),
                                 offer("PB", 3, dlat=FAR, pair_id="M")])
    res = solve_cli(path)
    assert res.weeks("S1") == ("", "")
    assert res.kind("S1") == "unplaced"


def test_reserved_pair_member_needs_priority(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("N1"), pupil("P1", 0.005, priority=True)],
                         offers=[offer("PA", 2, dlat=0.01, pair_id="M", reserved=True),
                                 offer("PB", 2, dlat=-0.01, pair_id="M")])
    res = solve_cli(path)
    assert res.kind("P1") == "mutualised"
    assert res.weeks("N1") == ("", "")


# -- min_group --------------------------------------------------------------------------------


def test_min_group_not_reached_keeps_pair_empty(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=pair_offers(2, 2, min_group=3))
    res = solve_cli(path)
    for s in ("S1", "S2"):
        assert res.weeks(s) == ("", "")
        assert res.kind(s) == "unplaced"
        assert "minimum" in res.reason(s)


def test_min_group_reached_places_all_three(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005), pupil("S3", -0.005)],
                         offers=pair_offers(2, 2, min_group=3))
    res = solve_cli(path)
    weeks = sorted(res.weeks(s) for s in ("S1", "S2", "S3"))
    assert all(res.kind(s) == "mutualised" for s in ("S1", "S2", "S3"))
    # Two seats a week at each offer: both directions are needed.
    assert weeks.count(("PA", "PB")) in (1, 2) and weeks.count(("PB", "PA")) in (1, 2)


def test_min_group_larger_value_of_the_two_offers_applies(tmp_path: Path) -> None:
    offers = [offer("PA", 2, dlat=0.01, pair_id="M", min_group=2),
              offer("PB", 2, dlat=-0.01, pair_id="M", min_group=3)]
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)], offers=offers)
    res = solve_cli(path)
    assert res.weeks("S1") == res.weeks("S2") == ("", "")


def test_min_group_not_reached_pupils_go_elsewhere(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[*pair_offers(2, 2, min_group=3), offer("O", 2, dlon=0.03)])
    res = solve_cli(path)
    assert res.weeks("S1") == res.weeks("S2") == ("O", "O")


# -- conventions ------------------------------------------------------------------------------


def test_convention_beyond_travel_limit_is_kept(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[offer("FAR", 2, dlat=FAR), offer("O", 1, dlon=0.01)],
                         conventions=[{"student_id": "S1", "offer_id": "FAR"}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("FAR", "FAR")
    assert res.kind("S1") == "single"
    assert float(res.rows["S1"]["week1_minutes"]) > 30
    # The other seat at FAR is out of S2's reach.
    assert res.weeks("S2") == ("O", "O")


def test_one_week_convention_on_one_week_offer_is_completed(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("A", 1, period=1, dlat=0.01),
                                 offer("C", 1, period=2, dlat=-0.01)],
                         conventions=[{"student_id": "S1", "offer_id": "A"}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("A", "C")
    assert res.kind("S1") == "split"


def test_one_week_convention_at_two_week_offer_extended_to_single(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("B", 1, period=0, dlat=0.03),
                                 offer("C", 1, period=2, dlat=-0.01)],
                         conventions=[{"student_id": "S1", "offer_id": "B", "week": 1}])
    res = solve_cli(path)
    # Single rather than split (fewer splits), although C is nearer.
    assert res.weeks("S1") == ("B", "B")
    assert res.kind("S1") == "single"


def test_convention_is_never_moved_for_a_priority_pupil(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("P1", 0.005, priority=True)],
                         offers=[offer("O", 1, dlon=0.01)],
                         conventions=[{"student_id": "S1", "offer_id": "O"}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("O", "O")
    assert res.weeks("P1") == ("", "")
    assert res.summary["priority_placed_full"] == 0


def test_one_week_convention_other_week_left_empty_reason_says_signed(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("A", 1, period=1, dlat=0.01)],
                         conventions=[{"student_id": "S1", "offer_id": "A", "week": 1}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("A", "")
    assert res.kind("S1") == "partial"
    assert "convention" in res.reason("S1")


def test_convention_on_pair_keeps_both_weeks(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=pair_offers(1, 1),
                         conventions=[{"student_id": "S1", "offer_id": "PB", "week": 1}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("PB", "PA")
    assert res.weeks("S2") == ("PA", "PB")


def test_convention_opens_pair_and_min_group_is_filled(tmp_path: Path) -> None:
    """A signed week in a pair with min_group 3: two more pupils must join it, although a
    nearer two-week offer could host them."""
    path = make_scenario(
        tmp_path, students=[pupil("S1"), pupil("S2", 0.005), pupil("S3", -0.005)],
        offers=[*pair_offers(2, 2, min_group=3), offer("O", 2, dlat=0.002)],
        conventions=[{"student_id": "S1", "offer_id": "PA", "week": 1}])
    res = solve_cli(path)
    assert res.weeks("S1") == ("PA", "PB")
    assert all(res.kind(s) == "mutualised" for s in ("S1", "S2", "S3"))


# -- objective order --------------------------------------------------------------------------


def test_priority_pupil_gets_the_only_seat(tmp_path: Path) -> None:
    # The non-priority pupil comes first in the input and is nearer the offer.
    path = make_scenario(tmp_path, students=[pupil("N1", 0.01), pupil("P1", -0.02, priority=True)],
                         offers=[offer("O", 1, dlat=0.01)])
    res = solve_cli(path)
    assert res.weeks("P1") == ("O", "O")
    assert res.kind("N1") == "unplaced"
    assert res.summary["priority_placed_full"] == 1


def test_priority_full_before_two_non_priority_full(tmp_path: Path) -> None:
    """One priority pupil placed for both weeks outweighs two other pupils placed.

    P1 reaches only W1A and W2A; N1 needs W1A (with W2B, out of P1's reach, in the west) and
    N2 needs W2A (with W1B in the east). Placing N1 and N2 leaves P1 with nothing.
    """
    path = make_scenario(
        tmp_path,
        students=[pupil("N1", 0.0, -0.04), pupil("N2", 0.0, 0.04),
                  pupil("P1", 0.0, 0.0, priority=True)],
        offers=[offer("W1A", 1, period=1), offer("W2A", 1, period=2),
                offer("W1B", 1, period=1, dlon=0.10), offer("W2B", 1, period=2, dlon=-0.10)])
    res = solve_cli(path)
    assert res.weeks("P1") == ("W1A", "W2A")
    assert res.weeks("N1") == ("", "W2B")
    assert res.weeks("N2") == ("W1B", "")
    assert res.summary["placed_full"] == 1 and res.summary["placed_partial"] == 2


def test_full_placement_before_priority_partial(tmp_path: Path) -> None:
    """The second level: placing two pupils for both weeks beats one of them partially."""
    path = make_scenario(
        tmp_path, students=[pupil("S1"), pupil("S2", 0.01)],
        offers=[offer("W1", 2, period=1, dlat=0.01), offer("W2", 2, period=2, dlat=-0.01)])
    res = solve_cli(path)
    assert res.kind("S1") == res.kind("S2") == "split"


def test_single_preferred_to_split(tmp_path: Path) -> None:
    # The one-week offers are nearer than the two-week one: travel alone would choose a split.
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("B", 1, period=0, dlat=0.04),
                                 offer("W1", 1, period=1, dlat=0.005),
                                 offer("W2", 1, period=2, dlat=-0.005)])
    res = solve_cli(path)
    assert res.weeks("S1") == ("B", "B")
    assert res.kind("S1") == "single"


def test_fewer_splits_with_two_pupils(tmp_path: Path) -> None:
    """Two pupils, two two-week seats and one split possible: no split is needed."""
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[offer("B1", 1, dlat=0.04), offer("B2", 1, dlon=0.05),
                                 offer("W1", 1, period=1, dlat=0.005),
                                 offer("W2", 1, period=2, dlat=-0.005)])
    res = solve_cli(path)
    assert res.kind("S1") == res.kind("S2") == "single"
    assert res.summary["by_kind"]["split"] == 0


def test_partial_rather_than_none(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[offer("W1", 2, period=1, dlat=0.01),
                                 offer("W2", 1, period=2, dlat=-0.01)])
    res = solve_cli(path)
    assert sorted(res.kind(s) for s in ("S1", "S2")) == ["partial", "split"]
    (part,) = [s for s in ("S1", "S2") if res.kind(s) == "partial"]
    assert res.weeks(part) == ("W1", "")
    assert "semaine 1" in res.reason(part) and "semaine 2" in res.reason(part)
    assert res.summary["placed_partial"] == 1


def test_full_for_one_rather_than_partial_for_two(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.005)],
                         offers=[offer("W1", 1, period=1, dlat=0.01),
                                 offer("W2", 1, period=2, dlat=-0.01)])
    res = solve_cli(path)
    assert sorted(res.kind(s) for s in ("S1", "S2")) == ["split", "unplaced"]


# -- sectors, then travel (levels 5 and 6) -----------------------------------------------------


def test_preferred_sector_before_travel(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1", sectors="s7|s5")],
                         offers=[offer("NEAR", 1, dlat=0.005, sector="s3"),
                                 offer("FIRST", 1, dlat=0.04, sector="s7"),
                                 offer("SECOND", 1, dlat=0.02, sector="s5")])
    assert solve_cli(path).weeks("S1") == ("FIRST", "FIRST")


def test_nearest_offer_when_sectors_tie(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1")],
                         offers=[offer("MID", 1, dlat=0.02), offer("NEAR", 1, dlat=-0.005),
                                 offer("FAR", 1, dlat=0.04)])
    assert solve_cli(path).weeks("S1") == ("NEAR", "NEAR")


def test_nearest_offers_for_two_pupils(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1"), pupil("S2", 0.001)],
                         offers=[offer("MID", 1, dlat=0.02), offer("NEAR", 1, dlat=-0.005),
                                 offer("FAR", 1, dlat=0.04), offer("N2", 1, dlat=-0.006)])
    res = solve_cli(path)
    assert {res.weeks("S1"), res.weeks("S2")} == {("NEAR", "NEAR"), ("N2", "N2")}


def test_sectors_never_cost_a_placement(tmp_path: Path) -> None:
    """S2 can only use O; S1 prefers O's sector but has another offer: both are placed."""
    path = make_scenario(tmp_path,
                         students=[pupil("S1", sectors="s7"), pupil("S2", 0.0, 0.09)],
                         offers=[offer("O", 1, dlon=0.045, sector="s7"),
                                 offer("X", 1, dlon=-0.02, sector="s1")])
    res = solve_cli(path)
    assert res.weeks("S2") == ("O", "O")
    assert res.weeks("S1") == ("X", "X")


def test_sectors_never_cost_a_split(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[pupil("S1", sectors="s7")],
                         offers=[offer("B", 1, dlat=0.03, sector="s1"),
                                 offer("W1", 1, period=1, dlat=0.01, sector="s7"),
                                 offer("W2", 1, period=2, dlat=-0.01, sector="s7")])
    assert solve_cli(path).weeks("S1") == ("B", "B")


# -- statuses ---------------------------------------------------------------------------------


def test_self_placed_and_exempt_never_allocated(tmp_path: Path) -> None:
    path = make_scenario(
        tmp_path,
        students=[pupil("SP", status="self_placed"), pupil("EX", status="exempt"),
                  pupil("S1", 0.01)],
        offers=[offer("O", 3, dlon=0.01)])
    res = solve_cli(path)
    assert res.weeks("SP") == res.weeks("EX") == ("", "")
    assert res.kind("SP") == "self_placed" and res.kind("EX") == "exempt"
    assert res.reason("SP") == res.reason("EX") == ""
    assert res.weeks("S1") == ("O", "O")
    assert res.summary["by_kind"]["self_placed"] == 1
    assert res.summary["by_kind"]["exempt"] == 1
    assert res.summary["students"] == 3


# -- outputs ----------------------------------------------------------------------------------

MIXED = dict(
    students=[pupil("Z9", 0.01), pupil("00123", priority=True), pupil("A1", -0.01),
              pupil("m5", 0.02, status="self_placed"), pupil("B2", 0.0, 0.01, mode="car"),
              pupil("C3", FAR), pupil("D4", 0.005, 0.005)],
    offers=[offer("O1", 1, dlon=0.01), offer("W1", 2, period=1, dlat=0.01),
            offer("W2", 1, period=2, dlat=-0.01), offer("R", 1, dlat=0.02, reserved=True),
            offer("PA", 1, dlat=0.015, pair_id="M"), offer("PB", 1, dlat=-0.015, pair_id="M")],
)

SPEC_SUMMARY_KEYS = {"scenario", "students", "placed_full", "placed_partial", "unplaced",
                     "priority_students", "priority_placed_full", "by_kind", "upper_bound_full",
                     "gap", "solver_status", "wall_seconds", "seed", "engine_version", "inputs"}


def test_rows_in_input_order_with_reasons(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, **MIXED)
    res = solve_cli(path)
    assert res.order == ["Z9", "00123", "A1", "m5", "B2", "C3", "D4"]
    header = (res.out / "assignments.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == ("student_id,school_id,week1_offer_id,week2_offer_id,week1_minutes,"
                      "week2_minutes,kind,reason")
    for sid, row in res.rows.items():
        assert row["school_id"] == "0140052F"
        if row["kind"] in ("partial", "unplaced"):
            assert row["reason"], sid
        else:
            assert row["reason"] == "", sid
    assert res.kind("C3") == "unplaced"
    assert "aucune offre" in res.reason("C3")


def test_summary_has_spec_keys_and_consistent_counts(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, **MIXED, conventions=[{"student_id": "A1", "offer_id": "W1"}])
    res = solve_cli(path, seed=7)
    s = res.summary
    assert set(s) >= SPEC_SUMMARY_KEYS
    assert s["scenario"] == "test"
    assert s["students"] == 7
    assert s["seed"] == 7
    assert s["solver_status"] in ("OPTIMAL", "FEASIBLE", "FALLBACK")
    kinds = [res.kind(x) for x in res.order]
    assert s["placed_full"] == sum(k in ("single", "split", "mutualised") for k in kinds)
    assert s["placed_partial"] == kinds.count("partial")
    assert s["unplaced"] == kinds.count("unplaced")
    assert s["by_kind"] == {k: kinds.count(k) for k in s["by_kind"]}
    assert sum(s["by_kind"].values()) == 7
    assert s["priority_students"] == 1
    assert s["placed_full"] <= s["upper_bound_full"]
    assert s["gap"] == pytest.approx(1 - s["placed_full"] / s["upper_bound_full"], abs=1e-6)
    assert set(s["inputs"]) == {"scenario", "students", "offers", "conventions"}
    import hashlib

    for name, entry in s["inputs"].items():
        data = Path(entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert isinstance(s["engine_version"], str) and s["engine_version"]
    assert isinstance(s["wall_seconds"], int | float)


def test_reasons_in_english(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, **MIXED, output={"language": "en"})
    res = solve_cli(path)
    assert "no offer within 30 min" in res.reason("C3")
    assert "by public transport" in res.reason("C3")
    for sid in res.order:
        if res.kind(sid) in ("partial", "unplaced"):
            assert not any(w in res.reason(sid) for w in ("aucune", "semaine", "complètes"))


def test_same_seed_gives_identical_assignments(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, **MIXED)
    one = solve_cli(path, out=tmp_path / "one", seed=3)
    two = solve_cli(path, out=tmp_path / "two", seed=3)
    assert ((one.out / "assignments.csv").read_bytes()
            == (two.out / "assignments.csv").read_bytes())
    a, b = (json.loads((o.out / "summary.json").read_text()) for o in (one, two))
    for timing in ("wall_seconds", "timings", "cpu_seconds"):
        a.pop(timing, None)
        b.pop(timing, None)
    assert a == b


# -- the library entry point ------------------------------------------------------------------


def test_solve_api_returns_valid_week_array(tmp_path: Path) -> None:
    inst = load_instance(make_scenario(tmp_path, **MIXED))
    sol = solve(inst, SolveSettings(time_limit_s=3, seed=0, workers=1))
    assert sol.allocation.shape == (inst.students.n, 2)
    assert sol.allocation.dtype.kind == "i"
    assert np.all(sol.allocation >= -1) and np.all(sol.allocation < inst.offers.n)
    assert sol.status in ("OPTIMAL", "FEASIBLE", "FALLBACK")
    full = (sol.allocation >= 0).all(axis=1)
    assert full.sum() <= sol.upper_bound_full
    assert (full & inst.students.priority).sum() <= sol.upper_bound_priority_full
    # The self-placed pupil has nothing.
    assert tuple(sol.allocation[3]) == (-1, -1)


@pytest.mark.parametrize(("seconds_per_pair", "start"), [(None, "flows"), (1.0, "greedy")])
def test_the_start_depends_on_size_and_time_limit_not_on_the_clock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds_per_pair: float | None,
        start: str) -> None:
    import affectation.engine.solve as solve_module

    called: list[str] = []
    flows, greedy = solve_module.initial_allocation, solve_module.greedy_allocation
    monkeypatch.setattr(solve_module, "initial_allocation",
                        lambda p: called.append("flows") or flows(p))
    monkeypatch.setattr(solve_module, "greedy_allocation",
                        lambda p: called.append("greedy") or greedy(p))
    if seconds_per_pair is not None:  # as if every reachable pair took a second to flow
        monkeypatch.setattr(solve_module, "START_S_PER_PAIR", seconds_per_pair)
    inst = load_instance(make_scenario(tmp_path, **MIXED))
    solve(inst, SolveSettings(time_limit_s=3, seed=0))
    assert called == [start]


def test_small_instances_are_proved_optimal_by_highs(tmp_path: Path) -> None:
    res = solve_cli(make_scenario(tmp_path, **MIXED))
    assert res.summary["search"]["whole_model_solver"] == "highs"
    assert res.summary["solver_status"] == "OPTIMAL"


def test_a_model_with_the_max_min_level_is_left_to_cp_sat(tmp_path: Path) -> None:
    # The lowest group rate is an integer variable, not 0-1: HiGHS is not given the model.
    res = solve_cli(make_scenario(tmp_path, **MIXED, equity={"max_min_schools": True}))
    assert res.summary["search"]["whole_model_solver"] == "cp-sat"
