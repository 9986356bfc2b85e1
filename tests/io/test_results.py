"""Reading a result folder back (`io.results`): a previous result must be whole and of this
campaign, else `repair` stops with exit 2 (issue 18, defect 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import make_scenario, near

from affectation.cli import main
from affectation.errors import InputError
from affectation.io.results import read_assignments
from affectation.travel.loading import load_instance

STUDENTS = [{"student_id": f"S{i}", **near(0.001 * i)} for i in range(8)]
OFFERS = [{"offer_id": "O1", "capacity": 3, **near(0.01)},
          {"offer_id": "O2", "capacity": 3, **near(-0.01)}]


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def solved(tmp_path: Path) -> tuple[Path, Path]:
    scenario = make_scenario(tmp_path, STUDENTS, OFFERS, name="campagne-a")
    out = tmp_path / "R"
    result = invoke("solve", scenario, "--out", out, "--time-limit", "2")
    assert result.exit_code == 0, result.output
    return scenario, out


def repair(scenario: Path, previous: Path, out: Path) -> Result:
    return invoke("repair", scenario, "--previous", previous, "--out", out)


def test_a_result_of_another_campaign_is_refused(solved: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    """Ids overlap (S0...S7) but every pupil's school differs: another campaign's result."""
    _, previous = solved
    other = make_scenario(tmp_path, [{**s, "school_id": "0760072R"} for s in STUDENTS], OFFERS,
                          name="campagne-a", folder="other")
    result = repair(other, previous, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "établissement" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_result_of_another_scenario_name_is_refused(solved: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    _, previous = solved
    other = make_scenario(tmp_path, STUDENTS, OFFERS, name="campagne-b", folder="other")
    result = repair(other, previous, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "campagne-a" in result.output and "campagne-b" in result.output


def test_changed_inputs_of_the_same_campaign_are_accepted(solved: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    scenario, previous = solved
    changed = make_scenario(tmp_path, STUDENTS[:6] + [{"student_id": "N1", **near()}],
                            OFFERS[:1], name="campagne-a", folder="changed")
    result = repair(changed, previous, tmp_path / "out")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("cut", ["mid-line", "in-last-cell", "whole-lines"])
def test_a_truncated_assignments_file_is_refused(solved: tuple[Path, Path], tmp_path: Path,
                                                 cut: str) -> None:
    """Cut mid-line, the half row used to be padded and the missing pupils became « nouveaux
    élèves »."""
    scenario, previous = solved
    path = previous / "assignments.csv"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if cut == "mid-line":
        text = "".join(lines[:5]) + lines[5][:9]
    elif cut == "in-last-cell":
        text = text[:-1]  # the final line break: the last row may have lost characters
    else:
        text = "".join(lines[:5])
    path.write_text(text, encoding="utf-8")
    result = repair(scenario, previous, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "assignments.csv" in result.output and "tronqué" in result.output
    assert not (tmp_path / "out").exists()


def test_the_row_count_is_checked_against_the_summary(solved: tuple[Path, Path]) -> None:
    scenario, previous = solved
    summary = json.loads((previous / "summary.json").read_text(encoding="utf-8"))
    summary["students"] += 1
    (previous / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(InputError, match="tronqué"):
        read_assignments(load_instance(scenario), previous / "assignments.csv", changed=True)
