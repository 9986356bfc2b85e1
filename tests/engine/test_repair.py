"""`affectation repair`: what is kept, what moves, what is written, what is refused."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import (
    _random_conventions,
    make_scenario,
    near,
    random_case,
    read_assignments,
    solve_cli,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from affectation.analysis.check import check_files
from affectation.cli import main
from affectation.errors import InputError
from affectation.travel.loading import load_instance


def _repair(scenario: Path, previous: Path, out: Path, *extra: str) -> Any:
    result = CliRunner().invoke(main, ["repair", str(scenario), "--previous", str(previous),
                                       "--out", str(out), *extra])
    return result


def _read_changes(out: Path) -> list[dict[str, str]]:
    with open(out / "changes.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _repaired(scenario: Path, previous: Path, out: Path, *extra: str
              ) -> tuple[dict[str, dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    result = _repair(scenario, previous, out, *extra)
    assert result.exit_code == 0, (result.output, result.exception)
    assert check_files(scenario, out / "assignments.csv") == []
    rows, _ = read_assignments(out / "assignments.csv")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return rows, _read_changes(out), summary


def _weeks(rows: dict[str, dict[str, str]], sid: str) -> tuple[str, str]:
    return rows[sid]["week1_offer_id"], rows[sid]["week2_offer_id"]


def test_withdrawn_offer_pupil_is_replaced_and_nobody_else_moves(tmp_path: Path) -> None:
    students = [{"student_id": "A"}, {"student_id": "B", **near(0.01)}]
    offers = [{"offer_id": "X", "capacity": 1}, {"offer_id": "Y", "capacity": 1, **near(0.01)},
              {"offer_id": "Z", "capacity": 1, **near(0.02)}]
    before = solve_cli(make_scenario(tmp_path, students, offers, folder="v1"))
    assert before.weeks("A") == ("X", "X") and before.weeks("B") == ("Y", "Y")
    offers[0]["capacity"] = 0  # X withdrawn
    scenario = make_scenario(tmp_path, students, offers, folder="v2")
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, "A") == ("Z", "Z") and _weeks(rows, "B") == ("Y", "Y")
    assert [c["student_id"] for c in changes] == ["A"]
    assert changes[0]["before_week1"] == "X" and changes[0]["after_week1"] == "Z"
    assert "X" in changes[0]["reason"] and "retirée" in changes[0]["reason"]
    assert summary["changes"]["moved"] == 1
    assert summary["changes"]["moved_to_make_room"] == 0


def _chain_case(tmp_path: Path, folder: str, with_t: bool, **kw: Any) -> Path:
    # T reaches only A; S0 (at A) also reaches B.
    students = [{"student_id": "S0", **near(0.0, 0.02)}]
    if with_t:
        students.append({"student_id": "T", **near(0.0, -0.04)})
    offers = [{"offer_id": "A", "capacity": 1, **near(0.0, -0.01)},
              {"offer_id": "B", "capacity": 1, **near(0.0, 0.06)}]
    return make_scenario(tmp_path, students, offers, folder=folder, **kw)


def test_a_placed_pupil_moves_only_to_place_one_more(tmp_path: Path) -> None:
    before = solve_cli(_chain_case(tmp_path, "v1", with_t=False))
    assert before.weeks("S0") == ("A", "A")
    scenario = _chain_case(tmp_path, "v2", with_t=True)
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, "T") == ("A", "A") and _weeks(rows, "S0") == ("B", "B")
    reasons = {c["student_id"]: c["reason"] for c in changes}
    assert set(reasons) == {"S0", "T"}
    assert "T" in reasons["S0"]
    assert summary["changes"] == {**summary["changes"], "moved": 1, "newly_placed": 1,
                                  "moved_to_make_room": 1}
    # Frozen: nobody moves, T stays unplaced.
    rows, changes, _ = _repaired(scenario, before.out, tmp_path / "frozen", "--freeze-placed")
    assert _weeks(rows, "S0") == ("A", "A") and rows["T"]["kind"] == "unplaced"
    assert [c["student_id"] for c in changes] == []


def test_nothing_changed_nothing_moves(tmp_path: Path) -> None:
    case = {"students": [{"student_id": f"P{i}", **near(0.003 * i)} for i in range(6)],
            "offers": [{"offer_id": f"O{j}", "capacity": 2, **near(0.0, 0.004 * j)}
                       for j in range(2)]}
    scenario = make_scenario(tmp_path, **case)
    before = solve_cli(scenario)
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert changes == []
    assert summary["changes"]["moved"] == 0
    assert {k: _weeks(rows, k) for k in rows} == {k: before.weeks(k) for k in rows}


def test_removed_pupil_frees_the_seat(tmp_path: Path) -> None:
    students = [{"student_id": "R"}, {"student_id": "U", **near(0.001)}]
    offers = [{"offer_id": "X", "capacity": 1}]
    before = solve_cli(make_scenario(tmp_path, students, offers, folder="v1"))
    holder = "R" if before.weeks("R") == ("X", "X") else "U"
    waiting = "U" if holder == "R" else "R"
    scenario = make_scenario(tmp_path, [s for s in students if s["student_id"] != holder],
                             offers, folder="v2")
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, waiting) == ("X", "X")
    by_id = {c["student_id"]: c for c in changes}
    assert by_id[holder]["after_week1"] == "" and "retiré" in by_id[holder]["reason"]
    assert summary["changes"]["newly_placed"] == 1
    assert summary["changes"]["removed_pupils"] == 1


def test_exclusion_makes_repair_move_the_pupil(tmp_path: Path) -> None:
    students = [{"student_id": "A"}]
    offers = [{"offer_id": "X", "capacity": 1}, {"offer_id": "Y", "capacity": 1, **near(0.01)}]
    before = solve_cli(make_scenario(tmp_path, students, offers, folder="v1"))
    assert before.weeks("A") == ("X", "X")
    scenario = make_scenario(tmp_path, students, offers, folder="v2",
                             exclusions=[{"student_id": "A", "offer_id": "X"}])
    rows, changes, _ = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, "A") == ("Y", "Y")
    assert "exclusions.csv" in changes[0]["reason"]


def test_convention_on_a_withdrawn_offer_names_both(tmp_path: Path) -> None:
    students = [{"student_id": "A"}]
    offers = [{"offer_id": "X", "capacity": 0}]
    scenario = make_scenario(tmp_path, students, offers,
                             conventions=[{"student_id": "A", "offer_id": "X"}])
    try:
        load_instance(scenario)
    except InputError as exc:
        assert "« X »" in exc.message() and "élève A" in exc.message()
    else:
        raise AssertionError("expected an input error")


def test_foreign_previous_folder_is_refused(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path, [{"student_id": "A"}], [{"offer_id": "X",
                                                                 "capacity": 1}])
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _repair(scenario, empty, tmp_path / "out")
    assert result.exit_code == 2 and "assignments.csv" in result.output
    other = make_scenario(tmp_path, [{"student_id": f"Z{i}"} for i in range(3)],
                          [{"offer_id": "X", "capacity": 3}], folder="other")
    foreign = solve_cli(other)
    result = _repair(scenario, foreign.out, tmp_path / "out")
    assert result.exit_code == 2 and "inconnu" in result.output
    assert not (tmp_path / "out").exists()


def _changed(draw: Any, case: dict[str, Any], round_: int) -> dict[str, Any]:
    """`case` after one round of random changes: offers withdrawn, removed or resized
    (never one holding a convention), pupils removed (fewer than a third) and added,
    conventions added on seats the others leave, exclusions redrawn."""
    changed = copy.deepcopy(case)
    signed_pupils = {c["student_id"] for c in case["conventions"]}
    signed_offers = {c["offer_id"] for c in case["conventions"]}
    free_offers = [o for o in changed["offers"] if o["offer_id"] not in signed_offers
                   and not o.get("pair_id")]
    for o in free_offers:
        action = draw(st.sampled_from(["keep", "keep", "capacity", "withdraw", "remove"]))
        if action == "remove" and len(changed["offers"]) == 1:
            action = "withdraw"
        if action == "capacity":
            o["capacity"] = draw(st.integers(0, 3))
        elif action == "withdraw":
            o["capacity"] = 0
        elif action == "remove":
            changed["offers"].remove(o)
    # Fewer than half of the pupils leave (else the previous result is not of this campaign).
    removable = [s for s in changed["students"] if s["student_id"] not in signed_pupils]
    for s in removable[: len(case["students"]) // 3]:
        if draw(st.integers(0, 3)) == 0:
            changed["students"].remove(s)
    for k in range(draw(st.integers(0, 3))):
        changed["students"].append({"student_id": f"N{round_}-{k}",
                                    **near(draw(st.floats(-0.05, 0.05)),
                                           draw(st.floats(-0.05, 0.05))),
                                    "priority": draw(st.booleans()), "status": "",
                                    "needs_accessible": False})
    left = copy.deepcopy(changed["offers"])
    for o in left:
        o["capacity"] = max(0, o["capacity"] - sum(c["offer_id"] == o["offer_id"]
                                                   for c in case["conventions"]))
    unsigned = [s for s in changed["students"] if s["student_id"] not in signed_pupils]
    changed["conventions"] = case["conventions"] + _random_conventions(draw, unsigned, left)
    pair_of = {o["offer_id"]: o.get("pair_id") or o["offer_id"] for o in changed["offers"]}
    signed_now = {(c["student_id"], pair_of[c["offer_id"]]) for c in changed["conventions"]}
    exclusions = []
    for s in changed["students"]:
        o = changed["offers"][draw(st.integers(0, len(changed["offers"]) - 1))]
        held = (s["student_id"], pair_of[o["offer_id"]]) in signed_now
        if not held and draw(st.integers(0, 3)) == 0:
            exclusions.append({"student_id": s["student_id"], "offer_id": o["offer_id"]})
    changed["exclusions"] = exclusions
    return changed


@st.composite
def _change_sequences(draw: Any) -> list[dict[str, Any]]:
    """A random small scenario, then one to three rounds of changes."""
    cases = [random_case(draw, n_students=(3, 10), n_offers=(2, 6))]
    for round_ in range(draw(st.integers(1, 3))):
        cases.append(_changed(draw, cases[-1], round_))
    return cases


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@given(cases=_change_sequences())
def test_repair_keeps_conventions_and_passes_check(tmp_path_factory: Any,
                                                   cases: list[dict[str, Any]]) -> None:
    """Solve the first scenario, then repair after each round: every result passes `check`
    (signed weeks, capacities, exclusions...), every signed week is where it was signed,
    and `changes.csv` lists exactly the pupils whose offers changed."""
    tmp = tmp_path_factory.mktemp("r")
    previous = solve_cli(make_scenario(tmp, folder="v0", **cases[0]), time_limit=2.0).out
    for k, case in enumerate(cases[1:], 1):
        scenario = make_scenario(tmp, folder=f"v{k}", **case)
        try:
            instance = load_instance(scenario)
        except InputError:
            assume(False)
            return
        out = tmp / f"out{k}"
        rows, changes, summary = _repaired(scenario, previous, out)
        for c, o, w in zip(instance.conventions.student.tolist(),
                           instance.conventions.offer.tolist(),
                           instance.conventions.week.tolist(), strict=True):
            row = rows[str(instance.students.ids[c])]
            assert row[f"week{w}_offer_id"] == str(instance.offers.ids[o])
        before, _ = read_assignments(previous / "assignments.csv")
        differs = {sid for sid, r in rows.items() if sid not in before or (
            r["week1_offer_id"], r["week2_offer_id"]) != (before[sid]["week1_offer_id"],
                                                          before[sid]["week2_offer_id"])}
        differs = {sid for sid in differs if sid in before or rows[sid]["week1_offer_id"]
                   or rows[sid]["week2_offer_id"]}
        removed = set(before) - set(rows)
        assert {c["student_id"] for c in changes} == differs | removed
        assert summary["changes"]["rows"] == len(changes)
        previous = out


def test_repair_is_deterministic(tmp_path: Path) -> None:
    before = solve_cli(_chain_case(tmp_path, "v1", with_t=False))
    scenario = _chain_case(tmp_path, "v2", with_t=True)
    _repaired(scenario, before.out, tmp_path / "a")
    _repaired(scenario, before.out, tmp_path / "b")
    for name in ("assignments.csv", "changes.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _displace_case(tmp_path: Path, folder: str, with_t: bool, may_displace: bool,
                   signed: bool = False, t_priority: bool = True) -> Path:
    # A single seat at A: S0 holds it and can go nowhere else; T (priority) reaches only A.
    students = [{"student_id": "S0", **near(0.0, 0.02)}]
    if with_t:
        students.append({"student_id": "T", **near(0.0, -0.04), "priority": t_priority})
    offers = [{"offer_id": "A", "capacity": 1, **near(0.0, -0.01)}]
    conventions = [{"student_id": "S0", "offer_id": "A"}] if signed else None
    path = make_scenario(tmp_path, students, offers, conventions=conventions, folder=folder)
    if may_displace:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("\n[repair]\npriority_may_displace = true\n")
    return path


def test_by_default_a_priority_pupil_displaces_nobody(tmp_path: Path) -> None:
    before = solve_cli(_displace_case(tmp_path, "v1", with_t=False, may_displace=False))
    scenario = _displace_case(tmp_path, "v2", with_t=True, may_displace=False)
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, "S0") == ("A", "A") and rows["T"]["kind"] == "unplaced"
    assert summary["changes"]["displaced_by_priority"] == 0
    assert summary["search"]["priority_may_displace"] == 0
    assert changes == []  # T new and unplaced: nothing changed


def test_priority_may_displace_gives_the_seat_to_the_priority_pupil(tmp_path: Path) -> None:
    before = solve_cli(_displace_case(tmp_path, "v1", with_t=False, may_displace=False))
    scenario = _displace_case(tmp_path, "v2", with_t=True, may_displace=True)
    result = _repair(scenario, before.out, tmp_path / "out")
    assert "dont 1 pour un élève prioritaire" in result.stdout
    rows, changes, summary = _repaired(scenario, before.out, tmp_path / "out2")
    assert _weeks(rows, "T") == ("A", "A") and rows["S0"]["kind"] == "unplaced"
    assert rows["S0"]["reason"].startswith("place cédée à un élève prioritaire")
    reasons = {c["student_id"]: c for c in changes}
    assert set(reasons) == {"S0", "T"}
    assert reasons["S0"]["reason"] == "place cédée à un élève prioritaire"
    assert (reasons["S0"]["before_week1"], reasons["S0"]["after_week1"]) == ("A", "")
    assert reasons["T"]["reason"].endswith("placé(e) sur la place cédée par l'élève S0")
    assert summary["changes"]["displaced_by_priority"] == 1
    assert summary["changes"]["newly_unplaced"] == 1
    assert summary["search"]["priority_may_displace"] == 1
    # Frozen placements win over the setting: nobody loses a seat.
    rows, _, _ = _repaired(scenario, before.out, tmp_path / "frozen", "--freeze-placed")
    assert _weeks(rows, "S0") == ("A", "A") and rows["T"]["kind"] == "unplaced"


def test_priority_may_displace_spares_signed_and_serves_only_priority(tmp_path: Path) -> None:
    # A signed convention never moves.
    before = solve_cli(_displace_case(tmp_path, "v1", with_t=False, may_displace=False,
                                      signed=True))
    scenario = _displace_case(tmp_path, "v2", with_t=True, may_displace=True, signed=True)
    rows, _, summary = _repaired(scenario, before.out, tmp_path / "out")
    assert _weeks(rows, "S0") == ("A", "A") and rows["T"]["kind"] == "unplaced"
    assert summary["changes"]["displaced_by_priority"] == 0
    # A pupil who is not priority takes nobody's seat.
    before = solve_cli(_displace_case(tmp_path, "w1", with_t=False, may_displace=False))
    scenario = _displace_case(tmp_path, "w2", with_t=True, may_displace=True,
                              t_priority=False)
    rows, _, summary = _repaired(scenario, before.out, tmp_path / "out2")
    assert _weeks(rows, "S0") == ("A", "A") and rows["T"]["kind"] == "unplaced"
    assert summary["changes"]["displaced_by_priority"] == 0


def test_priority_may_displace_is_read_from_the_scenario(tmp_path: Path) -> None:
    path = _displace_case(tmp_path, "v", with_t=True, may_displace=True)
    from affectation.io.scenario import load_scenario

    assert load_scenario(path).repair.priority_may_displace is True
    path.write_text(path.read_text(encoding="utf-8").replace("= true", '= "oui"'),
                    encoding="utf-8")
    try:
        load_scenario(path)
    except InputError as exc:
        assert "repair.priority_may_displace" in str(exc) and "true ou false" in str(exc)
    else:
        raise AssertionError("a non-boolean priority_may_displace must be refused")
