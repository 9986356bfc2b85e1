"""Fairness audit: home communes and rurality from positions, every column of fairness.csv
against hand counts, group bounds against hand-computed and brute-force optima."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import brute_force, make_scenario, near, solve_cli, tiny_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.analysis.audit import COLUMNS, GroupBounds, fairness_table, parity_text
from affectation.domain.allocation import FULL_KINDS, classify
from affectation.domain.territory import pupil_groups, split_groups
from affectation.engine.bound import three_layer_bound
from affectation.engine.candidates import allowed_pairs
from affectation.engine.solve import SolveSettings, solve
from affectation.geodata import load_communes
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _commune(insee: str) -> dict[str, Any]:
    communes = load_communes()
    return communes[communes["insee"] == insee].iloc[0].to_dict()


def test_home_commune_epci_department_and_rurality_from_positions(tmp_path: Path) -> None:
    agy = _commune("14003")  # Agy, 292 inhabitants
    caen = _commune("14118")
    assert agy["population"] < 2000 <= caen["population"]
    path = make_scenario(tmp_path, students=[
        {"student_id": "CAEN", "lat": 49.18, "lon": -0.37},
        {"student_id": "AGY", "lat": agy["lat"] + 0.001, "lon": agy["lon"]},
        {"student_id": "LYON", "lat": 45.76, "lon": 4.84},
        {"student_id": "PARIS", "lat": 48.85, "lon": 2.35},
    ], offers=[{"offer_id": "O", "capacity": 1}])
    groups = pupil_groups(load_instance(path))
    assert list(groups["commune"]) == ["14118", "14003", "", ""]
    assert list(groups["epci"]) == [caen["epci_siren"], agy["epci_siren"], "hors Normandie",
                                    "hors Normandie"]
    assert caen["epci_siren"] != agy["epci_siren"]
    assert list(groups["department"]) == ["14", "14", "autre", "autre"]
    assert list(groups["rurality"]) == ["urbain", "rural", "hors Normandie", "hors Normandie"]


def _read_fairness(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def _hand_case(tmp_path: Path) -> Path:
    """Three pupils of school A and three of school B near Caen (radius 6.67 km).

    O1 (2 seats) is within reach of everyone near Caen, O2 (1 seat) is reserved, O3 (1 seat)
    is 22 km east, within reach of S5 only; S6 is 55 km south, with no offer within reach.
    """
    a, b = "0140052F", "0141275K"
    students = [
        {"student_id": "S1", "school_id": a},
        {"student_id": "S2", "school_id": a, **near(0.005)},
        {"student_id": "S3", "school_id": a, **near(-0.005)},
        {"student_id": "S4", "school_id": b, "priority": True},
        {"student_id": "S5", "school_id": b, **near(0, 0.3)},
        {"student_id": "S6", "school_id": b, **near(-0.5)},
        {"student_id": "S7", "school_id": a, "status": "self_placed"},
        {"student_id": "S8", "school_id": "0610018N", "status": "exempt", **near(-0.5)},
    ]
    offers = [
        {"offer_id": "O1", "capacity": 2, **near(0.01)},
        {"offer_id": "O2", "capacity": 1, "reserved": True, **near(0.02)},
        {"offer_id": "O3", "capacity": 1, **near(0, 0.31)},
    ]
    return make_scenario(tmp_path, students, offers)


def test_fairness_csv_columns_match_hand_counts(tmp_path: Path) -> None:
    path = _hand_case(tmp_path)
    outcome = solve_cli(path)
    rows = _read_fairness(outcome.out / "fairness.csv")
    got = {(r["group_type"], r["group"]): r for r in rows}
    # Every pupil to place is in exactly one group of each type; S7 and S8 are in none.
    for group_type in ("priority", "school", "epci", "department", "rurality"):
        assert sum(int(r["students"]) for r in rows if r["group_type"] == group_type) == 6
    assert ("school", "0610018N") not in got
    # The optimum: S4 at the reserved O2, two of S1-S3 at O1, S5 at O3; S6 and one of S1-S3
    # unplaced.
    assert outcome.summary["placed_full"] == 4
    kinds = {sid: outcome.kind(sid) for sid in ("S1", "S2", "S3")}
    assert sorted(kinds.values()) == ["single", "single", "unplaced"]
    expected = {
        ("school", "0140052F"): (3, 2, 0, 1, 2),
        ("school", "0141275K"): (3, 2, 0, 1, 2),
        ("priority", "prioritaire"): (1, 1, 0, 0, 1),
        ("priority", "non prioritaire"): (5, 3, 0, 2, 3),
        ("department", "14"): (5, 4, 0, 1, 4),
        ("department", "61"): (1, 0, 0, 1, 0),
    }
    for key, (students, full, partial, unplaced, bound) in expected.items():
        r = got[key]
        assert (int(r["students"]), int(r["placed_full"]), int(r["placed_partial"]),
                int(r["unplaced"]), int(r["upper_bound_full"])) == (
            students, full, partial, unplaced, bound), key
        assert float(r["rate_full"]) == pytest.approx(round(full / students, 4))
    assert got[("department", "14")]["label"] == "Calvados"
    assert got[("rurality", "urbain")]["students"] == "4"  # S1-S4 live in Caen
    # Minutes: the written minutes of the group's placed weeks.
    school_a = [outcome.rows[s] for s in ("S1", "S2", "S3")]
    minutes = [float(r[f"week{w}_minutes"]) for r in school_a for w in (1, 2)
               if r[f"week{w}_minutes"]]
    assert len(minutes) == 4
    r = got[("school", "0140052F")]
    assert float(r["median_minutes"]) == pytest.approx(round(float(np.median(minutes)), 1))
    assert float(r["p90_minutes"]) == pytest.approx(
        round(float(np.percentile(minutes, 90)), 1))
    # A group with no placed week has no minutes.
    assert got[("department", "61")]["median_minutes"] == ""
    assert got[("department", "61")]["p90_minutes"] == ""
    for r in rows:
        assert int(r["upper_bound_full"]) >= int(r["placed_full"]), r


def test_summary_fairness_block(tmp_path: Path) -> None:
    outcome = solve_cli(_hand_case(tmp_path))
    fairness = outcome.summary["fairness"]
    assert fairness["priority"] == {"students": 1, "placed_full": 1, "rate_full": 1.0,
                                    "upper_bound_full": 1}
    assert fairness["other"]["placed_full"] == 3
    assert fairness["other"]["students"] == 5
    # Both schools place 2 of 3: the tie goes to the smaller UAI.
    assert fairness["lowest_school"]["school_id"] == "0140052F"
    assert fairness["lowest_school"]["rate_full"] == pytest.approx(0.6667)
    assert fairness["urban"]["students"] + fairness["rural"]["students"] == 6
    assert fairness["outside_region"] is None
    assert outcome.summary["timings"]["audit"] >= 0
    assert fairness["parity"] == ("Élèves prioritaires placés deux semaines : 100,0 %, contre "
                                  "60,0 % pour les autres.")


def test_parity_says_why_priority_pupils_trail() -> None:
    other = {"students": 10, "placed_full": 9, "rate_full": 0.9, "upper_bound_full": 10}
    at_bound = {"students": 4, "placed_full": 2, "rate_full": 0.5, "upper_bound_full": 2}
    text = parity_text(at_bound, other)
    assert "maximum prouvé (2 élèves)" in text and "personne n'est désaffecté" in text
    below = {**at_bound, "upper_bound_full": 3}
    assert "au plus 3 (1 de plus que placés)" in parity_text(below, other)
    ahead = {**at_bound, "placed_full": 4, "rate_full": 1.0, "upper_bound_full": 4}
    assert "raison" not in parity_text(ahead, other) and "maximum" not in parity_text(ahead, other)
    assert "proven maximum (2 pupils)" in parity_text(at_bound, other, "en")


def test_group_bound_counts_capacity_within_reach(tmp_path: Path) -> None:
    """Five pupils of one school near Caen, three seats within reach (one of them reserved):
    the school alone can place three, the non-priority pupils two."""
    students = [{"student_id": f"S{i}", "priority": i == 0, **near(0.002 * i)}
                for i in range(5)]
    offers = [{"offer_id": "A", "capacity": 2, **near(0.01)},
              {"offer_id": "R", "capacity": 1, "reserved": True, **near(0.01)},
              {"offer_id": "W1", "capacity": 3, "period": 1, **near(0.01)}]
    inst = load_instance(make_scenario(tmp_path, students, offers))
    reach = reachable(inst)
    table = fairness_table(inst, np.full((inst.students.n, 2), -1), reach)
    bound = {(r.group_type, r.group): r.upper_bound_full for r in table.itertuples()}
    assert bound["school", "0140052F"] == 3
    assert bound["priority", "non prioritaire"] == 2
    assert bound["priority", "prioritaire"] == 1
    # The week-1-only offer adds nothing for both weeks: no week-2 stay anywhere.
    assert (table["placed_full"] == 0).all()
    assert (table["unplaced"] == table["students"]).all()


def test_bound_pruned_to_nearest_seats_equals_full_flow(tmp_path: Path) -> None:
    """Keeping each pupil's nearest offers up to the group's size in seats changes nothing."""
    rng = np.random.default_rng(3)
    students = [{"student_id": f"S{i}", **near(*rng.uniform(-0.03, 0.03, 2).round(4)),
                 "priority": bool(rng.integers(2))} for i in range(12)]
    offers = [{"offer_id": f"O{j}", **near(*rng.uniform(-0.03, 0.03, 2).round(4)),
               "capacity": int(rng.integers(0, 3)), "period": int(rng.integers(0, 3)),
               "reserved": bool(rng.integers(4) == 0)} for j in range(40)]
    inst = load_instance(make_scenario(tmp_path, students, offers))
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    epci = pupil_groups(inst)["epci"].astype(str)
    bounds = GroupBounds(inst, reach, epci)
    for size in (1, 2, 3, 5, 12):
        pupils = np.arange(size)
        kept = bounds.nearest_seats(pupils)
        if size < 12:
            assert kept.sum() < int(np.diff(reach.indptr)[:size].sum())
        mask = np.zeros(inst.students.n, dtype=bool)
        mask[pupils[bounds.can_place[pupils]]] = True
        full, _ = three_layer_bound(inst, reach, allowed, mask)
        assert bounds.direct(pupils) == full.value


def test_the_allocation_shortcut_gives_the_flow_values(tmp_path: Path) -> None:
    """A group whose placeable pupils the audited allocation all places is bounded by them
    without a flow: the same values as the flows, for every group of the table."""
    rng = np.random.default_rng(5)
    students = [{"student_id": f"S{i}", **near(*rng.uniform(-0.04, 0.04, 2).round(4)),
                 "priority": bool(rng.integers(2)), "school_id": ["0140052F", "0141274X"][i % 2]}
                for i in range(30)]
    offers = [{"offer_id": f"O{j}", **near(*rng.uniform(-0.04, 0.04, 2).round(4)),
               "capacity": int(rng.integers(0, 3)), "period": int(rng.integers(0, 3))}
              for j in range(25)]
    path = make_scenario(tmp_path, students, offers)
    inst = load_instance(path)
    solution = solve(inst, SolveSettings(time_limit_s=20.0))
    reach = reachable(inst)
    table = fairness_table(inst, solution.allocation, reach)
    epci = pupil_groups(inst)["epci"].astype(str)
    plain = GroupBounds(inst, reach, epci)  # flows only
    groups = pupil_groups(inst)
    members = np.flatnonzero(inst.students.to_place)
    checked = 0
    for group_type in ("school", "epci"):
        for group, pupils in split_groups(groups[group_type], members, group_type).items():
            row = table[(table.group_type == group_type) & (table.group == group)]
            assert int(row.upper_bound_full.iloc[0]) == plain(group_type, pupils)
            checked += 1
    assert checked >= 3
    kind = classify(inst, solution.allocation)
    assert np.isin(kind, FULL_KINDS).sum() > 0


@st.composite
def tiny(draw: Any) -> dict[str, Any]:
    return tiny_case(draw, pair=None)


@settings(FAST, max_examples=40)
@given(case=tiny())
def test_group_bounds_never_below_the_group_alone_optimum(case: dict[str, Any]) -> None:
    """Each priority group's bound is at least the best that group alone can be placed (brute
    force on the scenario restricted to the group and to other pupils' signed conventions)."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
        table = fairness_table(inst, np.full((inst.students.n, 2), -1), reachable(inst))
        bound = {r.group: int(r.upper_bound_full) for r in table.itertuples()
                 if r.group_type == "priority"}
        signed = {c["student_id"] for c in case["conventions"]}
        prio = {s["student_id"] for s in case["students"] if s["priority"]}
        # Priority pupils, and other pupils only for their conventions: the brute force
        # maximises the priority pupils placed for both weeks (level 0) alone.
        keep = [s for s in case["students"] if s["student_id"] in prio | signed]
        if any(s["status"] == "" and s["student_id"] in prio for s in keep):
            sub = load_instance(make_scenario(Path(tmp), folder="prio", **{**case,
                                                                           "students": keep}))
            best, _ = brute_force(sub, key=(0,))
            assert bound["prioritaire"] >= best[0], (bound, best)
        # Other pupils, when no priority pupil holds a convention.
        others = [s for s in case["students"] if s["student_id"] not in prio]
        if not signed & prio and any(s["status"] == "" for s in others):
            sub = load_instance(make_scenario(Path(tmp), folder="others",
                                              **{**case, "students": others}))
            best, _ = brute_force(sub, key=(1,))
            assert bound["non prioritaire"] >= best[0], (bound, best)


