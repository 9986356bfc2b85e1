"""A national run on a 2-worker LocalCluster (loopback, no dashboard): valid at every border,
the same bytes with 1 and 2 workers, a proven bound never below the best allocation of the
instance solved whole, and a run killed midway resumed to the bytes of a clean run.

Most tests use four neighbouring académies at scale 0.005 (Normandie, Rennes, Nantes,
Orléans-Tours: 570 pupils, small enough to be solved whole, exactly); one runs the whole
country at scale 0.005 (2,800 pupils, Île-de-France's three académies as one block)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from affectation.analysis.check import check_files
from affectation.engine.bound import full_placement_bound
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.solve import SolveSettings
from affectation.national.runner import Cluster, NationalRun, run_national
from affectation.national.work import NationalSettings
from affectation.pipeline.run import solve_instance
from affectation.synthetic.national import generate_national
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

ACADEMIES = ["nantes", "normandie", "orleans-tours", "rennes"]
TIMING_KEYS = ("wall_seconds", "cpu_seconds", "timings")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("national-small")
    generate_national(folder, scale=0.005, seed=1, academies=ACADEMIES)
    return folder / "scenario.toml"


@pytest.fixture(scope="module")
def run_two(small: Path, tmp_path_factory: pytest.TempPathFactory) -> NationalRun:
    out = tmp_path_factory.mktemp("run-two") / "out"
    lines: list[str] = []
    submitted: list[tuple[str, int]] = []
    submit = Client.submit

    def record(self: Client, *args: Any, **kwargs: Any) -> Any:
        submitted.append((str(kwargs.get("key")), int(kwargs.get("priority", 0))))
        return submit(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "submit", record)
        run = run_national(small, out, Cluster(workers=2), progress=lines.append)
    run.summary["_lines"] = lines
    run.summary["_submitted"] = submitted
    return run


def _files(out: Path) -> dict[str, Any]:
    """Every output file but the work folder, summaries without timing fields or paths."""
    files: dict[str, Any] = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path.is_dir() or rel.parts[0] == ".work":
            continue
        if path.name == "summary.json":
            data = json.loads(path.read_text(encoding="utf-8"))
            for key in TIMING_KEYS:
                data.pop(key, None)
            for entry in data.get("inputs", {}).values():
                entry.pop("path", None)
            files[str(rel)] = data
        else:
            files[str(rel)] = path.read_bytes()
    return files


def test_progress_line_per_block(run_two: NationalRun) -> None:
    lines = run_two.summary["_lines"]
    done = [line for line in lines if " placés sur " in line and "borne" in line
            and "dossier" not in line]
    assert len(done) == len(ACADEMIES)
    assert all(line.startswith(f"[{k + 1}/{len(ACADEMIES)}]") for k, line in enumerate(done))


def test_no_worker_lost_in_a_normal_run(run_two: NationalRun) -> None:
    assert run_two.summary["timings"]["workers_lost"] == []
    assert not any("processus de calcul" in line for line in run_two.summary["_lines"])


def test_a_killed_worker_is_reported_with_the_task_it_ran(tmp_path: Path) -> None:
    """A worker killed mid-task (as the system kills a process when memory runs out): Dask
    runs the task again elsewhere and `workers_lost` names the worker and the task."""
    from affectation.national.runner import _client, workers_lost

    marker = tmp_path / "killed-once"

    def dies_once(path: str) -> int:  # nested: sent to the workers by value
        import os
        import signal
        from pathlib import Path as P
        if not P(path).exists():
            P(path).write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return 42

    with _client(Cluster(workers=2)) as client:
        assert workers_lost(client) == []
        assert client.submit(dies_once, str(marker), key="dies-once", pure=False).result() == 42
        lost = workers_lost(client)
        assert workers_lost(client, since=time.time() + 1) == []  # not since then
    assert len(lost) == 1
    assert lost[0]["tasks"] == ["dies-once"]
    assert lost[0]["worker"].startswith("tcp://127.0.0.1:")


def test_tasks_submitted_longest_first(run_two: NationalRun) -> None:
    """The national bound is submitted before the blocks (it runs beside them, not after
    them, holding a worker through the windows); the folders and each round's windows
    largest first, so that the longest task never starts last."""
    keys = [key for key, _ in run_two.summary["_submitted"]]
    first_block = min(k for k, key in enumerate(keys) if key.startswith("solve_block-"))
    assert keys.index("national-bound") < first_block
    folders = [key.removeprefix("folder-") for key in keys if key.startswith("folder-")]
    pupils = {a: run_two.summary["academies"][a]["students"] for a in folders}
    assert sorted(folders) == sorted(ACADEMIES)
    assert folders == sorted(folders, key=lambda a: (-pupils[a], a))
    windows = [(key.split("-")[1], priority) for key, priority in run_two.summary["_submitted"]
               if key.startswith("window-")]
    assert windows
    for r in {r for r, _ in windows}:
        sizes = [priority for r_, priority in windows if r_ == r]
        assert all(size > 0 for size in sizes)
        assert sizes == sorted(sizes, reverse=True)


def test_union_and_every_folder_valid(run_two: NationalRun, small: Path) -> None:
    out = run_two.out_dir
    assert check_files(small, out / "assignments.csv") == []
    for academy in ACADEMIES:
        folder = out / academy
        assert check_files(folder / "scenario.toml", folder / "results" / "assignments.csv") == []
        summary = json.loads((folder / "results" / "summary.json").read_text(encoding="utf-8"))
        assert summary["placed_full"] <= summary["upper_bound_full"]
        # Every priority pupil placed: the bound is their number, without a flow; it is
        # what the flows prove on the folder's full reach.
        instance = load_instance(folder / "scenario.toml")
        reach = reachable(instance)
        st_ = instance.students
        flows = full_placement_bound(instance, reach, allowed_pairs(instance, reach),
                                     offer_roles(instance), st_.to_place & st_.priority)[0]
        assert summary["upper_bound_priority_full"] == flows.value
    summary = run_two.summary
    for key in ("students", "placed_full", "placed_partial", "unplaced", "upper_bound_full",
                "gap", "solver_status", "status_text", "depends_on_machine_speed", "by_kind",
                "priority_placed_full", "inputs"):
        assert key in summary
    assert 0 <= summary["gap"] == round(1 - summary["placed_full"]
                                        / summary["upper_bound_full"], 6)
    assert sorted(summary["academies"]) == ACADEMIES
    assert summary["placed_full"] == sum(a["placed_full"] for a in summary["academies"].values())
    # By default the blocks' bounds are the engine's with their shares; only the national
    # flow bounds the country.
    assert list(summary["bounds"]) == ["national_flow"]
    assert {b["upper_bound_kind"] for b in summary["blocks"].values()} == {"shares"}
    for block in summary["blocks"].values():
        assert block["placed_full"] <= block["upper_bound_full"]
    assert (out / "flux_academies.csv").read_text(encoding="utf-8").startswith(
        "academy,host_academy,pupils,weeks\n")
    indicators = (out / "indicators.csv").read_text(encoding="utf-8").splitlines()
    kinds = {line.split(",")[0] for line in indicators[1:]}
    assert kinds == {"france", "region_academique", "academie", "department"}


def test_bound_never_below_the_instance_solved_whole(run_two: NationalRun, small: Path,
                                                     tmp_path: Path) -> None:
    whole = solve_instance(load_instance(small), SolveSettings(time_limit_s=120))
    assert whole.summary["solver_status"] == "OPTIMAL"
    summary = run_two.summary
    assert summary["upper_bound_full"] >= whole.summary["placed_full"]
    assert summary["upper_bound_priority_full"] >= whole.summary["priority_placed_full"]
    assert summary["bounds"]["national_flow"]["upper_bound_full"] >= whole.summary["placed_full"]
    assert summary["placed_full"] <= summary["upper_bound_full"]


def test_same_bytes_with_one_and_two_workers(run_two: NationalRun, small: Path,
                                             tmp_path: Path) -> None:
    one = run_national(small, tmp_path / "one", Cluster(workers=1))
    assert _files(one.out_dir) == _files(run_two.out_dir)


def test_resume_after_a_killed_run(run_two: NationalRun, small: Path, tmp_path: Path) -> None:
    """Kill a run once its first block is solved; `--resume` re-solves only the others and
    gives the bytes of a clean run."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "affectation", "national", str(small), "--out", str(out),
               "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((out / ".work" / "blocks").glob("*/marker.json")):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (out / "summary.json").exists()
    # Blocks this small may all finish within one poll before the kill: keep the first
    # finished one only, as if the run had died right after it (each block's marker is what
    # says it is done).
    markers = sorted((out / ".work" / "blocks").glob("*/marker.json"),
                     key=lambda m: (m.stat().st_mtime_ns, str(m)))
    for marker in markers[1:]:
        marker.unlink()
    lines: list[str] = []
    resumed = run_national(small, out, Cluster(workers=2), resume=True, progress=lines.append)
    reused = [line for line in lines if "(repris)" in line and "placés sur" in line]
    assert 1 <= len(reused) < len(ACADEMIES)
    assert _files(resumed.out_dir) == _files(run_two.out_dir)


