"""Where to recruit (`affectation mobilise`) at scale: the time of each stage of the ranking.

Loads a scenario and a result folder of `solve`, then times, in this process: the reachable
pairs (every command pays them), the singles network and its maximum flow, the sites' reach
under the scenario's travel model (`travel.sites`: crowfly, timetables or matrix), and the
total gains of the 71 sites (`SinglesNetwork.gains`: compiled; the first call also loads or
compiles the kernels, so it is timed apart and the gains are timed again). Prints the figures
with the load average and the machine's speed index (`../shared/tools/speed-index` when
present), and writes `mobilisation-MODEL.json` and `mobilisation-MODEL.md` to `--out` (MODEL:
the scenario's travel model, `crowfly` or `gtfs`...).

    .venv/bin/affectation solve scenarios/normandie/scenario.toml --out /tmp/normandie
    .venv/bin/python benchmarks/mobilisation.py --result /tmp/normandie --out benchmarks/results
    # timetables: a scenario generated with `affectation generate --gtfs`, solved the same way
    .venv/bin/python benchmarks/mobilisation.py --scenario DIR/scenario.toml --result DIR/res

Target (issue 16): the ranking itself (sites' reach and gains) in a few seconds at scale 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from affectation.analysis.mobilisation import SinglesNetwork, reach_of_sites, sites
from affectation.io.results import read_assignments
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

ROOT = Path(__file__).resolve().parents[1]
SPEED_INDEX = ROOT.parent / "shared" / "tools" / "speed-index"


def speed_index() -> str:
    """The machine's speed index (seconds), or a note when the tool is absent."""
    if not SPEED_INDEX.is_file():
        return "n/a (../shared/tools/speed-index absent)"
    done = subprocess.run([sys.executable, str(SPEED_INDEX)], capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=ROOT / "scenarios/normandie/scenario.toml")
    p.add_argument("--result", type=Path, required=True, help="a result folder of `solve`")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for mobilisation-MODEL.json and .md")
    args = p.parse_args(argv)

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    instance = load_instance(args.scenario)
    allocation = read_assignments(instance, args.result / "assignments.csv").allocation
    t1 = time.perf_counter()
    reach = reachable(instance)
    t2 = time.perf_counter()
    network = SinglesNetwork(instance, allocation, reach)
    t3 = time.perf_counter()
    where, near = reach_of_sites(instance, sites())
    t4 = time.perf_counter()
    network.gains(near[:1])
    t5, c5 = time.perf_counter(), time.process_time()
    total, direct = network.gains(near)
    t6, c6 = time.perf_counter(), time.process_time()
    figures = {
        "scenario": str(args.scenario), "travel_model": instance.scenario.travel.model,
        "pupils": int(instance.students.n), "offers": int(instance.offers.n),
        "reachable_pairs": int(reach.n_pairs), "movable_pupils": int(network.movable.sum()),
        "reached_pupils": int(network.reached.sum()), "base_flow": network.base,
        "sites": len(where), "gain_total_sum": int(total.sum()),
        "gain_total_max": int(total.max(initial=0)), "direct_gain_sum": int(direct.sum()),
        "load_s": round(t1 - t0, 2), "reachable_s": round(t2 - t1, 2),
        "network_s": round(t3 - t2, 2), "sites_reach_s": round(t4 - t3, 2),
        "first_gain_call_s": round(t5 - t4, 2), "gains_s": round(t6 - t5, 2),
        "gains_cpu_s": round(c6 - c5, 2),
        "ranking_s": round((t4 - t3) + (t6 - t5), 2),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "speed_index": speed_index(), "cores": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    top = np.argsort(-total, kind="stable")[:5]
    lines = [
        f"# `mobilise` stages ({figures['scenario']}, model {figures['travel_model']})", "",
        f"{figures['pupils']} pupils, {figures['offers']} offers, "
        f"{figures['reachable_pairs']:,} reachable pairs; {figures['movable_pupils']} movable "
        f"pupils, {figures['reached_pupils']} reached; base flow {figures['base_flow']}.", "",
        "| stage | seconds |", "|---|---:|",
        f"| load scenario and result | {figures['load_s']} |",
        f"| reachable pairs | {figures['reachable_s']} |",
        f"| singles network, maximum flow | {figures['network_s']} |",
        f"| sites' reach ({figures['sites']} sites) | {figures['sites_reach_s']} |",
        f"| first gains call (one site, kernels loaded) | {figures['first_gain_call_s']} |",
        f"| total gains of every site (CPU of all threads: {figures['gains_cpu_s']} s) | "
        f"{figures['gains_s']} |",
        f"| **ranking (sites' reach + gains)** | **{figures['ranking_s']}** |", "",
        f"Load average {figures['load_average'][0]} -> {figures['load_average'][1]}, "
        f"speed index {figures['speed_index']}, {figures['cores']} cores.", "",
        "Best sites: " + "; ".join(f"{where[k].commune} +{total[k]} ({direct[k]} direct)"
                                   for k in top.tolist()), ""]
    print("\n".join(lines))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = f"mobilisation-{figures['travel_model']}"
        (args.out / f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n",
                                               encoding="utf-8")
        (args.out / f"{stem}.md").write_text("\n".join(lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
