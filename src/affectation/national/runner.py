"""The driver of a national run: phases, Dask tasks, progress, outputs in block order.

    read and check every académie's inputs (nothing runs on a bad input)
    -> survey (one task per block: each pupil's nearest offers)
    -> the national bound (one task, on the rows only: it runs during the two next phases)
    -> coordination (here: one flow shares the border seats between blocks)
    -> block solves (one task per block, the largest first)
    -> border windows re-solved, everything else fixed (rounds of parallel tasks)
    -> académie folders (one task per académie) -> national tables (here)

Dask `distributed` runs the tasks: a `LocalCluster` (worker processes with one thread each,
no dashboard, loopback only) by default, or the scheduler at `scheduler` (`tcp://host:8786`)
for a real cluster; the same code either way. Workers get paths and small specs. Results are
gathered, then used and written in block order, never in completion order; no setting depends
on the number of workers, so the same inputs give the same bytes with 1 or 2 workers (or 32).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectation.io.atomic import mark_folder, reserve_output_dir, write_files
from affectation.national.coordination import Rows, coordinate, reshare
from affectation.national.data import Block, National, read_national
from affectation.national.dispatch import Task, run_tasks
from affectation.national.folders import FolderSpec, academy_folder, folder_shares
from affectation.national.outputs import (
    csv_text,
    flux_table,
    indicators_table,
    national_summary,
    read_minutes,
    summary_text,
    union_assignments,
)
from affectation.national.tasks import (
    BlockSpec,
    BoundSpec,
    national_bound,
    solve_block,
    survey_block,
)
from affectation.national.windows import run_windows
from affectation.national.work import (
    WORK,
    NationalSettings,
    blocks_dir,
    load_arrays,
    load_json,
    load_shares,
    save_arrays,
    save_json,
    save_national,
    save_shares,
    work_dir,
)

Progress = Callable[[str], None]
# The national tables at the root of the output folder.
NATIONAL_FILES = ("assignments.csv", "summary.json", "indicators.csv", "flux_academies.csv")


@dataclass(frozen=True)
class Cluster:
    """Where the tasks run: `workers` local worker processes, or a `scheduler` address."""

    workers: int = 2
    scheduler: str | None = None


@dataclass
class NationalRun:
    """What a national run produced: the national summary and the output folder."""

    summary: dict[str, Any]
    out_dir: Path


def french_int(n: int) -> str:
    """22943 -> '22 943' (narrow no-break space, as French typography has it)."""
    return f"{int(n):,}".replace(",", "\u202f")


class BlockFailed(RuntimeError):
    """Some blocks could not be solved (the others were)."""


def run_national(scenario: Path, out_dir: Path, cluster: Cluster | None = None,
                 settings: NationalSettings | None = None, resume: bool = False,
                 progress: Progress | None = None) -> NationalRun:
    """Solve the national scenario into `out_dir` (see the module docstring)."""
    cluster = cluster or Cluster()
    settings = settings or NationalSettings()
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    nat = read_national(Path(scenario))  # raises NationalInputError before anything runs
    with reserve_output_dir(Path(out_dir), "national", [Path(scenario)]):
        return _run(nat, Path(out_dir), cluster, settings, resume, say, started)


def _run(nat: National, out_dir: Path, cluster: Cluster, settings: NationalSettings,
         resume: bool, say: Progress, started: float) -> NationalRun:
    """The run once its output folder is ours (locked)."""
    work = work_dir(out_dir)
    academies_present = sorted(set(nat.student_academy.tolist()))
    mark_folder(out_dir, "national", [WORK, *academies_present, *NATIONAL_FILES])
    if not resume and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    save_national(work, nat)
    blocks = nat.blocks()
    say(f"{len(blocks)} blocs, {french_int(nat.instance.students.n)} élèves, "
        f"{french_int(nat.instance.offers.n)} offres")
    timings: dict[str, Any] = {"read": round(time.perf_counter() - started, 3)}
    with _client(cluster) as client:
        since = time.time()
        lap = time.perf_counter()
        surveys = _run_blocks(client, survey_block, [
            BlockSpec(str(work), b, settings, resume) for b in blocks], blocks, say,
            "portées", lambda b, r: f"{french_int(r['pairs'])} paires, "
                                    f"{r['candidates']} offres par élève au plus",
            priority={b.code: len(nat.block_pupils(b)) for b in blocks})
        timings["survey"] = round(time.perf_counter() - lap, 3)
        # The national bound needs the rows only: it runs while the driver coordinates and
        # then beside the blocks, not after them (a worker held by it through the windows
        # and folders left those phases one worker).
        bound_future = client.submit(national_bound, BoundSpec(
            str(work), tuple(blocks), settings, resume), key="national-bound", pure=False)
        busy = (bound_future,)  # its worker takes no other task until it ends
        lap = time.perf_counter()
        shares = _coordinate(work, nat, blocks)
        save_shares(work, shares)
        timings["coordination"] = round(time.perf_counter() - lap, 3)
        say(f"coordination : {french_int(shares.stats['border_offers'])} offres frontalières "
            f"partagées entre blocs")
        lap = time.perf_counter()
        sizes = {b.code: s["pairs"] for b, s in zip(blocks, surveys, strict=True)}
        outcomes = _run_blocks(client, solve_block, [
            BlockSpec(str(work), b, settings, resume) for b in blocks], blocks, say,
            "blocs", _block_line, priority=sizes, busy=busy)
        timings["blocks"] = round(time.perf_counter() - lap, 3)
        allocation = _block_allocations(work, nat, blocks)
        timings["blocks_seconds"] = {b["block"]: b["seconds"] for b in outcomes}
        lap = time.perf_counter()
        allocation, outcomes, reshared = _reshare_rounds(client, work, nat, blocks, allocation,
                                                        outcomes, settings, resume, say, sizes,
                                                        busy)
        timings["reshare"] = round(time.perf_counter() - lap, 3)
        lap = time.perf_counter()
        windows: dict[str, Any] = {"rounds": 0, "windows": 0, "pupils_placed_more": 0}
        if settings.windows:
            allocation, windows = run_windows(client, work, nat, blocks, allocation, settings,
                                              resume, say, busy)
        timings["windows"] = round(time.perf_counter() - lap, 3)
        save_arrays(work / "allocation.npz", allocation=allocation)
        lap = time.perf_counter()
        academies = _write_folders(client, work, nat, blocks, allocation, Path(out_dir),
                                   settings, resume, say, busy)
        timings["folders"] = round(time.perf_counter() - lap, 3)
        bound = bound_future.result()
        lost = workers_lost(client, since)
    for gone in lost:
        say(f"attention : un processus de calcul s'est arrêté en cours de tâche (mémoire "
            f"épuisée ?) ; tâche(s) relancée(s) sur un autre : {', '.join(gone['tasks'])}")
    lap = time.perf_counter()
    folders = {a: Path(out_dir) / a for a in academies}
    union = union_assignments(nat, folders)
    minutes = read_minutes(union, nat.instance.students.n)
    files: dict[Path, str | bytes] = {
        Path(out_dir) / "assignments.csv": union,
        Path(out_dir) / "indicators.csv": csv_text(indicators_table(nat, allocation, minutes)),
        Path(out_dir) / "flux_academies.csv": csv_text(flux_table(nat, allocation)),
    }
    timings["tables"] = round(time.perf_counter() - lap, 3)
    timings["bound_seconds"] = bound["seconds"]
    timings["reshare_seconds"] = reshared.pop("seconds")
    timings["folders_seconds"] = {a: academies[a].pop("seconds") for a in academies}
    timings["total"] = round(time.perf_counter() - started, 3)
    timings["workers"] = cluster.scheduler or cluster.workers
    timings["workers_lost"] = lost
    extra = {"coordination": shares.stats, "reshare": reshared, "windows": windows,
             "settings": dataclasses.asdict(settings),
             "offers_shared_beyond_capacity": academies_overcommitted(work)}
    summary = national_summary(nat, allocation, academies, outcomes, bound, extra, timings)
    files[Path(out_dir) / "summary.json"] = summary_text(summary)
    write_files(files)
    return NationalRun(summary, Path(out_dir))


def _block_allocations(work: Path, nat: National, blocks: list[Block]) -> np.ndarray:
    """The national allocation assembled from the blocks' (national offer indices)."""
    allocation = np.full((nat.instance.students.n, 2), -1, dtype=np.int64)
    for b in blocks:
        data = load_arrays(work / "blocks" / b.code / "allocation.npz")
        allocation[data["pupils"]] = data["allocation"]
    return allocation


