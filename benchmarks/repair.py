"""Repair after changes: speed and quality on the Normandy scenario (issue 4).

Solves the scenario (or reuses `--previous`), applies a deterministic set of changes (offers
withdrawn, new pupils, new conventions, capacity changes) to a copy of the input files, then
runs `affectation repair` (with the default `[repair]` settings, then again with
`priority_may_displace = true`) and a fresh `affectation solve` on the changed inputs, in
subprocesses, checks every result with `affectation check`, and reports wall times, pupils
placed (priority pupils apart), pupils displaced for a priority pupil and moves. See
benchmarks/README.md.

    python benchmarks/repair.py --out benchmarks/results            # Normandy, ~3 minutes
    python benchmarks/repair.py --scale 0.05 --light                # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NORMANDIE = ROOT / "scenarios" / "normandie"


def apply_changes(src: Path, dst: Path, assignments: Path, seed: int, withdrawn: int,
                  new_pupils: int, conventions: int, capacities: int) -> dict[str, int]:
    """Copy the scenario folder `src` to `dst` with the changes applied; return their counts.

    Withdrawn offers: unpaired offers holding no convention, half removed from offers.csv,
    half given capacity 0. New pupils: copies of random pupils (new ids, homes moved by up to
    about 1 km). New conventions: pupils to place without one, each signed at one of the five
    nearest open unpaired two-week offers it may use that still has a seat for conventions.
    Capacity changes: unpaired offers, capacity moved by -2..+2 (at least 1, at least its
    conventions).
    """
    rng = np.random.default_rng(seed)
    shutil.copytree(src, dst)
    for extra in ("results",):
        shutil.rmtree(dst / extra, ignore_errors=True)
    students = pd.read_csv(dst / "students.csv", dtype=str, keep_default_na=False)
    offers = pd.read_csv(dst / "offers.csv", dtype=str, keep_default_na=False)
    conv_path = dst / "conventions.csv"
    conv = (pd.read_csv(conv_path, dtype=str, keep_default_na=False) if conv_path.exists()
            else pd.DataFrame(columns=["student_id", "offer_id", "week"]))
    previous = pd.read_csv(assignments, dtype=str, keep_default_na=False)

    signed_offers = set(conv["offer_id"])
    unpaired = ((offers["pair_id"] == "").to_numpy() if "pair_id" in offers
                else np.ones(len(offers), dtype=bool))
    capacity = offers["capacity"].astype(int).to_numpy().copy()
    free_ids = offers.index[unpaired & ~offers["offer_id"].isin(signed_offers)
                            & (capacity > 0)].to_numpy()
    chosen = rng.choice(free_ids, size=withdrawn, replace=False)
    removed, zeroed = chosen[: withdrawn // 2], chosen[withdrawn // 2:]
    capacity[zeroed] = 0
    gone = set(offers.loc[chosen, "offer_id"])

    # Capacity changes on other unpaired offers.
    signed_count = conv["offer_id"].value_counts()
    others = np.setdiff1d(offers.index[unpaired & (capacity > 0)].to_numpy(), chosen)
    for i in rng.choice(others, size=capacities, replace=False):
        low = max(1, int(signed_count.get(offers.at[i, "offer_id"], 0)))
        capacity[i] = max(low, capacity[i] + int(rng.choice([-2, -1, 1, 2])))

    # New conventions near the pupil, on open unpaired two-week offers with room.
    period = offers["period"].replace("", "0").astype(int).to_numpy()
    reserved = offers["reserved"].str.lower().isin(["1", "true", "oui", "yes"]).to_numpy()
    candidates = np.flatnonzero(unpaired & (period == 0) & (capacity > 0)
                                & ~offers["offer_id"].isin(gone).to_numpy())
    lat = offers["lat"].astype(float).to_numpy()
    lon = offers["lon"].astype(float).to_numpy()
    room = capacity.copy()
    for oid, n in signed_count.items():
        room[offers.index[offers["offer_id"] == oid]] -= n
    signed_pupils = set(conv["student_id"])
    priority = students["priority"].str.lower().isin(["1", "true", "oui", "yes"]).to_numpy()
    needs = (students["needs_accessible"].str.lower().isin(["1", "true", "oui", "yes"])
             .to_numpy() if "needs_accessible" in students else np.zeros(len(students), bool))
    status = students["status"].to_numpy() if "status" in students else np.full(
        len(students), "")
    pool = np.flatnonzero((status == "") & ~needs & ~students["student_id"].isin(
        signed_pupils).to_numpy())
    rows = []
    for i in rng.permutation(pool):
        if len(rows) == conventions:
            break
        slat, slon = float(students.at[i, "lat"]), float(students.at[i, "lon"])
        ok = candidates[(room[candidates] > 0) & (~reserved[candidates] | priority[i])]
        if not len(ok):
            break
        d = (lat[ok] - slat) ** 2 + ((lon[ok] - slon) * 0.65) ** 2
        near = ok[np.argsort(d, kind="stable")[:5]]
        o = int(rng.choice(near))
        room[o] -= 1
        rows.append({"student_id": students.at[i, "student_id"],
                     "offer_id": offers.at[o, "offer_id"], "week": ""})
    conv = pd.concat([conv, pd.DataFrame(rows)], ignore_index=True)

    # New pupils: copies of random pupils, homes moved slightly.
    source = rng.choice(np.flatnonzero(status == ""), size=new_pupils, replace=False)
    new = students.loc[source].copy()
    new["student_id"] = [f"NEW{k:05d}" for k in range(new_pupils)]
    new["lat"] = (new["lat"].astype(float) + rng.uniform(-0.01, 0.01, new_pupils)).round(6)
    new["lon"] = (new["lon"].astype(float) + rng.uniform(-0.01, 0.01, new_pupils)).round(6)
    students = pd.concat([students, new], ignore_index=True)

    offers["capacity"] = capacity.astype(str)
    offers = offers.drop(index=removed)
    students.to_csv(dst / "students.csv", index=False)
    offers.to_csv(dst / "offers.csv", index=False)
    conv.to_csv(conv_path, index=False)
    if "conventions" not in (dst / "scenario.toml").read_text(encoding="utf-8"):
        raise SystemExit("the scenario must name a conventions file")
    del previous
    return {"offers_withdrawn": withdrawn, "offers_removed_from_file": len(removed),
            "new_pupils": new_pupils, "new_conventions": len(rows),
            "capacity_changes": capacities}


def run(args: list[str]) -> tuple[float, str, float]:
    """Run `affectation ARGS` in a subprocess: (wall seconds, output, CPU seconds of that
    process alone, from `os.wait4`: a proxy of the wall time on an idle machine)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "affectation.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode("utf-8")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{args[0]} failed ({code}):\n{text}")
    return wall, text, usage.ru_utime + usage.ru_stime


