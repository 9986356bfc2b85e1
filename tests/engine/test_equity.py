"""The `[equity]` rules: max-min among schools or territories, short trips for priority pupils.

Each rule is shown changing the outcome on a small hand-built case where it must, and never
breaking a hard rule on random cases (the independent checker runs on every solve).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from conftest import (
    CAEN,
    PUBLIC,
    SCHOOL,
    make_scenario,
    near,
    point_at,
    random_case,
    solve_cli,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.engine.equity import group_index, group_rates
from affectation.travel.loading import load_instance

OTHER_SCHOOL = "0140013N"
CAR = {"speed_kmh": 50.0, "detour": 1.3, "access_minutes": 5.0, "max_minutes": 60.0}
SAINT_LO = {"lat": 49.116, "lon": -1.091}


def _school_case(tmp_path: Path, equity: dict[str, Any] | None, swap: bool = False) -> Path:
    """X (1 seat) is reachable by a1 and b1 only, Y (1 seat) by a2 only: two pupils can be
    placed. a2 and one of a1/b1 are in school A, the other in school B (`swap` exchanges a1's
    and b1's schools). Max-min must give X to the pupil of school B (A 50 %, B 100 %)."""
    school = {"a1": OTHER_SCHOOL if swap else SCHOOL, "b1": SCHOOL if swap else OTHER_SCHOOL}
    students = [
        {"student_id": "a1", "school_id": school["a1"], **near(0.01)},
        {"student_id": "a2", **near(-0.09)},
        {"student_id": "b1", "school_id": school["b1"], **near(0.02)},
    ]
    offers = [
        {"offer_id": "X", "capacity": 1, **near()},
        {"offer_id": "Y", "capacity": 1, **near(-0.09)},
    ]
    folder = ("on" if equity else "off") + ("-swap" if swap else "")
    return make_scenario(tmp_path, students, offers, equity=equity, folder=folder)


def test_max_min_schools_gives_the_contested_seat_to_the_school_left_out(tmp_path: Path
                                                                         ) -> None:
    # Without the rule, schools play no part: the same pupil gets X whatever the labels.
    off = [solve_cli(_school_case(tmp_path, None, swap)) for swap in (False, True)]
    assert off[0].rows["a1"]["week1_offer_id"] == off[1].rows["a1"]["week1_offer_id"]
    rule = {"max_min_schools": True}
    on = [solve_cli(_school_case(tmp_path, rule, swap)) for swap in (False, True)]
    # With it, X follows the school left out: so it changed one of the two outcomes.
    assert on[0].weeks("b1") == ("X", "X") and on[0].kind("a1") == "unplaced"
    assert on[1].weeks("a1") == ("X", "X") and on[1].kind("b1") == "unplaced"
    for result in on:
        assert result.weeks("a2") == ("Y", "Y")
        assert result.summary["placed_full"] == 2  # no placement lost
        eq = result.summary["equity"]
        assert eq["groups"] == "school" and eq["lowest_rate_after"] == 0.5
        assert eq["placed_full_after"] >= eq["placed_full_before"] == 2
        assert eq["newly_placed_full"] == eq["no_longer_placed_full"]
    assert on[0].reason("a1")


def test_max_min_level_before_total_is_accepted_and_costs_nothing_here(tmp_path: Path
                                                                       ) -> None:
    on = solve_cli(_school_case(tmp_path, {"max_min_schools": True,
                                           "max_min_level": "before_total"}))
    assert on.summary["equity"]["level"] == "before_total"
    assert on.summary["placed_full"] == 2 and on.kind("b1") == "single"


def _split_case(tmp_path: Path, level: str) -> Path:
    """One-week offers on a line (km east of Caen): V2 (week 2) at 0, U1 (week 1) at 6, V1
    (week 2) at 12, U2 (week 1) at 18, one seat each. a1 (at 3 km) can only split U1 + V2, a2
    (15 km) U2 + V1, b1 (9 km, school B) U1 + V1; a3 (school A, 40 km south) has W alone.
    Placing b1 blocks both a1 and a2: the most pupils (3) leave school B at 0 %; school B
    placed costs one placement (2 placed, rates 1/3 and 1)."""
    def at(km: float) -> dict[str, float]:
        return point_at(CAEN[0], CAEN[1], km) if km else near()

    students = [{"student_id": "a1", **at(3)}, {"student_id": "a2", **at(15)},
                {"student_id": "b1", "school_id": OTHER_SCHOOL, **at(9)},
                {"student_id": "a3", **point_at(CAEN[0], CAEN[1], 40, azimuth=180)}]
    offers = [{"offer_id": "V2", "capacity": 1, "period": 2, **at(0)},
              {"offer_id": "U1", "capacity": 1, "period": 1, **at(6)},
              {"offer_id": "V1", "capacity": 1, "period": 2, **at(12)},
              {"offer_id": "U2", "capacity": 1, "period": 1, **at(18)},
              {"offer_id": "W", "capacity": 1, **point_at(CAEN[0], CAEN[1], 40, azimuth=180)}]
    return make_scenario(tmp_path, students, offers, folder=level,
                         equity={"max_min_schools": True, "max_min_level": level})


def test_max_min_before_total_may_cost_placements_after_total_never(tmp_path: Path) -> None:
    after = solve_cli(_split_case(tmp_path, "after_total"))
    assert after.weeks("a1") == ("U1", "V2") and after.weeks("a2") == ("U2", "V1")
    assert after.kind("b1") == "unplaced" and after.summary["placed_full"] == 3
    before = solve_cli(_split_case(tmp_path, "before_total"))
    assert before.weeks("b1") == ("U1", "V1") and before.weeks("a3") == ("W", "W")
    assert before.summary["placed_full"] == 2  # the cost of the rule: one placement
    assert {before.kind("a1"), before.kind("a2")} == {"partial"}


def _department_case(tmp_path: Path, equity: dict[str, Any] | None) -> Path:
    """Homes in Caen (Calvados) and Saint-Lô (Manche), by car; X between them, nearer Caen.
    a1 (Caen, car) reaches X and Y; a2 (Caen, public transport) only Y; b1 (Saint-Lô) only
    X. Max-min by département must place b1 (Manche) at X and a2 at Y."""
    x = {"lat": 49.155, "lon": -0.68}
    students = [
        {"student_id": "a1", "mode": "car", **near()},
        {"student_id": "a2", "mode": "public", **near()},
        {"student_id": "b1", "mode": "car", **SAINT_LO},
    ]
    offers = [{"offer_id": "X", "capacity": 1, **x}, {"offer_id": "Y", "capacity": 1, **near()}]
    return make_scenario(tmp_path, students, offers, modes={"public": PUBLIC, "car": CAR},
                         equity=equity, folder="on" if equity else "off")


def test_max_min_departments_levels_the_territories_of_homes(tmp_path: Path) -> None:
    on = solve_cli(_department_case(tmp_path, {"max_min_territories": "department"}))
    assert on.weeks("b1") == ("X", "X") and on.weeks("a2") == ("Y", "Y")
    assert on.summary["equity"]["groups"] == "department"
    assert on.summary["equity"]["lowest_rate_after"] == 0.5


def test_group_index_finds_the_departement_of_each_home(tmp_path: Path) -> None:
    instance = load_instance(_department_case(tmp_path, None))
    group, names = group_index(instance, "department")
    assert [names[g] for g in group] == ["14", "14", "50"]
    allocation = np.array([[0, 0], [1, 1], [-1, -1]])
    rates = group_rates(instance, allocation, group, len(names))
    assert rates.tolist() == [1.0, 0.0]


def _trips_case(tmp_path: Path, weight: float | None) -> Path:
    """N and F are 5 km apart on a line; p (priority) is 1.167 km from N, q 0.5 km.
    Total minutes favour q at N (q saves 15 minutes there, p only 10): without the rule p
    travels to F; with each of p's minutes counting double (20 > 15) p gets N."""
    def at(km: float) -> dict[str, float]:
        return point_at(CAEN[0], CAEN[1], km) if km else near()

    students = [{"student_id": "p", "priority": True, **at(1.167)},
                {"student_id": "q", **at(0.5)}]
    offers = [{"offer_id": "N", "capacity": 1, **at(0.0)},
              {"offer_id": "F", "capacity": 1, **at(5.0)}]
    equity = None if weight is None else {"short_trips_for_priority": weight}
    return make_scenario(tmp_path, students, offers, equity=equity,
                         folder="off" if weight is None else f"w{weight}")


def test_short_trips_for_priority_gives_the_priority_pupil_the_near_offer(tmp_path: Path
                                                                          ) -> None:
    assert solve_cli(_trips_case(tmp_path, None)).weeks("p") == ("F", "F")
    assert solve_cli(_trips_case(tmp_path, 1.0)).weeks("p") == ("F", "F")
    assert solve_cli(_trips_case(tmp_path, 2.0)).weeks("p") == ("N", "N")


@st.composite
def cases_with_schools(draw: Any) -> dict[str, Any]:

    case = random_case(draw)
    for s in case["students"]:
        s["school_id"] = draw(st.sampled_from(["0140052F", OTHER_SCHOOL, "0141274T"]))
    case["equity"] = draw(st.sampled_from([
        {"max_min_schools": True},
        {"max_min_schools": True, "max_min_level": "before_total"},
        {"max_min_territories": "department", "short_trips_for_priority": 3.0},
    ]))
    return case


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases_with_schools())
def test_equity_rules_never_break_a_hard_rule(tmp_path: Path, case: dict[str, Any]) -> None:
    out = solve_cli(make_scenario(tmp_path, **case), time_limit=2.0)  # checker runs inside
    eq = out.summary.get("equity")
    if eq is not None:
        assert eq["placed_full_after"] >= eq["placed_full_before"]
        assert eq["lowest_rate_after"] >= eq["lowest_rate_before"]
