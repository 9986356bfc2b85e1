"""Nothing lost: two `record` runs from two schools at once (two processes) both land, and a
`load` killed midway (SIGKILL inside its transaction) leaves the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from store_helpers import FIRST, SCHOOL_A, SCHOOL_B, cli, db_url, loaded, table_rows, write_result

__all__ = ["db_url", "loaded"]
REPO = Path(__file__).resolve().parents[2]


def _sheet(path: Path, pupils: list[str]) -> Path:
    rows = [f"{s},{r},2026-05-04,papier" for s in pupils
            for r in ("etablissement", "employeur", "eleve", "representant_legal")]
    path.write_text("student_id,role,date,mode,offer_id\n"
                    + "\n".join(f"{r}," + {"S2": "B", "S3": "P1"}.get(r.split(",")[0], "")
                                for r in rows) + "\n", encoding="utf-8")
    return path


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from affectation.cli import main; main()", *args]


def test_two_schools_recording_at_once_lose_nothing(loaded: tuple[Path, str],
                                                    tmp_path: Path) -> None:
    _, url = loaded
    a = _sheet(tmp_path / "a.csv", ["S1", "S2", "S3", "S4", "S5"])
    b = _sheet(tmp_path / "b.csv", ["S6", "S8"])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    procs = [subprocess.Popen(_command("campaign", "record", str(f), "--school", school,
                                       "--db", url), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for f, school in ((a, SCHOOL_A), (b, SCHOOL_B))]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    signatures = table_rows(url, "signature", "agreement_id, role")
    assert len(signatures) == 4 * 7
    signed = {(r[1], r[2]) for r in table_rows(url, "agreement", "id") if r[5] == "signee"}
    assert signed == {("S1", "A"), ("S2", "B"), ("S3", "P1"), ("S4", "D"), ("S5", "B"),
                      ("S6", "A"), ("S8", "A")}


STALL = """
import sys, time
from affectation.store import queries
original = queries._bulk_transition
def stalled(*args, **kwargs):
    original(*args, **kwargs)
    print("inside", flush=True)
    time.sleep(120)
queries._bulk_transition = stalled
from affectation.cli import main
main()
"""


def test_a_load_killed_midway_leaves_the_store_whole(loaded: tuple[Path, str],
                                                     tmp_path: Path) -> None:
    _, url = loaded
    tables = ("run", "placement", "agreement", "event", "pupil", "offer")
    before = {t: table_rows(url, t, "1, 2") for t in tables}
    second = dict(FIRST)
    second.update({"S3": ("A", "A", "single"), "S7": ("C", "C", "single")})
    run2 = write_result(tmp_path / "run2", second)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", STALL, "campaign", "load", str(run2),
                             "--db", url], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    started = time.monotonic()
    line = proc.stdout.readline()
    assert line.strip() == "inside", proc.stderr.read() if proc.stderr else ""
    assert time.monotonic() - started < 120
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert {t: table_rows(url, t, "1, 2") for t in tables} == before
    # The store still works: the same load now goes through.
    cli("campaign", "load", str(run2), "--db", url)
    assert len(table_rows(url, "run", "1")) == 2
