"""The command line: generate -> solve -> check end to end, exit statuses, default folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_scenario, near

from affectation.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "scen"
    result = invoke("generate", "--out", folder, "--scale", "0.01", "--seed", "5")
    assert result.exit_code == 0, result.output
    return folder


def test_generate_solve_check(generated: Path, tmp_path: Path) -> None:
    for name in ("scenario.toml", "students.csv", "offers.csv"):
        assert (generated / name).is_file()
    out = tmp_path / "res"
    result = invoke("solve", generated / "scenario.toml", "--out", out, "--time-limit", "10",
                    "--seed", "1")
    assert result.exit_code == 0, (result.output, result.exception)
    assert (out / "assignments.csv").is_file() and (out / "summary.json").is_file()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert 200 <= summary["students"] <= 320
    assert summary["placed_full"] <= summary["upper_bound_full"]
    assert summary["seed"] == 1
    rows = (out / "assignments.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == summary["students"] + 1
    result = invoke("check", generated / "scenario.toml", out / "assignments.csv")
    assert result.exit_code == 0, result.output
    assert "valide" in result.output


def test_default_output_folder_is_results_beside_scenario(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_scenario(tmp_path, students=[{"student_id": "S1"}],
                         offers=[{"offer_id": "O", "capacity": 1, **near(0.01)}],
                         folder="campagne")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("solve", path, "--time-limit", "3")
    assert result.exit_code == 0, result.output
    assert not (elsewhere / "results").exists()
    results = path.parent / "results"
    assert (results / "assignments.csv").is_file()
    assert (results / "summary.json").is_file()
    # A relative scenario path: still beside the scenario, not in the working directory.
    monkeypatch.chdir(tmp_path)
    result = invoke("solve", "campagne/scenario.toml", "--time-limit", "3")
    assert result.exit_code == 0
    assert not (tmp_path / "results").exists()
    # Solving again replaces the folder whole, leaving no temporary folder behind.
    assert sorted(p.name for p in results.iterdir()) == [
        ".affectation-result", "assignments.csv", "fairness.csv", "indicators.csv",
        "summary.json"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".results")]


def test_solve_missing_scenario_exits_2_without_traceback(tmp_path: Path) -> None:
    result = invoke("solve", tmp_path / "nope" / "scenario.toml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "scenario.toml" in result.output
    assert not (tmp_path / "out").exists()


def test_solve_missing_scenario_in_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "affectation.cli", "solve", str(tmp_path / "missing.toml")],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip()


def test_solve_bad_input_writes_nothing(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[{"student_id": "S1", "status": "absent"}],
                         offers=[{"offer_id": "O", "capacity": 1}])
    out = tmp_path / "out"
    result = invoke("solve", path, "--out", out)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "students.csv" in result.output and "absent" in result.output
    assert not out.exists()
    assert not (path.parent / "results").exists()


def test_check_reports_violations_with_exit_1(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[{"student_id": "S1"}, {"student_id": "S2"}],
                         offers=[{"offer_id": "O", "capacity": 1, **near(0.01)}])
    res = invoke("solve", path, "--out", tmp_path / "out", "--time-limit", "3")
    assert res.exit_code == 0
    table = tmp_path / "bad.csv"
    table.write_text(
        "student_id,school_id,week1_offer_id,week2_offer_id,week1_minutes,week2_minutes,kind,"
        "reason\n"
        "S1,0140052F,O,O,,,single,\n"
        "S2,0140052F,O,O,,,single,\n", encoding="utf-8")
    result = invoke("check", path, table)
    assert result.exit_code == 1
    assert "capacity" in result.output


def test_check_missing_scenario_exits_2(tmp_path: Path) -> None:
    result = invoke("check", tmp_path / "missing.toml", tmp_path / "a.csv")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [[], ["solve"], ["check"], ["generate"]])
def test_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_solve_help_lists_options() -> None:
    result = invoke("solve", "--help")
    for option in ("--out", "--time-limit", "--seed"):
        assert option in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip()


def test_generate_rejects_non_positive_scale(tmp_path: Path) -> None:
    result = invoke("generate", "--out", tmp_path / "g", "--scale", "0")
    assert result.exit_code == 2
    assert not (tmp_path / "g").exists()


def test_generate_refuses_a_profile_with_national(tmp_path: Path) -> None:
    result = invoke("generate", "--national", "--scale", "0.001", "--out", tmp_path / "g",
                    "--profile", "scarce")
    assert result.exit_code == 2
    assert "--profile" in result.output and "sans --national" in result.output
    assert not (tmp_path / "g").exists()