def test_whole_country_at_scale_0005(tmp_path: Path) -> None:
    """Every académie (Paris, Créteil and Versailles one block) on 2 workers: valid at every
    border, each académie's folder valid on its own, pupils placed across académies; with
    the blocks' bounds alone, the national flow's bound is never above their sum."""
    generate_national(tmp_path / "france", scale=0.005, seed=0)
    scenario = tmp_path / "france" / "scenario.toml"
    run = run_national(scenario, tmp_path / "out", Cluster(workers=2),
                       NationalSettings(block_bounds_alone=True))
    out = run.out_dir
    assert check_files(scenario, out / "assignments.csv") == []
    for academy in ("paris", "creteil", "versailles", "corse", "lille"):
        folder = out / academy
        assert check_files(folder / "scenario.toml", folder / "results" / "assignments.csv") == []
    summary = run.summary
    assert len(summary["academies"]) == 30
    assert len(summary["blocks"]) == 28
    assert summary["blocks"]["ile-de-france"]["academies"] == ["creteil", "paris", "versailles"]
    assert 0 < summary["placed_full"] <= summary["upper_bound_full"]
    alone = summary["bounds"]["sum_of_blocks_alone"]
    assert summary["upper_bound_full"] == summary["bounds"]["national_flow"]["upper_bound_full"]
    assert summary["upper_bound_full"] <= alone["upper_bound_full"]
    assert summary["upper_bound_priority_full"] <= alone["upper_bound_priority_full"]
    assert {b["upper_bound_kind"] for b in summary["blocks"].values()} == {"alone"}
    for academy in ("corse", "lille"):
        folder = json.loads((out / academy / "results" / "summary.json").read_text("utf-8"))
        assert folder["placed_full"] <= folder["upper_bound_full"]
    flux = (out / "flux_academies.csv").read_text(encoding="utf-8").splitlines()
    assert len(flux) > 1
