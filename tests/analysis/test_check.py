"""Tests of the independent checker (`affectation check`)."""

from __future__ import annotations

import ast
import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import REPO

from affectation.analysis.check import Violation, check_allocation, check_files
from affectation.cli import main
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes

CHECK_PY = REPO / "src" / "affectation" / "analysis" / "check.py"
COLUMNS = ["student_id", "school_id", "week1_offer_id", "week2_offer_id",
           "week1_minutes", "week2_minutes", "kind", "reason"]
SCHOOL = "0140052F"

SCENARIO = """\
[scenario]
name = "check-test"
weeks = ["2026-W25", "2026-W26"]

[inputs]
students = "students.csv"
offers = "offers.csv"
conventions = "conventions.csv"

[travel]
model = "crowfly"
default_mode = "public"

[travel.modes.public]
speed_kmh = 30.0
detour = 1.3
access_minutes = 10.0
max_minutes = 45.0

[rules]
split_two_week_offers = {split}
"""

# id, lat, lon, priority, status (all around Caen)
STUDENTS = [
    ("S1", 49.180, -0.370, 1, ""),
    ("S2", 49.182, -0.360, 0, ""),
    ("S3", 49.175, -0.380, 0, ""),
    ("S4", 49.190, -0.350, 0, ""),
    ("S5", 49.170, -0.365, 0, ""),
    ("S6", 49.185, -0.372, 0, ""),
    ("S7", 49.181, -0.366, 0, "self_placed"),
    ("S8", 49.178, -0.368, 0, ""),
    ("S9", 49.177, -0.369, 0, ""),
    ("S10", 49.183, -0.371, 0, "exempt"),
]
# id, lat, lon, capacity, period, reserved, pair_id, min_group
OFFERS = [
    ("O1", 49.181, -0.368, 2, 0, 0, "", ""),
    ("O2", 49.178, -0.372, 1, 1, 0, "", ""),
    ("O3", 49.183, -0.366, 1, 2, 0, "", ""),
    ("O4", 49.176, -0.362, 1, 0, 0, "", ""),
    ("R1", 49.179, -0.371, 2, 0, 1, "", ""),
    ("PA", 49.184, -0.375, 2, 0, 0, "P1", "2"),
    ("PB", 49.186, -0.358, 2, 0, 0, "P1", ""),
    ("W", 49.180, -0.369, 0, 0, 0, "", ""),
    ("FAR", 49.443, 1.099, 2, 0, 0, "", ""),  # Rouen: far beyond 45 min
]
CONVENTIONS = [("S6", "FAR", ""), ("S8", "O4", "1")]
NEEDS_ACCESSIBLE = {"S1"}  # students.csv `needs_accessible`
ACCESSIBLE = {"R1"}  # offers.csv `accessible`

