"""Travel step with timetables: the Normandy scenario with the synthetic network.

    .venv/bin/python benchmarks/travel.py [--scale 1] [--seed 0] [--dir DIR]

Generates the scenario with `affectation generate --gtfs` (into DIR, default a temporary
folder), then times the travel step twice in fresh processes: reading the scenario and inputs
(the timetable minutes are computed there, as in every command), and `reachable` (every
pupil's reachable offers). The first run starts without cache, the second reads it. Prints
wall and CPU seconds (this process and its workers), the machine's load average and the
counts; each run is a separate process so that imports and compilation are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
start = time.perf_counter()
from affectation.io.inputs import load_instance
from affectation.travel.reach import reachable
instance = load_instance(sys.argv[1])
loaded = time.perf_counter()
reach = reachable(instance)
end = time.perf_counter()
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
public = instance.scenario.travel.mode_names.index("public")
print(json.dumps({
    "wall_s": round(end - start, 2), "load_and_timetables_s": round(loaded - start, 2),
    "reachable_s": round(end - loaded, 2),
    "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 2),
    "pairs": int(reach.n_pairs), "pupils": int(instance.students.n),
    "public_pupils": int((instance.students.mode == public).sum()),
    "offers": int(instance.offers.n),
}))
"""


def run(scenario: Path) -> dict:
    load_before = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", CHILD, str(scenario)], check=True,
                         capture_output=True, text=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="travel-bench-"))
    scenario = folder / "scenario.toml"
    if not scenario.is_file():
        subprocess.run([sys.executable, "-m", "affectation.cli", "generate", "--out",
                        str(folder), "--scale", str(args.scale), "--seed", str(args.seed),
                        "--gtfs"], check=True)
    shutil.rmtree(folder / ".affectation-cache", ignore_errors=True)
    started = time.time()
    first = run(scenario)
    cached = run(scenario)
    print(json.dumps({"scale": args.scale, "seed": args.seed, "cores": os.cpu_count(),
                      "first_run": first, "from_cache": cached,
                      "total_s": round(time.time() - started, 1),
                      "peak_rss_mb_children": round(resource.getrusage(
                          resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}, indent=2))
    if args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
