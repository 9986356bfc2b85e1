"""Equity benchmark: what the `[equity]` rules change, cost and take, on one scenario.

Runs ``affectation solve`` on the same scenario (default: the bundled Normandy one) once per
variant of the `[equity]` table (off; max-min among schools after, then before, total
placements; max-min among EPCI and among départements; short trips for priority pupils),
each in a fresh child process measured like ``scale.py`` does (wall time, peak RSS), checks
every allocation with ``affectation check``, and reports per variant: pupils placed for both
weeks (and the cost against the run without rules), priority pupils placed, the lowest
placement rate among schools, EPCI and départements (from ``fairness.csv``), the median
minutes of priority pupils, and the seconds of the equity stage.

Usage::

    python benchmarks/equity.py [--scenario scenarios/normandie/scenario.toml]
                                [--time-limit 60] [--out benchmarks/results] [--light]

``--light`` generates a scale-0.05 scenario and writes ``equity-light.*`` instead of
``equity.*``. Figures are printed, never asserted; the exit status is non-zero only when a
solve or a check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from common import (
    BUNDLED,
    GENERATE_CODE,
    REPO,
    configure_children,
    machine_info,
    num,
    pct,
    run_measured,
    snapshot_source,
)

VARIANTS: dict[str, dict[str, Any]] = {
    "off": {},
    "schools": {"max_min_schools": True},
    "schools-before": {"max_min_schools": True, "max_min_level": "before_total"},
    "epci": {"max_min_territories": "epci"},
    "department": {"max_min_territories": "department"},
    "short-trips-x2": {"short_trips_for_priority": 2.0},
}
LIGHT_SCALE = 0.05
COLUMNS = ("variant", "exit", "valid", "wall_s", "peak_mb", "equity_s", "placed_full",
           "cost_vs_off", "priority_placed_full", "lowest_school", "lowest_epci",
           "lowest_department", "priority_median_minutes", "status")


def variant_scenario(base: Path, equity: dict[str, Any], path: Path) -> None:
    """A copy of scenario `base` with absolute input paths and the `[equity]` table."""
    data = tomllib.loads(base.read_text(encoding="utf-8"))
    for key, value in data["inputs"].items():
        data["inputs"][key] = str((base.parent / value).resolve())
    if equity:
        data["equity"] = equity
    path.write_text(_toml(data), encoding="utf-8")


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    text = f"[{prefix}]\n" if prefix and scalars else ""
    text += "".join(f"{k} = {json.dumps(v)}\n" for k, v in scalars.items())
    for key, table in tables.items():
        text += "\n" + _toml(table, f"{prefix}.{key}" if prefix else key)
    return text


def lowest_rates(fairness: Path) -> dict[str, float | None]:
    """Lowest `rate_full` per group type of a `fairness.csv`, and the priority median."""
    lowest: dict[str, float | None] = {"school": None, "epci": None, "department": None}
    median = None
    with open(fairness, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = row["group_type"]
            if kind in lowest and row["rate_full"]:
                rate = float(row["rate_full"])
                current = lowest[kind]
                lowest[kind] = rate if current is None else min(current, rate)
            if kind == "priority" and row["group"] == "prioritaire" and row["median_minutes"]:
                median = float(row["median_minutes"])
    return {**lowest, "priority_median_minutes": median}


def run_variant(name: str, scenario: Path, time_limit: float, work: Path) -> dict[str, Any]:
    toml = work / f"{name}.toml"
    variant_scenario(scenario, VARIANTS[name], toml)
    out = work / f"result-{name}"
    cli = [sys.executable, "-m", "affectation.cli"]
    print(f"[{name}] solving", file=sys.stderr, flush=True)
    run = run_measured([*cli, "solve", str(toml), "--out", str(out), "--time-limit",
                        f"{time_limit:g}"], timeout_s=10 * time_limit + 600)
    row: dict[str, Any] = {"variant": name, "exit": run.returncode,
                           "wall_s": round(run.wall_s, 1),
                           "peak_mb": round(run.peak_mb) if run.peak_mb else None}
    if run.returncode != 0:
        print(run.stderr[-3000:], file=sys.stderr)
        return row
    check = run_measured([*cli, "check", str(toml), str(out / "assignments.csv")],
                         timeout_s=1800)
    row["valid"] = check.returncode == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    row["placed_full"] = summary["placed_full"]
    row["priority_placed_full"] = summary["priority_placed_full"]
    row["status"] = summary["solver_status"]
    row["equity_s"] = summary["timings"].get("equity")
    rates = lowest_rates(out / "fairness.csv")
    row.update({f"lowest_{k}": v for k, v in rates.items() if k != "priority_median_minutes"})
    row["priority_median_minutes"] = rates["priority_median_minutes"]
    return row


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| variant | valid | wall s | peak MB | equity s | placed both weeks | cost vs off "
            "| priority placed | lowest school | lowest EPCI | lowest dépt | priority median "
            "min | status |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append("| " + " | ".join([
            r["variant"], str(r.get("valid", "")), num(r.get("wall_s")), num(r.get("peak_mb"), 0),
            num(r.get("equity_s")), str(r.get("placed_full", "")), str(r.get("cost_vs_off", "")),
            str(r.get("priority_placed_full", "")), pct(r.get("lowest_school")),
            pct(r.get("lowest_epci")), pct(r.get("lowest_department")),
            num(r.get("priority_median_minutes")), str(r.get("status", ""))]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", type=Path, default=BUNDLED / "scenario.toml")
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--light", action="store_true", help=f"generated scale {LIGHT_SCALE:g}")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="comma-separated subset of: " + ", ".join(VARIANTS))
    args = p.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variants: {unknown}")
    work = Path(tempfile.mkdtemp(prefix="affectation-equity-"))
    src_dir, src_hash = snapshot_source(work)
    configure_children(work, [src_dir])
    info = machine_info()
    try:
        scenario = args.scenario.resolve()
        if args.light:
            scenario = work / "scenario" / "scenario.toml"
            gen = run_measured([sys.executable, "-c", GENERATE_CODE, str(scenario.parent),
                                repr(LIGHT_SCALE), "0"], timeout_s=600)
            if gen.returncode != 0:
                print(gen.stderr[-3000:], file=sys.stderr)
                return 1
        rows = [run_variant(name, scenario, args.time_limit, work) for name in names]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    off = next((r for r in rows if r["variant"] == "off" and "placed_full" in r), None)
    for r in rows:
        if off is not None and "placed_full" in r:
            r["cost_vs_off"] = off["placed_full"] - r["placed_full"]
    table = markdown(rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "equity-light" if args.light else "equity"
    with open(args.out / f"{stem}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    machine = "\n".join(f"- {k}: {v}" for k, v in info.items())
    (args.out / f"{stem}.md").write_text(
        f"# Equity rules benchmark\n\nCommand: `python benchmarks/equity.py "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}`\n\nScenario: "
        f"`{_shown(args.scenario) if not args.light else f'generated, scale {LIGHT_SCALE:g}'}`, "
        f"time limit {args.time_limit:g} s; source snapshot sha256 {src_hash}.\n\n{machine}"
        f"\n\n{table}\n\n`cost vs off`: pupils placed for both weeks without rules minus "
        f"with them. `equity s`: the levelling stage alone (CP-SAT carries the max-min level "
        f"inside the search stage).\n", encoding="utf-8")
    ok = all(r.get("exit") == 0 and r.get("valid") for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
