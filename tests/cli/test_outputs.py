"""Output folders and files never destroy what a user owns (issue 18, defects 1, 7, 9):
every writing command refuses, before any work, a folder that is not a result folder of ours,
an existing file given as a folder, a place that cannot be written, and a folder another run
writes to; a French message and exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import REPO, make_scenario, near

from affectation.cli import main
from affectation.io import atomic

STUDENTS = [{"student_id": f"S{i}", **near(0.001 * i)} for i in range(4)]
OFFERS = [{"offer_id": "O1", "capacity": 2, **near(0.01)},
          {"offer_id": "O2", "capacity": 2, **near(-0.01)}]


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert "Impossible d'écrire le résultat" in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = make_scenario(tmp_path, STUDENTS, OFFERS, conventions=[], folder="S")
    (path.parent / "notes.txt").write_text("mes notes\n", encoding="utf-8")
    return path


@pytest.fixture
def result_dir(scenario: Path, tmp_path: Path) -> Path:
    out = tmp_path / "R"
    assert invoke("solve", scenario, "--out", out, "--time-limit", "2").exit_code == 0
    return out


@pytest.mark.parametrize("command", ["solve", "travel", "sweep", "repair"])
def test_writing_into_the_scenario_folder_is_refused(command: str, scenario: Path,
                                                     result_dir: Path) -> None:
    """Defect 1: `solve S/scenario.toml --out S` deleted the scenario and notes.txt."""
    folder = scenario.parent
    before = snapshot(folder)
    extra = {"sweep": ["--vary", "solver.seed=0,1"], "repair": ["--previous", result_dir]}
    result = invoke(command, scenario, "--out", folder, *extra.get(command, []))
    refused(result, "notes.txt")
    assert snapshot(folder) == before


def test_an_existing_file_as_output_folder_is_refused(scenario: Path, tmp_path: Path) -> None:
    target = tmp_path / "rapport.txt"
    target.write_text("à garder\n", encoding="utf-8")
    refused(invoke("solve", scenario, "--out", target), "fichier existant")
    assert target.read_text(encoding="utf-8") == "à garder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S", "rapport.txt"]


def test_a_result_folder_is_replaced_and_marked(scenario: Path, result_dir: Path) -> None:
    marker = json.loads((result_dir / atomic.MARKER).read_text(encoding="utf-8"))
    assert marker["command"] == "solve"
    assert "assignments.csv" in marker["files"]
    result = invoke("solve", scenario, "--out", result_dir, "--time-limit", "2", "--xlsx")
    assert result.exit_code == 0, result.output
    assert (result_dir / "resultats.xlsx").is_file()
    assert not [p for p in result_dir.parent.iterdir() if p.name.startswith(".R.")]


def test_a_result_folder_is_replaced_only_by_the_same_kind_of_output(
        scenario: Path, result_dir: Path) -> None:
    before = snapshot(result_dir)
    refused(invoke("travel", scenario, "--out", result_dir), "solve")
    assert snapshot(result_dir) == before
    result = invoke("repair", scenario, "--previous", result_dir, "--out", result_dir)
    assert result.exit_code == 0, result.output


def test_a_result_folder_with_a_users_file_is_refused(scenario: Path, result_dir: Path) -> None:
    (result_dir / "mes-notes.txt").write_text("x", encoding="utf-8")
    refused(invoke("solve", scenario, "--out", result_dir), "mes-notes.txt")
    assert (result_dir / "mes-notes.txt").is_file()


def test_an_empty_folder_and_a_result_folder_of_before_the_marker_are_accepted(
        scenario: Path, result_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "vide"
    empty.mkdir()
    assert invoke("solve", scenario, "--out", empty, "--time-limit", "2").exit_code == 0
    (result_dir / atomic.MARKER).unlink()  # as written by an earlier version
    assert invoke("solve", scenario, "--out", result_dir, "--time-limit", "2").exit_code == 0


def test_a_folder_under_a_file_is_refused_before_solving(scenario: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 7: a place that cannot be written failed with a traceback after the solve."""
    import affectation.travel.loading as loading

    monkeypatch.setattr(loading, "load_instance", lambda *_: pytest.fail("solved anyway"))
    blocker = tmp_path / "fichier"
    blocker.write_text("x", encoding="utf-8")
    refused(invoke("solve", scenario, "--out", blocker / "results"))


