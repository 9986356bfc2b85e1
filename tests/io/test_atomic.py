"""The one writer (`io.atomic`): a kill at any instant leaves a whole result folder, old or
new; what a kill leaves behind is cleaned or restored by the next write (issue 18, defect 9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, make_scenario, near
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.analysis.check import check_files
from affectation.errors import OutputError
from affectation.io import atomic


def _files(**texts: str) -> dict:
    return {name.replace("_", "."): (lambda t=text: t) for name, text in texts.items()}


def test_a_kill_between_the_two_renames_is_recovered(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `renameat2` the swap is two renames: a kill between them hid the previous
    folder in `.R.old-*` for good; the next write restores it first."""
    out = tmp_path / "R"
    atomic.write_result_folder(out, _files(summary_json="{}\n", a_csv="old\n"))
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls = []

    def killed_after_first(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the kill lands between the two renames
        real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "rename", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_result_folder(out, _files(summary_json="{}\n", a_csv="new\n"))
    monkeypatch.setattr(atomic.os, "rename", real_rename)
    assert not out.exists()
    assert [p.name[:7] for p in tmp_path.iterdir()] == [".R.old-"]
    atomic.recover_output_dir(out)
    assert (out / "a.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]


def test_stale_temporary_folders_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "R"
    (tmp_path / ".R.tmp-abc").mkdir()
    (tmp_path / ".R.tmp-abc" / "assignments.csv").write_text("half", encoding="utf-8")
    (tmp_path / ".other.tmp-x").mkdir()
    atomic.write_result_folder(out, _files(a_csv="new\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-x", "R"]


def test_the_marker_names_the_command_and_files(tmp_path: Path) -> None:
    out = tmp_path / "R"
    atomic.write_result_folder(out, {"a.csv": lambda: "x", "runs/1/b.csv": lambda: "y"},
                               command="sweep")
    marker = json.loads((out / atomic.MARKER).read_text(encoding="utf-8"))
    assert marker["command"] == "sweep" and marker["files"] == ["a.csv", "runs"]
    assert marker["engine_version"]
    with pytest.raises(OutputError, match="generate"):
        atomic.check_output_dir(out, "generate")
    with pytest.raises(OutputError, match="sweep"):  # a sweep is not an allocation
        atomic.check_output_dir(out, "solve")
    atomic.check_output_dir(out, "sweep")


def test_an_input_inside_the_output_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "R"
    out.mkdir()
    with pytest.raises(OutputError, match="fichiers lus"):
        atomic.check_output_dir(out, "solve", inputs=[out / "scenario.toml"])


# -- Kills at random instants ------------------------------------------------------------------

_SOLVE = """
import sys
from affectation.io import atomic
if sys.argv[1] == "two-renames":
    atomic._exchange = lambda a, b: False
from affectation.cli import main
main(sys.argv[2:])
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("kill")
    students = [{"student_id": f"S{i}", **near(0.002 * i, 0.001 * i)} for i in range(12)]
    offers = [{"offer_id": f"O{j}", "capacity": 2, "period": j % 3, **near(0.01 * j - 0.02)}
              for j in range(5)]
    return make_scenario(base, students, offers, conventions=[])


def _solve(scenario: Path, out: Path, seed: int, way: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _SOLVE, way, "solve", str(scenario), "--out", str(out),
         "--time-limit", "1", "--seed", str(seed)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delay=st.floats(0.0, 1.0), way=st.sampled_from(["exchange", "two-renames"]),
       seed=st.integers(1, 1000))
def test_a_solve_killed_at_any_instant_leaves_a_whole_result(tiny: Path, delay: float,
                                                             way: str, seed: int) -> None:
    """SIGKILL a real `affectation solve` process at a random instant of its run (the delay
    is a share of the time a whole run takes here); the folder holds the old or the new
    result, whole, once the next write's recovery step has run."""
    out = tiny.parent / "R"
    if not out.exists():
        started = time.perf_counter()
        assert _solve(tiny, out, 0, way).wait() == 0
        test_a_solve_killed_at_any_instant_leaves_a_whole_result.whole = (  # type: ignore
            time.perf_counter() - started)
    whole = test_a_solve_killed_at_any_instant_leaves_a_whole_result.whole  # type: ignore
    process = _solve(tiny, out, seed, way)
    time.sleep(delay * whole * 1.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    atomic.recover_output_dir(out)
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".R.")) in (
        [], [".R.lock"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["students"] == 12
    assert (out / atomic.MARKER).is_file()
    assert check_files(tiny, out / "assignments.csv") == []
    rows = (out / "assignments.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 13