# A valid allocation: student -> (week 1, week 2, kind, reason).
VALID = {
    "S1": ("R1", "R1", "single", ""),
    "S2": ("O1", "O1", "single", ""),
    "S3": ("O2", "O3", "split", ""),
    "S4": ("PA", "PB", "mutualised", ""),
    "S5": ("PB", "PA", "mutualised", ""),
    "S6": ("FAR", "FAR", "single", ""),
    "S7": ("", "", "self_placed", ""),
    "S8": ("O4", "", "partial", "aucune offre libre en semaine 2"),
    "S9": ("", "", "unplaced", "aucune offre à moins de 45 min"),
    "S10": ("", "", "exempt", ""),
}


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_scenario(folder: Path, split: bool = False,
                  conventions: list[tuple[str, str, str]] = CONVENTIONS) -> Path:
    """Write the small hand-made scenario into `folder`; return its scenario.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.toml").write_text(SCENARIO.format(split=str(split).lower()),
                                          encoding="utf-8")
    _write_csv(folder / "students.csv",
               ["student_id", "school_id", "lat", "lon", "priority", "status",
                "needs_accessible"],
               [(s, SCHOOL, la, lo, pr, st, int(s in NEEDS_ACCESSIBLE))
                for s, la, lo, pr, st in STUDENTS])
    _write_csv(folder / "offers.csv",
               ["offer_id", "lat", "lon", "capacity", "period", "reserved", "pair_id",
                "min_group", "accessible"], [(*o, int(o[0] in ACCESSIBLE)) for o in OFFERS])
    _write_csv(folder / "conventions.csv", ["student_id", "offer_id", "week"], conventions)
    return folder / "scenario.toml"


def base_rows() -> list[dict[str, str]]:
    """The valid allocation as assignment rows (minutes filled in by `write_assignments`)."""
    return [
        {"student_id": s, "school_id": SCHOOL, "week1_offer_id": w1, "week2_offer_id": w2,
         "kind": kind, "reason": reason}
        for s, (w1, w2, kind, reason) in VALID.items()
    ]


def write_assignments(scenario: Path, rows: list[dict[str, str]], path: Path) -> Path:
    """Write `rows` as assignments.csv; missing minutes are the exact crowfly ones."""
    inst = load_instance(scenario)
    s_index = {s: i for i, s in enumerate(inst.students.ids)}
    o_index = {o: i for i, o in enumerate(inst.offers.ids)}
    out = []
    for row in rows:
        row = dict(row)
        for w in (1, 2):
            key, offer = f"week{w}_minutes", row[f"week{w}_offer_id"]
            if key not in row:
                if offer in o_index and row["student_id"] in s_index:
                    m = exact_minutes(inst, np.array([s_index[row["student_id"]]]),
                                      np.array([o_index[offer]]))[0]
                    row[key] = f"{m:.1f}"
                else:
                    row[key] = ""
        out.append(tuple(row[c] for c in COLUMNS))
    _write_csv(path, COLUMNS, out)
    return path


def find(rows: list[dict[str, str]], sid: str) -> dict[str, str]:
    return next(r for r in rows if r["student_id"] == sid)


def place(sid: str, w1: str, w2: str, kind: str, reason: str = "") -> Callable:
    def edit(rows: list[dict[str, str]]) -> None:
        find(rows, sid).update(week1_offer_id=w1, week2_offer_id=w2, kind=kind, reason=reason)
    return edit


def setf(sid: str, **fields: str) -> Callable:
    def edit(rows: list[dict[str, str]]) -> None:
        find(rows, sid).update(fields)
    return edit


def drop(sid: str) -> Callable:
    def edit(rows: list[dict[str, str]]) -> None:
        rows.remove(find(rows, sid))
    return edit


def swap(a: str, b: str) -> Callable:
    def edit(rows: list[dict[str, str]]) -> None:
        i, j = rows.index(find(rows, a)), rows.index(find(rows, b))
        rows[i], rows[j] = rows[j], rows[i]
    return edit


def append(row: dict[str, str]) -> Callable:
    def edit(rows: list[dict[str, str]]) -> None:
        rows.append(dict(row))
    return edit


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    return make_scenario(tmp_path / "scen")


def test_valid_allocation_has_no_violation(scenario: Path, tmp_path: Path) -> None:
    path = write_assignments(scenario, base_rows(), tmp_path / "a.csv")
    assert check_files(scenario, path) == []


def test_check_allocation_accepts_a_dataframe(scenario: Path, tmp_path: Path) -> None:
    path = write_assignments(scenario, base_rows(), tmp_path / "a.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert check_allocation(load_instance(scenario), frame) == []
    frame.loc[1, "kind"] = "split"
    assert [v.rule for v in check_allocation(load_instance(scenario), frame)] == ["kind"]


CASES = {
    "over_capacity": (place("S9", "O2", "", "partial", "x"), "capacity"),
    "too_far": (place("S2", "FAR", "FAR", "single"), "travel_limit"),
    "reserved_non_priority": (place("S2", "R1", "R1", "single"), "reserved"),
    # S1 needs accessibility: R1 is accessible, O1 (a free seat otherwise) is not.
    "needs_accessible_at_non_accessible": (place("S1", "O1", "O1", "single"), "accessible"),
    "paired_offer_without_partner": (place("S2", "PA", "PA", "single"), "pair"),
    "pair_below_min_group": (place("S5", "", "", "unplaced", "x"), "min_group"),
    "two_week_offer_split": (place("S2", "O1", "", "partial", "x"), "split_rule"),
    "two_week_offers_split_in_split": (place("S2", "O1", "O4", "split"), "split_rule"),
    "convention_moved": (place("S6", "O1", "O1", "single"), "convention"),
    "convention_week_dropped": (place("S8", "", "", "unplaced", "x"), "convention"),
    "wrong_kind": (setf("S3", kind="single"), "kind"),
    "unknown_kind": (setf("S2", kind="double"), "kind"),
    "wrong_minutes": (setf("S2", week1_minutes="99.9"), "minutes"),
    "missing_minutes": (setf("S2", week2_minutes=""), "minutes"),
    "minutes_without_offer": (setf("S9", week1_minutes="12.0"), "minutes"),
    "non_numeric_minutes": (setf("S2", week1_minutes="vingt"), "minutes"),
    "missing_reason": (setf("S9", reason=""), "reason"),
    "unexpected_reason": (setf("S2", reason="parce que"), "reason"),
    "missing_row": (drop("S9"), "rows"),
    "rows_out_of_order": (swap("S2", "S3"), "rows"),
    "duplicated_row": (append({**dict(zip(COLUMNS, ["S9", SCHOOL, "", "", "", "",
                                                     "unplaced", "x"], strict=True))}),
                       "rows"),
    "unknown_student_row": (append(dict(zip(COLUMNS, ["X1", SCHOOL, "", "", "", "",
                                                      "unplaced", "x"], strict=True))),
                            "rows"),
    "wrong_school": (setf("S2", school_id="0760095R"), "rows"),
    "self_placed_assigned": (place("S7", "O1", "O1", "self_placed"), "status"),
    "self_placed_written_unplaced": (place("S7", "", "", "unplaced", "x"), "status"),
    "exempt_written_unplaced": (place("S10", "", "", "unplaced", "x"), "status"),
    "to_place_written_exempt": (place("S9", "", "", "exempt"), "status"),
    "offer_used_in_closed_week": (place("S9", "O3", "", "partial", "x"), "period"),
    "withdrawn_offer_used": (place("S9", "W", "W", "single"), "period"),
    "unknown_offer": (setf("S9", week1_offer_id="NOPE", week1_minutes="5.0", kind="partial"),
                      "unknown_offer"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_rule_is_reported_alone(case: str, scenario: Path, tmp_path: Path) -> None:
    edit, rule = CASES[case]
    rows = base_rows()
    edit(rows)
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "a.csv"))
    assert violations, case
    assert {v.rule for v in violations} == {rule}, [str(v) for v in violations]


def test_several_violations_are_all_collected(scenario: Path, tmp_path: Path) -> None:
    rows = base_rows()
    for edit in (place("S2", "FAR", "FAR", "single"), setf("S3", kind="single"),
                 setf("S9", reason=""), place("S1", "R1", "", "partial", "x")):
        edit(rows)
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "a.csv"))
    assert {v.rule for v in violations} == {"travel_limit", "kind", "reason", "split_rule"}
    # The same offer both weeks gives one travel violation, not two.
    assert [v.student_id for v in violations if v.rule == "travel_limit"] == ["S2"]


def test_split_two_week_offers_allowed(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path / "scen", split=True)
    rows = base_rows()
    place("S2", "O1", "", "partial", "x")(rows)
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "a.csv")) == []
    place("S2", "O1", "O4", "split")(rows)
    place("S8", "O4", "O1", "split")(rows)
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "b.csv")) == []
    place("S9", "O4", "", "partial", "x")(rows)  # O4 in week 1: S8 and S9 for 1 place
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "c.csv"))
    assert {v.rule for v in violations} == {"capacity"}


def test_convention_is_exempt_from_travel_limit_only_for_its_week(
        scenario: Path, tmp_path: Path) -> None:
    rows = base_rows()
    # S6 signed FAR for both weeks: valid; S8 signed O4 for week 1 only, O4 too is near.
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "a.csv")) == []
    place("S8", "O4", "O4", "single")(rows)
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "b.csv")) == []


def test_convention_on_a_pair_fixes_both_weeks(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path / "scen", conventions=[*CONVENTIONS, ("S4", "PA", "1")])
    rows = base_rows()
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "a.csv")) == []
    place("S4", "PB", "PA", "mutualised")(rows)  # the other direction: both weeks moved
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "b.csv"))
    assert [v.rule for v in violations] == ["convention", "convention"]
    assert "ligne 4 de conventions.csv" in violations[0].message
    assert "impliquée par une paire" in violations[1].message
    place("S4", "PA", "PB", "mutualised")(rows)
    place("S5", "", "", "unplaced", "x")(rows)
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "c.csv"))
    assert [v.rule for v in violations] == ["min_group"]
    assert "dont 1 par convention signée" in violations[0].message


def test_empty_assignments_report_every_pupil_missing(scenario: Path, tmp_path: Path) -> None:
    path = write_assignments(scenario, [], tmp_path / "a.csv")
    violations = check_files(scenario, path)
    assert {v.rule for v in violations} == {"rows"}
    assert [v.student_id for v in violations] == [s[0] for s in STUDENTS]


def test_minutes_tolerance(scenario: Path, tmp_path: Path) -> None:
    rows = base_rows()
    path = write_assignments(scenario, rows, tmp_path / "a.csv")
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    exact = float(written.loc[1, "week1_minutes"])
    setf("S2", week1_minutes=f"{exact + 0.04:.2f}")(rows)
    assert check_files(scenario, write_assignments(scenario, rows, tmp_path / "b.csv")) == []
    setf("S2", week1_minutes=f"{exact + 0.2:.1f}")(rows)
    violations = check_files(scenario, write_assignments(scenario, rows, tmp_path / "c.csv"))
    assert [v.rule for v in violations] == ["minutes"]


def test_missing_column_is_a_rows_violation(scenario: Path, tmp_path: Path) -> None:
    path = write_assignments(scenario, base_rows(), tmp_path / "a.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["reason"])
    frame.to_csv(path, index=False)
    violations = check_files(scenario, path)
    assert [v.rule for v in violations] == ["rows"]
    assert "reason" in violations[0].message


def test_violation_text() -> None:
    assert str(Violation("capacity", "offre O1 pleine", "S1")) == "[capacity] S1: offre O1 pleine"
    assert str(Violation("min_group", "paire P1")) == "[min_group] paire P1"


def test_cli_exit_codes(scenario: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    good = write_assignments(scenario, base_rows(), tmp_path / "good.csv")
    result = runner.invoke(main, ["check", str(scenario), str(good)])
    assert result.exit_code == 0, result.output
    assert "valide" in result.output

    rows = base_rows()
    place("S9", "O2", "", "partial", "x")(rows)
    bad = write_assignments(scenario, rows, tmp_path / "bad.csv")
    result = runner.invoke(main, ["check", str(scenario), str(bad)])
    assert result.exit_code == 1
    assert "[capacity] offre O2, semaine 1 : 2 élèves pour 1 place(s)" in result.output

    broken = tmp_path / "broken.toml"
    broken.write_text(scenario.read_text(encoding="utf-8").replace("[rules]", "[rulez]"),
                      encoding="utf-8")
    result = runner.invoke(main, ["check", str(broken), str(good)])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "rulez" in result.output

    result = runner.invoke(main, ["check", str(scenario), str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)


def test_check_imports_no_solver_code() -> None:
    # The checker re-derives every rule from the inputs: it never reads the engine's code,
    # nor the analysis built on it (import-linter enforces the same in CI).
    forbidden = {"engine", "analysis", "pipeline", "cli"}
    imported: set[str] = set()
    for node in ast.walk(ast.parse(CHECK_PY.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                imported.add("affectation." + (node.module or ""))
                imported.update(f"affectation.{alias.name}" for alias in node.names
                                if not node.module)
            else:
                imported.add(node.module or "")
                if node.module == "affectation":
                    imported.update(f"affectation.{alias.name}" for alias in node.names)
    ours = {name.split(".")[1] for name in imported
            if name.startswith("affectation.") and name.count(".") >= 1}
    assert not ours & forbidden, ours & forbidden
    assert ours <= {"domain", "io", "errors", "travel", "geo"}, ours


def test_real_solver_output_passes(tmp_path: Path) -> None:
    from affectation.synthetic.scenario import generate_scenario

    generate_scenario(tmp_path / "s", scale=0.01, seed=1)
    scenario = tmp_path / "s" / "scenario.toml"
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["solve", str(scenario), "--out", str(out),
                                  "--time-limit", "5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["check", str(scenario), str(out / "assignments.csv")])
    assert result.exit_code == 0, result.output


def test_line_numbers_count_the_lines_of_a_multi_line_cell(tmp_path: Path) -> None:
    """Issue 18, defect 9: after a reason written over two lines, rows were named one line
    too early."""
    from conftest import make_scenario, near

    scenario = make_scenario(tmp_path, [{"student_id": "S1", **near()},
                                        {"student_id": "S2", **near()}],
                             [{"offer_id": "O1", "capacity": 0, **near(0.01)}])
    path = tmp_path / "assignments.csv"
    path.write_text(",".join(COLUMNS) + "\n"
                    f'S1,{SCHOOL},,,,,unplaced,"première ligne\nseconde ligne"\n'
                    f"ZZ,{SCHOOL},,,,,unplaced,raison\n"
                    f"S2,{SCHOOL},,,,,unplaced,raison\n", encoding="utf-8")
    found = [str(v) for v in check_files(scenario, path)]
    assert any("ligne 4 : élève absent de students.csv" in v for v in found), found
