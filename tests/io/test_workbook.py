"""What we write for spreadsheets carries no live formula (issue 18, defects 2 and 9): the
workbook's cells are text, and CSV cells starting with `=`, `+`, `-`, `@` get a leading
apostrophe (numbers excepted) that our own readers take off again."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_scenario, near

from affectation.analysis.check import check_files
from affectation.cli import main
from affectation.io.output import spreadsheet_cell, spreadsheet_text
from affectation.io.workbook import workbook_bytes

FORMULA = '=HYPERLINK("http://example.org/x","x")'
IDS = [FORMULA, "+33612345678x", "@SOMME(A1)", "-cmd", "-12", "'quoted", "E1"]


def test_the_cell_rule_keeps_numbers_and_round_trips() -> None:
    assert spreadsheet_cell(FORMULA) == "'" + FORMULA
    assert spreadsheet_cell("@x") == "'@x" and spreadsheet_cell("+x") == "'+x"
    assert spreadsheet_cell("-cmd") == "'-cmd"
    assert spreadsheet_cell("-12") == "-12" and spreadsheet_cell("-0.5") == "-0.5"
    assert spreadsheet_cell("E1") == "E1" and spreadsheet_cell("") == ""
    for value in [*IDS, "''x", "'", "'-3"]:
        assert spreadsheet_text(spreadsheet_cell(value)) == value


def test_no_formula_in_the_workbook() -> None:
    table = "student_id,reason,week1_minutes\n" + "\n".join(
        f"{spreadsheet_cell(x)!s},=1+1,-3" for x in IDS if "," not in x) + "\n"
    table += '"' + spreadsheet_cell(FORMULA).replace('"', '""') + '",@x,4.5\n'
    data = workbook_bytes({"assignments.csv": table})
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n)
                              for n in sheets)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [v[0] for v in values] == [x for x in IDS if "," not in x] + [FORMULA]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert values[0][2] == -3  # a negative number stays a number


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    students = [{"student_id": sid, **near(0.001 * k)} for k, sid in enumerate(IDS)]
    offers = [{"offer_id": "=O1", "capacity": 4, **near(0.01)},
              {"offer_id": "O2", "capacity": 4, **near(-0.01)}]
    return make_scenario(base, students, offers, conventions=[])


def test_hostile_ids_are_inert_in_every_output_and_read_back(hostile: Path) -> None:
    """Defect 2: `=HYPERLINK(...)` as a pupil id became a live formula in resultats.xlsx."""
    out = hostile.parent / "R"
    result = CliRunner().invoke(main, ["solve", str(hostile), "--out", str(out), "--xlsx",
                                       "--time-limit", "2"])
    assert result.exit_code == 0, result.output
    with open(out / "assignments.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["student_id"] for r in rows] == [spreadsheet_cell(x) for x in IDS]
    assert all(not r["week1_offer_id"].startswith("=") for r in rows)
    archive = zipfile.ZipFile(out / "resultats.xlsx")
    assert not any(b"<f>" in archive.read(n) for n in archive.namelist()
                   if n.startswith("xl/worksheets/"))
    for path in out.glob("*.csv"):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            assert not any(c and c[0] in "=+@" for c in row), (path.name, row)
    # Round trip: check and repair read our own outputs back.
    assert check_files(hostile, out / "assignments.csv") == []
    result = CliRunner().invoke(main, ["repair", str(hostile), "--previous", str(out),
                                       "--out", str(hostile.parent / "R2")])
    assert result.exit_code == 0, result.output
    changes = (hostile.parent / "R2" / "changes.csv").read_text(encoding="utf-8")
    assert changes.count("\n") == 1  # nothing changed, nobody moved
    result = CliRunner().invoke(main, ["explain", str(hostile), str(out), FORMULA])
    assert result.exit_code == 0, result.output