def missing_by_offer(work: Path, nat: National, blocks: list[Block], allocation: np.ndarray
                     ) -> np.ndarray:
    """(blocks, offers): pupils of each block not placed for both weeks who have the offer
    in their rows."""
    st = nat.instance.students
    n_o = nat.instance.offers.n
    missing = st.to_place & (allocation < 0).any(axis=1)
    need = np.zeros((len(blocks), n_o), dtype=np.int64)
    for k, b in enumerate(blocks):
        data = load_arrays(work / "survey" / b.code / "rows.npz")
        owner = np.repeat(data["pupils"], data["lengths"])
        offer = data["offer"][missing[owner]].astype(np.int64)
        need[k] = np.bincount(offer, minlength=n_o)
    return need


def _reshare_rounds(client: Any, work: Path, nat: National, blocks: list[Block],
                    allocation: np.ndarray, outcomes: list[dict[str, Any]],
                    settings: NationalSettings, resume: bool, say: Progress,
                    sizes: dict[str, int], busy: Sequence[Any] = ()
                    ) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Rounds of `coordination.reshare`: the border seats the blocks left free go to the
    blocks whose pupils miss them, and those blocks are solved again; a block's new result
    is kept when it places at least as many priority pupils, then pupils for both weeks,
    then for one week (else it keeps its allocation, within its new shares too)."""
    outcomes = list(outcomes)
    position = {b.code: k for k, b in enumerate(blocks)}
    info: dict[str, Any] = {"rounds": 0, "blocks_solved": 0, "blocks_improved": 0,
                            "pupils_placed_more": 0, "seconds": {}}
    for r in range(1, settings.reshare_rounds + 1):
        need = missing_by_offer(work, nat, blocks, allocation)
        # Only small blocks on the HiGHS path take part (a few seconds each to solve again).
        most = min(settings.exact_max_columns, settings.reshare_max_pairs)
        fast = [b.code for b, o in zip(blocks, outcomes, strict=True)
                if settings.exact_levels and o["students_to_place"] <= settings.exact_max_pupils
                and o["pairs"] <= most]
        shares, grew = reshare(nat, blocks, load_shares(work, r - 1), allocation, need,
                               fast)
        save_shares(work, shares, r)
        if not grew:
            break
        chosen = [b for b in blocks if b.code in grew]
        say(f"parts frontalières redistribuées (tour {r}) : "
            f"{french_int(shares.stats['reshared_seats'])} place(s) libre(s) de "
            f"{french_int(shares.stats['reshared_offers'])} offre(s), {len(chosen)} bloc(s) "
            f"recalculé(s)")
        results = _run_blocks(client, solve_block, [
            BlockSpec(str(work), b, settings, resume, r) for b in chosen], chosen, say,
            "blocs", _block_line, priority=sizes, busy=busy)
        info["rounds"] = r
        for b, result in zip(chosen, results, strict=True):
            info["blocks_solved"] += 1
            info["seconds"][f"{b.code}:{r}"] = result["seconds"]
            old = outcomes[position[b.code]]
            key = ("priority_placed_full", "placed_full", "placed_partial")
            if tuple(result[k] for k in key) < tuple(old[k] for k in key):
                continue
            data = load_arrays(blocks_dir(work, r) / b.code / "allocation.npz")
            allocation[data["pupils"]] = data["allocation"]
            info["blocks_improved"] += int(result["placed_full"] > old["placed_full"])
            info["pupils_placed_more"] += result["placed_full"] - old["placed_full"]
            outcomes[position[b.code]] = {**result, "reshare_round": r}
    return allocation, outcomes, info


def academies_overcommitted(work: Path) -> int:
    return int(load_json(work / "folders" / "shares.json")["overcommitted"])


def _write_folders(client: Any, work: Path, nat: National, blocks: list[Block],
                   allocation: np.ndarray, out_dir: Path, settings: NationalSettings,
                   resume: bool, say: Progress, busy: Sequence[Any] = ()
                   ) -> dict[str, Any]:
    """Every académie's v1 folder (tasks, beside the futures of `busy`), in académie order;
    their summaries."""
    listed: dict[str, np.ndarray] = {}
    block_of = {}
    for b in blocks:
        data = load_arrays(work / "survey" / b.code / "summary.npz")
        for a in b.academies:
            listed[a] = data[f"reached:{a}"]
            block_of[a] = b.code
    shares, overcommitted = folder_shares(nat, listed, allocation)
    arrays: dict[str, np.ndarray] = {}
    for a, (offers, capacity) in shares.items():
        arrays[f"offers:{a}"] = offers
        arrays[f"capacity:{a}"] = capacity
    save_arrays(work / "folders" / "shares.npz", **arrays)
    save_json(work / "folders" / "shares.json", {"overcommitted": overcommitted})
    academies = sorted(listed)
    # The largest académies first (Île-de-France's, with their own bounds, take the
    # longest): none is left to run alone at the end while the other workers idle.
    pupils = {a: int((nat.student_academy == a).sum()) for a in academies}
    tasks = [Task(f"folder-{a}", academy_folder, FolderSpec(
        str(work), a, block_of[a], str(out_dir / a), settings, resume), pupils[a])
        for a in sorted(academies, key=lambda a: (-pupils[a], a))]
    results: dict[str, Any] = {}
    for done, (task, future) in enumerate(run_tasks(client, tasks, busy), start=1):
        a = task.spec.academy
        results[a] = future.result()
        r = results[a]
        say(f"[{done}/{len(academies)}] dossier {nat.academy_names.get(a, a)} : "
            f"{french_int(r['placed_full'])} placés sur {french_int(r['students_to_place'])}, "
            f"borne {french_int(r['upper_bound_full'])}")
    return {a: results[a] for a in academies}


def workers_lost(client: Any, since: float = 0.0) -> list[dict[str, Any]]:
    """Workers that left the cluster unexpectedly since `since` (epoch seconds: a shared
    scheduler keeps the events of earlier runs), killed, e.g., by the system when memory ran
    out, each with the tasks it was running: Dask runs those again on another worker, so the
    result is the same, but the run took longer and the user must know why."""
    lost = []
    for stamp, msg in client.get_events("all"):
        if stamp >= since and isinstance(msg, dict) and msg.get("action") == "remove-worker" \
                and not msg.get("expected", False):
            lost.append({"worker": str(msg.get("worker", "")),
                         "tasks": sorted(str(k) for k in msg.get("processing-tasks", ()))})
    return lost


def _block_line(block: Block, r: dict[str, Any]) -> str:
    return (f"{french_int(r['placed_full'])} placés sur {french_int(r['students_to_place'])}, "
            f"borne {french_int(r['upper_bound_full'])}, {r['seconds']:.0f} s")


def _run_blocks(client: Any, fn: Callable[[BlockSpec], dict[str, Any]],
                specs: list[BlockSpec], blocks: list[Block], say: Progress, what: str,
                line: Callable[[Block, dict[str, Any]], str],
                priority: dict[str, int] | None = None, busy: Sequence[Any] = ()
                ) -> list[Any]:
    """Run `fn` on every spec, the largest (`priority`) first, beside the futures of `busy`
    (`dispatch.run_tasks`); a progress line per finished block (completion order); the
    results in block order. Blocks that fail are named together at the end."""
    weight = priority or {}
    tasks = [Task(f"{fn.__name__}-{spec.block.code}", fn, spec, weight.get(spec.block.code, 0))
             for spec in sorted(specs, key=lambda sp: (-weight.get(sp.block.code, 0),
                                                       sp.block.code))]
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    done = 0
    for task, future in run_tasks(client, tasks, busy):
        block = task.spec.block
        done += 1
        try:
            result = future.result()
        except Exception as exc:  # a block's failure must not stop the others
            failed[block.code] = f"{type(exc).__name__}: {exc}"
            say(f"[{done}/{len(specs)}] {block.name} : échec ({failed[block.code]})")
            continue
        results[block.code] = result
        reused = " (repris)" if result.get("reused") else ""
        say(f"[{done}/{len(specs)}] {block.name} : {line(block, result)}{reused}")
    if failed:
        raise BlockFailed("blocs en échec : " + ", ".join(
            f"{code} ({why})" for code, why in sorted(failed.items())))
    return [results[b.code] for b in blocks]


def _coordinate(work: Path, nat: National, blocks: list[Block]) -> Any:
    nearest: dict[str, Rows] = {}
    reached: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for b in blocks:
        data = load_arrays(work / "survey" / b.code / "summary.npz")
        nearest[b.code] = Rows(data["pupils"], data["indptr"], data["offer"],
                               data["deciminutes"])
        reached[b.code] = (data["reached"], data["reached_count"])
    return coordinate(nat, blocks, nearest, reached)


class _client:
    """A Dask client on a LocalCluster (or on `cluster.scheduler`), closed on exit."""

    def __init__(self, cluster: Cluster) -> None:
        self.spec = cluster
        self.local: Any = None
        self.client: Any = None

    def __enter__(self) -> Any:
        from distributed import Client, LocalCluster

        if self.spec.scheduler:
            self.client = Client(self.spec.scheduler)
            return self.client
        self.local = LocalCluster(
            n_workers=max(1, self.spec.workers), threads_per_worker=1, processes=True,
            dashboard_address=None, host="127.0.0.1", memory_limit=0,
            silence_logs=logging.ERROR)
        self.client = Client(self.local)
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.local is not None:
            self.local.close()