def moves_between(before: Path, after: Path) -> dict[str, int]:
    """Pupils present in both whose placement differs, among those placed in `before`."""
    a = pd.read_csv(before, dtype=str, keep_default_na=False).set_index("student_id")
    b = pd.read_csv(after, dtype=str, keep_default_na=False).set_index("student_id")
    common = a.index.intersection(b.index)
    a, b = a.loc[common], b.loc[common]
    placed = (a["week1_offer_id"] != "") | (a["week2_offer_id"] != "")
    differs = (a["week1_offer_id"] != b["week1_offer_id"]) | (
        a["week2_offer_id"] != b["week2_offer_id"])
    return {"changed": int((placed & differs).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="time limit of the solves (previous and fresh)")
    parser.add_argument("--previous", type=Path, default=None,
                        help="a result folder of the unchanged scenario (skips that solve)")
    parser.add_argument("--light", action="store_true", help="scale 0.05, small changes")
    parser.add_argument("--out", type=Path, default=None, help="folder for repair.json")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this (new) folder and keep it (changed scenario, results)")
    opts = parser.parse_args()
    scale = 0.05 if opts.light else opts.scale
    counts = (10, 20, 15, 5) if opts.light else (100, 200, 150, 50)
    work = Path(tempfile.mkdtemp(prefix="repair-bench-")) if opts.keep is None else opts.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        if scale == 1.0 and not opts.light:
            base = NORMANDIE
        else:
            base = work / "base"
            from affectation.synthetic.scenario import generate_scenario
            generate_scenario(base, scale=scale, seed=opts.seed)
        previous = opts.previous
        if previous is None:
            previous = work / "previous"
            run(["solve", str(base / "scenario.toml"), "--out", str(previous),
                 "--time-limit", str(opts.time_limit), "--seed", str(opts.seed)])
        changed = work / "changed"
        applied = apply_changes(base, changed, previous / "assignments.csv", opts.seed,
                                *counts)
        scenario = changed / "scenario.toml"
        load = os.getloadavg()[0]
        repair_wall, repair_log, repair_cpu = run(["repair", str(scenario), "--previous",
                                                   str(previous), "--out",
                                                   str(work / "repaired")])
        # The same repair with `[repair] priority_may_displace = true` (issue 14's decision).
        displace = changed / "scenario_priority_may_displace.toml"
        displace.write_text(scenario.read_text(encoding="utf-8")
                            + "\n[repair]\npriority_may_displace = true\n", encoding="utf-8")
        if "[repair]" in scenario.read_text(encoding="utf-8"):
            raise SystemExit("the scenario already has a [repair] table: merge it by hand")
        load_displace = os.getloadavg()[0]
        displace_wall, _, displace_cpu = run(["repair", str(displace), "--previous",
                                              str(previous), "--out",
                                              str(work / "repaired_displace")])
        fresh_wall, _, fresh_cpu = run(["solve", str(scenario), "--out", str(work / "fresh"),
                                        "--time-limit", str(opts.time_limit), "--seed",
                                        str(opts.seed)])
        report: dict[str, object] = {"scale": scale, "seed": opts.seed, "changes": applied}
        for name in ("repaired", "repaired_displace", "fresh"):
            summary = json.loads((work / name / "summary.json").read_text(encoding="utf-8"))
            _, check_log, _ = run(["check", str(displace if name == "repaired_displace"
                                                else scenario),
                                   str(work / name / "assignments.csv")])
            report[name] = {
                "placed_full": summary["placed_full"],
                "priority_placed_full": summary["priority_placed_full"],
                "placed_partial": summary["placed_partial"],
                "unplaced": summary["unplaced"],
                "upper_bound_full": summary["upper_bound_full"],
                "wall_seconds_in_summary": summary["wall_seconds"],
                "timings": summary["timings"],
                "valid": "Affectation valide" in check_log,
                "moves_vs_previous": moves_between(previous / "assignments.csv",
                                                   work / name / "assignments.csv"),
            }
        rep = report["repaired"]
        fresh = report["fresh"]
        assert isinstance(rep, dict) and isinstance(fresh, dict)
        summary = json.loads((work / "repaired" / "summary.json").read_text(encoding="utf-8"))
        rep["changes"] = summary["changes"]
        rep["search"] = summary["search"]
        rep["process_wall_seconds"] = round(repair_wall, 2)
        rep["process_cpu_seconds"] = round(repair_cpu, 2)
        rep["load_average_before"] = round(load, 2)
        disp = report["repaired_displace"]
        assert isinstance(disp, dict)
        summary_d = json.loads((work / "repaired_displace" / "summary.json").read_text(
            encoding="utf-8"))
        disp["changes"] = summary_d["changes"]
        disp["search"] = summary_d["search"]
        disp["process_wall_seconds"] = round(displace_wall, 2)
        disp["process_cpu_seconds"] = round(displace_cpu, 2)
        disp["load_average_before"] = round(load_displace, 2)
        report["repaired_priority_may_displace"] = report.pop("repaired_displace")
        fresh["process_wall_seconds"] = round(fresh_wall, 2)
        fresh["process_cpu_seconds"] = round(fresh_cpu, 2)
        report["placed_vs_fresh"] = round(rep["placed_full"] / fresh["placed_full"] - 1, 5)
        text = json.dumps(report, indent=2, ensure_ascii=False)
        print(text)
        print(repair_log.strip())
        if opts.out is not None:
            opts.out.mkdir(parents=True, exist_ok=True)
            (opts.out / "repair.json").write_text(text + "\n", encoding="utf-8")
    finally:
        if opts.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