@pytest.mark.parametrize("first_arcs", [1, 3, 24])
@pytest.mark.parametrize("offers_count", [8, 60])
def test_group_bound_shortcuts_equal_full_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                first_arcs: int, offers_count: int) -> None:
    """The group flows built from the rows (whatever arcs they load first), and the parts of
    an EPCI whose bound is all its placeable pupils, give the values of the full flows (few
    offers: EPCIs below their size; many: at it)."""
    monkeypatch.setattr("affectation.engine.group_bound.INITIAL_ARCS_PER_PUPIL", first_arcs)
    rng = np.random.default_rng(5)
    students = [{"student_id": f"S{i}", **near(*rng.uniform(-0.03, 0.03, 2).round(4)),
                 "priority": bool(rng.integers(2))} for i in range(30)]
    offers = [{"offer_id": f"O{j}", **near(*rng.uniform(-0.03, 0.03, 2).round(4)),
               "capacity": int(rng.integers(1, 4)), "period": int(rng.integers(0, 3))}
              for j in range(offers_count)]
    inst = load_instance(make_scenario(tmp_path, students, offers))
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    epci = pupil_groups(inst)["epci"].astype(str)
    bounds = GroupBounds(inst, reach, epci)

    def full(pupils: np.ndarray) -> int:
        mask = np.zeros(inst.students.n, dtype=bool)
        mask[pupils[bounds.can_place[pupils]]] = True
        return three_layer_bound(inst, reach, allowed, mask)[0].value

    for size in (1, 4, 13, 30):
        pupils = np.arange(size)
        assert bounds.direct(pupils) == full(pupils)
    members = np.flatnonzero(inst.students.to_place)
    for e in np.unique(epci[members]):
        bounds("epci", members[epci[members] == e])
    for flag in (True, False):
        part = members[inst.students.priority[members] == flag]
        expected = sum(full(part[epci[part] == e]) for e in np.unique(epci[part]))
        assert bounds("priority", part) == expected