def test_a_read_only_place_is_refused_before_solving(scenario: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions: the read-only file system is simulated at the probe."""
    import errno

    import affectation.travel.loading as loading

    def read_only(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(loading, "load_instance", lambda *_: pytest.fail("solved anyway"))
    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    refused(invoke("solve", scenario, "--out", tmp_path / "ro" / "results"), "lecture seule")


def test_a_full_disk_is_refused_before_solving(scenario: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _: usage(10, 10, 1000))
    refused(invoke("solve", scenario, "--out", tmp_path / "results"), "espace disque")


def test_report_into_an_existing_folder_is_refused(result_dir: Path, tmp_path: Path) -> None:
    """Defect 7: `report --out EXISTING_DIR` ended in a traceback and left a `.DIR.tmp`."""
    folder = tmp_path / "rapport"
    folder.mkdir()
    refused(invoke("report", result_dir, "--out", folder), "dossier existant")
    assert list(folder.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rapport")]


def test_report_on_a_corrupt_summary_is_an_input_error(result_dir: Path, tmp_path: Path) -> None:
    (result_dir / "summary.json").write_text('{"scenario": "x", ', encoding="utf-8")
    result = invoke("report", result_dir, "--out", tmp_path / "r.html")
    assert result.exit_code == 2, (result.output, result.exception)
    assert "summary.json" in result.output and "Traceback" not in result.output


def test_import_offers_into_an_existing_folder_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "offres.csv"
    source.write_text("offer_id,lat,lon,capacity\nA,49.18,-0.37,1\n", encoding="utf-8")
    folder = tmp_path / "sortie"
    folder.mkdir()
    refused(invoke("import-offers", source, "--out", folder), "dossier existant")
    refused(invoke("import-offers", source, "--out", source), "fichiers lus")
    assert source.read_text(encoding="utf-8").startswith("offer_id")


def test_generate_never_overwrites_a_scenario(tmp_path: Path) -> None:
    """Defect 9: `generate` overwrote an existing scenario."""
    folder = tmp_path / "mine"
    make_scenario(tmp_path, STUDENTS, OFFERS, folder="mine")
    before = snapshot(folder)
    refused(invoke("generate", "--out", folder, "--scale", "0.005"), "scenario.toml")
    assert snapshot(folder) == before
    fresh = tmp_path / "gen"
    assert invoke("generate", "--out", fresh, "--scale", "0.005").exit_code == 0
    assert invoke("generate", "--out", fresh, "--scale", "0.005", "--seed", "2").exit_code == 0
    refused(invoke("solve", fresh / "scenario.toml", "--out", fresh), "generate")


@pytest.mark.parametrize("args", [["--time-limit", "-5"], ["--time-limit", "nan"],
                                  ["--time-limit", "inf"], ["--seed", "-1"],
                                  ["--seed", "9223372036854775807"]])
def test_out_of_range_options_are_refused(args: list[str], scenario: Path,
                                          tmp_path: Path) -> None:
    """Defect 9: `--time-limit -5`, `nan` and `--seed -1` were accepted."""
    result = invoke("solve", scenario, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert args[0] in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_second_run_into_the_same_folder_is_refused(scenario: Path, tmp_path: Path) -> None:
    """Defect 9: two solves into one `--out` raced with no lock."""
    out = tmp_path / "R"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from affectation.io.atomic import reserve_output_dir
        with reserve_output_dir({str(out)!r}, "solve"):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused(invoke("solve", scenario, "--out", out), "un autre calcul")
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert invoke("solve", scenario, "--out", out, "--time-limit", "2").exit_code == 0


def test_notices_reach_stderr_as_plain_french_lines(tmp_path: Path) -> None:
    """A home 300 km away from every offer: the run goes on and says so, with the line."""
    far = {"student_id": "LOIN", "lat": 46.5, "lon": -0.37}
    scenario = make_scenario(tmp_path, [*STUDENTS, far], OFFERS, folder="far")
    result = invoke("solve", scenario, "--out", tmp_path / "R", "--time-limit", "2")
    assert result.exit_code == 0, result.output
    assert "Attention : 1 domicile(s) à plus de 100 km de toute offre (students.csv, ligne 6)" \
        in result.output
