"""Every defective input stops `affectation solve` with exit status 2, a message naming the place
(file, line, column, value), no traceback, and nothing written (spec: general rules).

Each folder of tests/fixtures/bad is the good fixture with one defect. Its `expected.txt` lists
the problems the run must report, in order, one block each:

- a line at the margin: the problem's exact place and value, as printed before what was
  expected (`students.csv, ligne 4, colonne « priority » : valeur « peut-être »`): the
  reported line must start with it followed by " : ", so that a wrong line, column or value
  fails (« lat » is not « latitude », « 1 » is not « 12 »), and so does a place left out;
  `{folder}` stands for the fixture's folder;
- indented lines under it: parts of what was expected, found in that same reported line.

The run must report exactly these problems: one more or one fewer fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from affectation.cli import main
from affectation.errors import InputError

BAD = FIXTURES / "bad"
GOOD = FIXTURES / "good"

# Folders whose correct message the engine does not produce yet (bugs reported to the lead).
KNOWN_BUGS: dict[str, str] = {}

# Folders for a decided rule that is implemented but not switched on yet.
PENDING: dict[str, str] = {}

FOLDERS = sorted(p for p in BAD.iterdir() if p.is_dir())


def _param(folder: Path) -> object:
    reason = KNOWN_BUGS.get(folder.name) or PENDING.get(folder.name)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(folder, id=folder.name, marks=marks)


def _expected(folder: Path) -> list[tuple[str, list[str]]]:
    """(exact place and value, parts of what was expected) of each problem, in order."""
    text = (folder / "expected.txt").read_text(encoding="utf-8")
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            assert blocks, f"{folder.name}: an indented line before any place"
            blocks[-1][1].append(line.strip())
        else:
            blocks.append((line.replace("{folder}", str(folder)), []))
    return blocks


def _reported(output: str) -> list[str]:
    """The problem lines of an input error: every line after the heading."""
    lines = output.splitlines()
    assert InputError.heading in lines, output
    return [line for line in lines[lines.index(InputError.heading) + 1:] if line.strip()]


def _solve(scenario: Path, out: Path) -> object:
    return CliRunner().invoke(main, ["solve", str(scenario), "--out", str(out)])


def test_the_bad_fixtures_are_complete() -> None:
    assert len(FOLDERS) >= 33
    for folder in FOLDERS:
        assert (folder / "scenario.toml").is_file(), folder.name
        assert _expected(folder), f"{folder.name}: expected.txt is empty"
    assert set(KNOWN_BUGS) | set(PENDING) <= {f.name for f in FOLDERS}


def test_the_good_fixture_solves(tmp_path: Path) -> None:
    """The baseline of every bad folder is valid: only the defect makes them fail."""
    out = tmp_path / "out"
    result = _solve(GOOD / "scenario.toml", out)
    assert result.exit_code == 0, result.output
    assert (out / "assignments.csv").is_file()
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize("folder", [_param(f) for f in FOLDERS])
def test_bad_input_is_reported_and_nothing_written(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _solve(folder / "scenario.toml", out)
    output = result.output
    assert "Traceback" not in output
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.exception!r}\n{output}"
    expected = _expected(folder)
    reported = _reported(output)
    assert len(reported) == len(expected), f"expected {len(expected)} problem(s):\n{output}"
    for (place, parts), line in zip(expected, reported, strict=True):
        assert line.startswith(place + " : "), f"{place!r} is not the place of:\n{line}"
        rest = line[len(place) + 3:]
        for part in parts:
            assert part in rest, f"{part!r} missing from what was expected:\n{line}"
    assert not out.exists()


@pytest.mark.parametrize("folder", [BAD / "negative_capacity", BAD / "unknown_scenario_key",
                                    BAD / "students_header_only"],
                         ids=["csv", "toml", "no-pupil"])
def test_bad_input_leaves_an_existing_result_folder_untouched(folder: Path,
                                                              tmp_path: Path) -> None:
    """A result folder of ours (marker) may be replaced: the bad input is what stops the run
    (issue 18, defect 5: a header-only students.csv replaced a good result with an empty one)."""
    out = tmp_path / "results"
    out.mkdir()
    (out / "assignments.csv").write_text("student_id\nold\n", encoding="utf-8")
    (out / "summary.json").write_text('{"scenario": "old"}', encoding="utf-8")
    (out / ".affectation-result").write_text(
        '{"command": "solve", "files": ["assignments.csv", "summary.json"]}', encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = _solve(folder / "scenario.toml", out)
    assert result.exit_code == 2, result.output
    assert "Erreur dans les données d'entrée" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_default_result_folder_is_not_created_on_bad_input(tmp_path: Path) -> None:
    """Without --out the results go beside the scenario: bad input must not create them."""
    folder = tmp_path / "scenario"
    shutil.copytree(BAD / "duplicate_offer_id", folder)
    result = CliRunner().invoke(main, ["solve", str(folder / "scenario.toml")])
    assert result.exit_code == 2, result.output
    assert not (folder / "results").exists()


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    """Two bad rows in students.csv are both reported in the same run."""
    folder = tmp_path / "scenario"
    shutil.copytree(GOOD, folder)
    students = folder / "students.csv"
    text = students.read_text(encoding="utf-8")
    text = text.replace("E3,0141796B,49.1700", "E3,0141796B,abc")
    text = text.replace("public,,1,s5,", "tram,,1,s5,")
    students.write_text(text, encoding="utf-8")
    result = _solve(folder / "scenario.toml", tmp_path / "out")
    assert result.exit_code == 2
    first, second = _reported(result.output)
    assert first.startswith("students.csv, ligne 4, colonne « lat » : valeur « abc » : ")
    assert second.startswith("students.csv, ligne 5, colonne « mode » : valeur « tram » : ")
