"""exclusions.csv: declined pairings are input-checked, never proposed by `solve`, flagged by
`check`, and the reasons stay true."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario, near, random_case, solve_cli, table_from_week
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.analysis.check import check_allocation
from affectation.engine.candidates import usable
from affectation.errors import InputError
from affectation.travel.loading import load_instance


def _case(tmp_path: Path, exclusions: list[dict[str, str]],
          conventions: list[dict[str, str]] | None = None) -> Path:
    students = [{"student_id": "A"}, {"student_id": "B"}]
    offers = [{"offer_id": "NEAR", "capacity": 1, **near(0.001)},
              {"offer_id": "FAR", "capacity": 1, **near(0.03)},
              {"offer_id": "P1", "capacity": 1, "period": 1, "pair_id": "K", **near(0.02)},
              {"offer_id": "P2", "capacity": 1, "period": 2, "pair_id": "K", **near(0.02)}]
    return make_scenario(tmp_path, students, offers, conventions=conventions,
                         exclusions=exclusions)


def test_exclusions_are_read_and_used_by_usable(tmp_path: Path) -> None:
    inst = load_instance(_case(tmp_path, [{"student_id": "A", "offer_id": "NEAR"}]))
    assert inst.exclusions.n == 1
    ok = usable(inst, np.array([0, 0, 1]), np.array([0, 1, 0]))
    assert ok.tolist() == [False, True, True]
    assert "exclusions" in inst.input_files()


@pytest.mark.parametrize(("rows", "conventions", "expected"), [
    ([{"student_id": "Z", "offer_id": "NEAR"}], None, ["ligne 2", "student_id", "Z"]),
    ([{"student_id": "A", "offer_id": "NOPE"}], None, ["ligne 2", "offer_id", "NOPE"]),
    ([{"student_id": "A", "offer_id": "NEAR"}, {"student_id": "A", "offer_id": "NEAR"}], None,
     ["ligne 3", "déjà ligne 2"]),
    ([{"student_id": "A", "offer_id": "NEAR"}], [{"student_id": "A", "offer_id": "NEAR"}],
     ["ligne 2", "NEAR", "convention"]),
    # The partner of a signed paired offer is held by the convention too.
    ([{"student_id": "A", "offer_id": "P2"}], [{"student_id": "A", "offer_id": "P1"}],
     ["ligne 2", "P2", "convention"]),
], ids=["unknown_student", "unknown_offer", "duplicate", "signed", "signed_pair_partner"])
def test_bad_exclusions_are_input_errors(tmp_path: Path, rows: list[dict[str, str]],
                                         conventions: list[dict[str, str]] | None,
                                         expected: list[str]) -> None:
    with pytest.raises(InputError) as err:
        load_instance(_case(tmp_path, rows, conventions))
    message = err.value.message()
    assert "exclusions.csv" in message
    for part in expected:
        assert part in message


def test_solve_never_proposes_an_excluded_pairing(tmp_path: Path) -> None:
    # A alone wants NEAR (nearest): excluded, it must go elsewhere.
    scenario = _case(tmp_path, [{"student_id": "A", "offer_id": "NEAR"},
                                {"student_id": "B", "offer_id": "FAR"}])
    out = solve_cli(scenario)
    assert "NEAR" not in out.weeks("A")
    assert "FAR" not in out.weeks("B")
    assert out.summary["placed_full"] == 2


def test_check_flags_an_excluded_pairing(tmp_path: Path) -> None:
    inst = load_instance(_case(tmp_path, [{"student_id": "A", "offer_id": "NEAR"}]))
    allocation = np.array([[0, 0], [1, 1]])
    violations = check_allocation(inst, table_from_week(inst, allocation))
    rules = [v.rule for v in violations]
    assert rules == ["exclusion"]
    assert "ligne 2 de exclusions.csv" in violations[0].message
    assert "semaines 1 et 2" in violations[0].message


def test_reason_counts_declined_offers(tmp_path: Path) -> None:
    # The only offer within reach is declined: the reason says so, not "reserved".
    students = [{"student_id": "A"}]
    offers = [{"offer_id": "NEAR", "capacity": 1}, {"offer_id": "AWAY", "capacity": 1,
                                                   **near(0.3)}]
    scenario = make_scenario(tmp_path, students, offers,
                             exclusions=[{"student_id": "A", "offer_id": "NEAR"}])
    out = solve_cli(scenario)
    assert out.kind("A") == "unplaced"
    assert "refusée" in out.reason("A") and "exclusions.csv" in out.reason("A")


def test_empty_exclusions_file_is_allowed(tmp_path: Path) -> None:
    inst = load_instance(_case(tmp_path, []))
    assert inst.exclusions.n == 0
    assert not inst.exclusions.contains(np.array([0, 1]), np.array([0, 0])).any()


def test_exclusion_file_frame_columns(tmp_path: Path) -> None:
    scenario = _case(tmp_path, [{"student_id": "B", "offer_id": "FAR"}])
    frame = pd.read_csv(scenario.parent / "exclusions.csv", dtype=str)
    assert list(frame.columns) == ["student_id", "offer_id"]


@st.composite
def _cases_with_exclusions(draw: Any) -> dict[str, Any]:
    case = random_case(draw, n_students=(3, 10), n_offers=(2, 6))
    pair_of = {o["offer_id"]: o.get("pair_id") or o["offer_id"] for o in case["offers"]}
    # A signed paired offer holds its partner too: neither may be excluded.
    signed = {(c["student_id"], pair_of[c["offer_id"]]) for c in case["conventions"]}
    rows = []
    for s in case["students"]:
        for o in case["offers"]:
            held = (s["student_id"], pair_of[o["offer_id"]]) in signed
            if not held and draw(st.integers(0, 2)) == 0:
                rows.append({"student_id": s["student_id"], "offer_id": o["offer_id"]})
    return {**case, "exclusions": rows}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_cases_with_exclusions())
def test_solve_respects_random_exclusions(tmp_path_factory: Any, case: dict[str, Any]) -> None:
    # `solve_cli` runs the independent checker, whose `exclusion` rule reads the file.
    out = solve_cli(make_scenario(tmp_path_factory.mktemp("x"), **case), time_limit=2.0)
    declined = {(r["student_id"], r["offer_id"]) for r in case["exclusions"]}
    for sid in out.order:
        for oid in out.weeks(sid):
            assert (sid, oid) not in declined
