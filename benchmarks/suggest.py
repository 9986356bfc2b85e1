"""`suggest` speed: seconds per pupil once the scenario and the result are loaded (issue 4).

Loads the scenario, a result folder and the reachable pairs once (timed apart: every command
pays them), then runs `suggest.suggest` and formats its table for a few pupils of each kind
(unplaced, partial, single, split, mutualised), spread over the input order, and prints the
seconds per pupil by kind. The target: under a second per pupil on the Normandy scenario.

    python benchmarks/suggest.py --result RESULT_DIR [--scenario SCENARIO] [--per-kind 5]
                                 [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from affectation.analysis.suggest import suggest, suggestions_table
from affectation.io.results import read_assignments
from affectation.travel.loading import load_instance
from affectation.travel.reach import pupil_travel, reachable

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("unplaced", "partial", "single", "split", "mutualised")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=ROOT / "scenarios/normandie/scenario.toml")
    p.add_argument("--result", type=Path, required=True, help="a result folder of `solve`")
    p.add_argument("--per-kind", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="folder for suggest.json")
    args = p.parse_args(argv)

    started = time.perf_counter()
    instance = load_instance(args.scenario)
    result = read_assignments(instance, args.result / "assignments.csv")
    loaded = time.perf_counter()
    travel = pupil_travel(instance)
    reach = reachable(instance, travel)
    reached = time.perf_counter()
    rows = []
    for kind in KINDS:
        pupils = np.flatnonzero(result.kind == kind)
        if not len(pupils):
            continue
        picks = pupils[np.linspace(0, len(pupils) - 1, min(args.per_kind, len(pupils)))
                       .astype(int)]
        for s in picks:
            t = time.perf_counter()
            found = suggest(instance, result.allocation, reach, travel, int(s))
            suggestions_table(instance, result.allocation, int(s), found, 10,
                              instance.scenario.output.language)
            rows.append({"kind": kind, "student_id": str(instance.students.ids[s]),
                         "offers": len(found), "seconds": round(time.perf_counter() - t, 3)})
    print(f"loading (scenario and result): {loaded - started:.1f} s; "
          f"travel and reachable pairs: {reached - loaded:.1f} s; "
          f"load average {os.getloadavg()[0]:.2f}; {platform.processor() or platform.machine()}"
          f", {os.cpu_count()} cores")
    print("| kind | pupils | seconds per pupil: min / median / max |")
    print("|---|---:|---|")
    for kind in KINDS:
        times = [r["seconds"] for r in rows if r["kind"] == kind]
        if times:
            print(f"| {kind} | {len(times)} | {min(times):.3f} / "
                  f"{statistics.median(times):.3f} / {max(times):.3f} |")
    worst = max(r["seconds"] for r in rows)
    print(f"slowest pupil: {worst:.3f} s (target: under 1 s)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "suggest.json").write_text(json.dumps({
            "scenario": str(args.scenario), "loading_s": round(loaded - started, 3),
            "reach_s": round(reached - loaded, 3), "load_average": os.getloadavg()[0],
            "pupils": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
