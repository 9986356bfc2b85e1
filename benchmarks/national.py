"""National benchmark: every académie at once, on 1 and 2 Dask workers.

For each scale (1 = France's 560,124 pupils of seconde GT in 2022; with the real head-counts
per lycée of ``../shared/data/national/lycees.csv`` when present, else the population model):

1. generates the national scenario (``affectation generate --national --scale S [--lycees
   CSV]``) in a temporary folder, in a subprocess;
2. for each worker count, runs ``affectation national SCENARIO --out OUT --workers N`` in a
   subprocess and measures its wall time end to end and the **peak memory of the whole
   process tree** (driver, Dask scheduler, nannies and workers: the sum of their resident
   sets, sampled every 0.5 s with psutil, a dependency of Dask) and the peak of any one
   process (a worker's); the load average before;
3. checks the national union with ``affectation check SCENARIO OUT/assignments.csv``;
4. reads ``summary.json``: placed, the proven bound (national flow and sum of the blocks
   alone), the gap, the time of every phase and of every block's solve.

It prints a Markdown table (metrics in rows, runs in columns, targets alongside), the
speed-up from 1 to 2 workers, and an **estimate of the time on 8 and 32 workers** from the
measured task times of the 1-worker run (each task's seconds on one core): the serial phases
(reading, coordination, national tables) plus, for each parallel phase (survey, block solves,
reshare, windows, folders), the makespan of its tasks scheduled longest first on P workers (LPT; the
longest task bounds it from below); the national bound's task runs beside the blocks, so it is
scheduled with them. Writes ``national.md`` and ``national.csv`` into ``--out``.
Targets (printed, never asserted): scale 0.1 <= 5 min, scale 1 <= 45 min on 2 workers,
placed >= 99 % of the proven bound, speed-up 1 -> 2 workers >= 1.7.

The parent never imports ``affectation``. One command::

    .venv/bin/python benchmarks/national.py --scales 0.1 --workers 1,2
    .venv/bin/python benchmarks/national.py --scales 1 --workers 2      # ~30 min, 24 GB box
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LYCEES = REPO.parent / "shared" / "data" / "national" / "lycees.csv"
SPEED_INDEX = REPO.parent / "shared" / "tools" / "speed-index"
TARGET_WALL = {0.1: 300.0, 1.0: 2700.0}
TARGET_RATIO = 0.99
TARGET_SPEEDUP = 1.7


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


class TreeMemory:
    """Peak of the summed resident memory of a process and its descendants, and the peak of
    any one of them (a Dask worker's, in practice: the driver holds little)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0
        self.peak_one = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while not self.stop.is_set():
            total = 0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss = p.memory_info().rss
                    total += rss
                    self.peak_one = max(self.peak_one, rss)
            self.peak = max(self.peak, total)
            self.stop.wait(0.5)

    def finish(self) -> tuple[float, float]:
        self.stop.set()
        self.thread.join()
        return self.peak / 2**20, self.peak_one / 2**20


def run(cmd: list[str], log: Path | None = None) -> tuple[int, float, tuple[float, float]]:
    """(exit status, wall seconds, (peak tree memory MB, peak of one process MB)) of one
    command."""
    started = time.perf_counter()
    err = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        memory = TreeMemory(process.pid)
        process.wait()
        peak = memory.finish()
    finally:
        if not isinstance(err, int):
            err.close()
    return process.returncode, time.perf_counter() - started, peak


def lpt(durations: list[float], workers: int) -> float:
    """Makespan of the tasks scheduled longest first on `workers` identical workers."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for d in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + d)
    return max(loads) if loads else 0.0


def estimate(summary: dict[str, Any], work: Path, workers: int) -> float:
    """Time on `workers` from the task times of a run (see the module docstring)."""
    t = summary["timings"]
    serial = t["read"] + t["coordination"] + t["tables"]
    survey = [load_json(p)["seconds"] for p in sorted((work / "survey").glob("*/info.json"))]
    blocks = list(t["blocks_seconds"].values())
    if "bound_seconds" in t:  # runs beside the blocks (runs before December 3rd: after them)
        blocks.append(t["bound_seconds"])
    folders = list(t["folders_seconds"].values())
    # Windows: measured as a phase; its rounds are as parallel as the blocks they touch.
    windows = t["windows"] / max(1, summary["windows"]["rounds"]) if summary["windows"][
        "rounds"] else 0.0
    rounds = summary["windows"]["rounds"]
    reshare = list(t.get("reshare_seconds", {}).values())
    return (serial + lpt(survey, workers) + lpt(blocks, workers) + lpt(reshare, workers)
            + rounds * windows + lpt(folders, workers))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def speed_index() -> str:
    if not SPEED_INDEX.is_file():
        return "?"
    out = subprocess.run([sys.executable, str(SPEED_INDEX)], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="0.1")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep scenarios and results in this folder")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    base = args.keep or Path(tempfile.mkdtemp(prefix="national-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    index = speed_index()
    cli = [sys.executable, "-m", "affectation"]
    rows: list[dict[str, Any]] = []
    for scale in scales:
        scenario = base / f"france-{scale:g}"
        gen = [*cli, "generate", "--national", "--scale", f"{scale:g}", "--seed",
               str(args.seed), "--out", str(scenario)]
        if LYCEES.is_file():
            gen += ["--lycees", str(LYCEES)]
        status, gen_s, _ = run(gen)
        if status:
            print(f"generation failed at scale {scale:g}", file=sys.stderr)
            return 1
        for n in workers:
            out = base / f"out-{scale:g}-{n}"
            load = load_average()
            print(f"[{scale:g} x {n}] load {load}", file=sys.stderr, flush=True)
            status, wall, (peak, peak_one) = run(
                [*cli, "national", str(scenario / "scenario.toml"), "--out", str(out),
                 "--workers", str(n)], log=base / f"progress-{scale:g}-{n}.txt")
            if status:
                print(f"national run failed ({status}), see progress-{scale:g}-{n}.txt",
                      file=sys.stderr)
                return 1
            check, check_s, _ = run([*cli, "check", str(scenario / "scenario.toml"),
                                     str(out / "assignments.csv")])
            s = load_json(out / "summary.json")
            t = s["timings"]
            longest = max(t["blocks_seconds"].items(), key=lambda kv: kv[1])
            row = {
                "scale": scale, "workers": n, "pupils": s["students"],
                "to_place": s["students_to_place"], "placed_full": s["placed_full"],
                "upper_bound_full": s["upper_bound_full"],
                "bound_national_flow": s["bounds"]["national_flow"]["upper_bound_full"],
                "bound_sum_blocks": s["bounds"].get("sum_of_blocks_alone", {}).get(
                    "upper_bound_full"),
                "ratio": round(s["placed_full"] / s["upper_bound_full"], 5),
                "priority": f"{s['priority_placed_full']}/{s['upper_bound_priority_full']}",
                "wall_s": round(wall, 1), "peak_mb": round(peak),
                "peak_one_process_mb": round(peak_one),
                "valid": check == 0, "check_s": round(check_s, 1),
                "load_before": load, "generate_s": round(gen_s, 1),
                **{f"t_{k}": t.get(k, "") for k in ("read", "survey", "coordination",
                                                    "blocks", "reshare", "windows",
                                                    "folders", "tables")},
                "t_bound_task": t.get("bound_seconds", ""),
                # A worker killed mid-task (out of memory): its task ran twice.
                "workers_lost": "; ".join(",".join(w["tasks"]) or "-"
                                          for w in t.get("workers_lost", [])) or "0",
                "reshare_gain": s.get("reshare", {}).get("pupils_placed_more", ""),
                "longest_block": f"{longest[0]} {longest[1]:.0f} s",
                "windows_gain": s["windows"]["pupils_placed_more"],
                "border_offers": s["coordination"]["border_offers"],
            }
            if n == 1:
                for p in (8, 32):
                    row[f"estimate_{p}_workers_s"] = round(estimate(s, out / ".work", p), 1)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
    text = report(rows, index)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "national.md").write_text(text, encoding="utf-8")
    keys = sorted({k for r in rows for k in r})
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (args.out / "national.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def report(rows: list[dict[str, Any]], index: str) -> str:
    head = ["# National benchmark", "",
            f"Machine: {os.cpu_count()} cores; speed index {index} s "
            "(`/work/shared/tools/speed-index`: a timing T here is about T x 5.0 / index on "
            "the reference machine); the load average before each run is in its column "
            "(the machine is shared).", ""]
    names = [f"{r['scale']:g} x {r['workers']}" for r in rows]
    metrics = [k for k in rows[0] if k not in ("scale", "workers")] if rows else []
    for r in rows[1:]:
        metrics += [k for k in r if k not in metrics and k not in ("scale", "workers")]
    table = ["| metric | " + " | ".join(names) + " | target |",
             "|---|" + "---|" * (len(rows) + 1)]
    for m in metrics:
        target = {"wall_s": "0.1: <= 300, 1: <= 2700 (2 workers)",
                  "ratio": f">= {TARGET_RATIO}", "valid": "True"}.get(m, "")
        table.append(f"| {m} | " + " | ".join(str(r.get(m, "")) for r in rows)
                     + f" | {target} |")
    lines = head + table + [""]
    by_scale: dict[float, dict[int, float]] = {}
    for r in rows:
        by_scale.setdefault(r["scale"], {})[r["workers"]] = r["wall_s"]
    for scale, walls in by_scale.items():
        if 1 in walls and 2 in walls:
            lines.append(f"- Speed-up 1 -> 2 workers at scale {scale:g}: "
                         f"{walls[1] / walls[2]:.2f} (target >= {TARGET_SPEEDUP}).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
