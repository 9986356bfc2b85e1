"""Campaign store at Normandy scale (the bundled scenarios/normandie: 25,556 pupils, 13,000
offers): `campaign load` <= 10 s, `status` <= 2 s, `record` of 1,000 rows <= 2 s, one
school's agreements in seconds, the académie's ~25,000 agreements in <= 15 min on 2 cores.

Each step is one `affectation` command in a child process, timed from outside (the times
include starting Python). Personal details are synthetic (`synthetic.people`).

    .venv/bin/python benchmarks/campaign.py [--db URL] [--all-agreements] [--solve-seconds N]

Writes benchmarks/results/campaign.md. `--all-agreements` renders every agreement once
(about 8 minutes here); without it the académie's figure is extrapolated from one school
and says so. The solve that feeds the store is cached in benchmarks/.cache/.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCENARIO = REPO / "scenarios" / "normandie" / "scenario.toml"
CACHE = REPO / "benchmarks" / ".cache" / "campaign-solve"
RESULTS = REPO / "benchmarks" / "results" / "campaign.md"
AFFECTATION = [sys.executable, "-c", "from affectation.cli import main; main()"]
SPEED_INDEX = REPO.parent / "shared" / "tools" / "speed-index"


def run(*args: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
        ) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([*AFFECTATION, *args], capture_output=True, text=True, env=env,
                          check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in ok:
        sys.exit(f"affectation {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    print(f"  {seconds:7.2f} s  affectation {' '.join(args)[:90]}", file=sys.stderr)
    return seconds, proc.stdout


def solved() -> Path:
    if (CACHE / "assignments.csv").is_file():
        return CACHE
    print("solving the bundled scenario once (cached)...", file=sys.stderr)
    run("solve", str(SCENARIO), "--out", str(CACHE), "--time-limit", str(ARGS.solve_seconds))
    return CACHE


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    try:
        result = solved()
        db = ARGS.db or f"sqlite:///{work / 'campagne.sqlite'}"
        scenario_copy = work / "scenario"
        shutil.copytree(SCENARIO.parent, scenario_copy)
        figures: dict[str, float] = {}
        figures["init"], _ = run("campaign", "init", str(scenario_copy / "scenario.toml"),
                                 "--db", db)
        from affectation.synthetic.people import write_details

        details = write_details(scenario_copy, work / "details", seed=0)
        for command, kind in (("people", "people"), ("schools", "schools"),
                              ("employers", "employers"), ("offer-details", "offers")):
            figures[f"details {kind}"], _ = run("campaign", command, str(details[kind]),
                                                "--db", db)
        figures["load"], out = run("campaign", "load", str(result), "--db", db)
        figures["load again (same run)"], _ = run("campaign", "load", str(result), "--db", db)
        figures["status"], _ = run("campaign", "status", "--db", db)
        figures["status --by school"], _ = run("campaign", "status", "--by", "school",
                                               "--db", db)
        figures["send (all)"], _ = run("campaign", "send", "--db", db)
        rows = []
        with open(SCENARIO.parent / "conventions.csv", encoding="utf-8") as handle:
            signed = {r["student_id"] for r in csv.DictReader(handle)}
        with open(result / "assignments.csv", encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                if r["student_id"] in signed:
                    continue
                if r["week1_offer_id"] and r["week1_offer_id"] == r["week2_offer_id"]:
                    rows.append(r["student_id"])
                if len(rows) == 250:
                    break
        sheet = work / "signatures.csv"
        sheet.write_text("student_id,role,date,mode\n" + "".join(
            f"{s},{role},2026-05-04,papier\n" for s in rows
            for role in ("etablissement", "employeur", "eleve", "representant_legal")),
            encoding="utf-8")
        figures["record 1,000 rows"], _ = run("campaign", "record", str(sheet), "--db", db)
        figures["record the same 1,000 rows again"], _ = run("campaign", "record", str(sheet),
                                                            "--db", db)
        figures["conventions"], _ = run("campaign", "conventions", "--out",
                                        str(work / "conventions.csv"), "--db", db)
        figures["export-offers"], _ = run("campaign", "export-offers", "--out",
                                          str(work / "offers.json"), "--db", db, ok=(0, 1))
        figures["export-placements"], _ = run("campaign", "export-placements", "--out",
                                              str(work / "passation.csv"), "--db", db)
        with open(result / "assignments.csv", encoding="utf-8") as handle:
            counts: dict[str, int] = {}
            for r in csv.DictReader(handle):
                counts[r["school_id"]] = counts.get(r["school_id"], 0) + 1
        school = max(counts, key=lambda k: counts[k])
        figures["agreements, one school (PDF)"], out = run(
            "campaign", "agreements", "--out", str(work / "one"), "--school", school, "--db", db)
        one = sum(1 for _ in (work / "one").rglob("*.pdf"))
        figures["mail-merge CSV, académie"], _ = run("campaign", "agreements", "--format", "csv",
                                                     "--out", str(work / "merge.csv"), "--db", db)
        with open(work / "merge.csv", encoding="utf-8") as handle:
            total = sum(1 for _ in handle) - 1
        measured_all = ARGS.all_agreements
        if measured_all:
            figures["agreements, académie (PDF)"], _ = run(
                "campaign", "agreements", "--out", str(work / "all"), "--db", db)
        else:
            figures["agreements, académie (PDF)"] = figures[
                "agreements, one school (PDF)"] / one * total
        write_results(figures, school, one, total, measured_all, db)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_results(figures: dict[str, float], school: str, one: int, total: int,
                  measured_all: bool, db: str) -> None:
    load = os.getloadavg()
    speed = ""
    if SPEED_INDEX.exists():
        speed = subprocess.run([sys.executable, str(SPEED_INDEX)], capture_output=True,
                               text=True, check=False).stdout.strip()
    targets = {"load": 10, "status": 2, "record 1,000 rows": 2,
               "agreements, académie (PDF)": 900}
    lines = ["# Campaign store at Normandy scale", "",
             "`.venv/bin/python benchmarks/campaign.py" + (" --all-agreements" if measured_all
                                                          else "") + "` on the bundled "
             "scenarios/normandie (25,556 pupils), synthetic personal details; each figure is "
             "one command in a child process (Python start-up included).", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; load average after the run {load[0]:.2f} "
             f"{load[1]:.2f} {load[2]:.2f}; speed-index: {speed or 'n/a'}; database: "
             f"{db.split('://')[0]}.", "",
             "| step | seconds | target |", "|---|---:|---:|"]
    for name, seconds in figures.items():
        target = targets.get(name)
        lines.append(f"| {name} | {seconds:.2f} | {'<= ' + str(target) if target else ''} |")
    lines += ["", f"One school: {school}, {one} agreements. Académie: {total} agreements"
              + ("" if measured_all else " (figure EXTRAPOLATED from the one school: run "
                 "with --all-agreements to measure it)") + "."]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="store URL (default: a temporary SQLite)")
    parser.add_argument("--all-agreements", action="store_true")
    parser.add_argument("--solve-seconds", type=float, default=60.0)
    ARGS = parser.parse_args()
    main()
