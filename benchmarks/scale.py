"""Scale benchmark: generate, solve, check and measure, for several scenario sizes.

For each scale (1 = the bundled Normandy size, 25,556 pupils, 13,000 offers) this script:

1. generates a scenario with ``affectation.synthetic.scenario.generate_scenario(dir, scale, seed)``
   into a temporary folder (for scale 1 and seed 0 it uses ``scenarios/normandie/`` of the
   repository, which is byte-identical generator output);
2. runs ``affectation solve SCENARIO --out OUT --time-limit T`` as a subprocess
   (``sys.executable -m affectation.cli``) and measures its wall time end to end (process
   start, reading, solving, writing, exit) and its peak resident memory (``ru_maxrss`` of
   that one child, from ``os.wait4``);
3. runs ``affectation check SCENARIO OUT/assignments.csv`` as a subprocess and records
   whether the allocation is valid and how long the check took;
4. reads ``summary.json`` and records the counts, the bound, the gap, the status, the
   per-stage timings and the search statistics.

It prints one Markdown table (metrics in rows, scales in columns, targets alongside) and
writes ``scale.csv`` (one row per scale) and ``scale.md`` (machine info + table) into
``--out``. The targets (scale 1 wall <= 60 s, peak memory < 4 GB, placed_full >= 99.5 % of
upper_bound_full) are printed, never asserted: the exit status is non-zero only when a
generation, a solve or a check fails.

The parent process deliberately never imports ``affectation`` (nor numpy/pandas): the
generator also runs in a subprocess, so the parent stays small and cannot inflate the
children's ``ru_maxrss`` (on Linux a child's peak RSS includes the memory image it was
forked from).

Usage::

    python benchmarks/scale.py [--scales 0.1,0.2,0.5,1] [--seed 0] [--time-limit 600]
                               [--out benchmarks/results] [--light] [--keep]

``--light`` runs only scale 0.05 with a 10 s time limit (CI smoke test, < 1 minute) and
writes ``scale-light.csv``/``scale-light.md`` instead, so that a smoke run never overwrites
the full results.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    BUNDLED,
    GENERATE_CODE,
    REPO,
    busy_cpu_fraction,
    configure_children,
    load_average,
    machine_info,
    num,
    pct,
    run_measured,
    snapshot_source,
)

# Targets, printed next to the figures (not assertions).
TARGET_WALL_S = 60.0  # at scale 1
TARGET_PEAK_MB = 4096.0
TARGET_RATIO = 0.995  # placed_full / upper_bound_full

LIGHT_SCALE = 0.05
LIGHT_TIME_LIMIT = 10.0


TIMING_PREFIX = "t_"  # scale.csv columns: t_<stage> = summary.json timings[<stage>]
SEARCH_PREFIX = "search_"  # search_<key> = summary.json search[<key>]
KINDS = ("single", "split", "mutualised", "partial", "unplaced", "self_placed", "exempt")




# --------------------------------------------------------------------------- one scale


@dataclass
class ScaleResult:
    scale: float
    row: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    errors: list[str] = field(default_factory=list)


def fmt_scale(scale: float) -> str:
    return f"{scale:g}"


def bench_scale(scale: float, seed: int, time_limit: float, work: Path,
                summaries_dir: Path | None) -> ScaleResult:
    res = ScaleResult(scale)
    row = res.row
    row["scale"] = scale
    row["seed"] = seed
    row["time_limit_s"] = time_limit
    tag = fmt_scale(scale)
    load = load_average()
    row["load_1min_before"] = round(load[0], 2) if load else None
    busy = busy_cpu_fraction(1.0)
    row["cpu_busy_before"] = round(busy, 2) if busy is not None else None

    # 1. scenario
    if scale == 1 and seed == 0 and (BUNDLED / "scenario.toml").is_file():
        scenario = BUNDLED
        row["scenario_source"] = "scenarios/normandie (bundled)"
        row["generate_s"] = None
    else:
        scenario = work / f"scenario-{tag}"
        gen = run_measured([sys.executable, "-c", GENERATE_CODE, str(scenario), repr(scale),
                            str(seed)], timeout_s=1800)
        row["scenario_source"] = "generated"
        row["generate_s"] = round(gen.wall_s, 2)
        if gen.returncode != 0:
            res.ok = False
            res.errors.append(f"scale {tag}: generation failed ({gen.returncode}):\n"
                              f"{gen.stderr[-3000:]}")
            return res
    print(f"[scale {tag}] scenario: {scenario}", file=sys.stderr, flush=True)

    # 2. solve
    out = work / f"result-{tag}"
    cli = [sys.executable, "-m", "affectation.cli"]
    toml = scenario / "scenario.toml"
    solve_cmd = [*cli, "solve", str(toml), "--out", str(out),
                 "--time-limit", f"{time_limit:g}"]
    print(f"[scale {tag}] solving: {' '.join(solve_cmd[1:])}", file=sys.stderr, flush=True)
    solve = run_measured(solve_cmd, timeout_s=max(600.0, 10 * time_limit + 600))
    row["solve_exit"] = solve.returncode
    row["wall_s"] = round(solve.wall_s, 2)
    row["peak_mb"] = round(solve.peak_mb, 1) if solve.peak_mb is not None else None
    row["cpu_s"] = round(solve.cpu_s, 1) if solve.cpu_s is not None else None
    row["others_cores_during_solve"] = (
        round(solve.others_cores, 2) if solve.others_cores is not None else None)
    load = load_average()
    row["load_1min_after"] = round(load[0], 2) if load else None
    if solve.stdout.strip():
        print(f"[scale {tag}] {solve.stdout.strip()}", file=sys.stderr, flush=True)
    if solve.returncode != 0 or not (out / "summary.json").is_file():
        res.ok = False
        why = "timed out (killed)" if solve.timed_out else f"exit {solve.returncode}"
        res.errors.append(f"scale {tag}: solve failed ({why}):\n{solve.stderr[-3000:]}")
        return res

    # 3. check
    check = run_measured([*cli, "check", str(toml), str(out / "assignments.csv")],
                         timeout_s=1800)
    row["check_exit"] = check.returncode
    row["valid"] = check.returncode == 0
    row["check_s"] = round(check.wall_s, 2)
    row["check_peak_mb"] = round(check.peak_mb, 1) if check.peak_mb is not None else None
    n_viol = 0
    if check.returncode == 1:
        for line in reversed(check.stderr.splitlines()):
            if "violation" in line:
                with contextlib.suppress(ValueError):
                    n_viol = int(line.split()[0])
                break
    row["violations"] = n_viol
    if check.returncode != 0:
        res.ok = False
        res.errors.append(f"scale {tag}: check failed (exit {check.returncode}):\n"
                          f"{check.stdout[-2000:]}\n{check.stderr[-2000:]}")

    # 4. summary
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if summaries_dir is not None:
        summaries_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "summary.json", summaries_dir / f"summary-scale-{tag}.json")
    for key in ("students", "students_to_place", "placed_full", "upper_bound_full"):
        row[key] = summary.get(key)
    pf, ub = summary.get("placed_full"), summary.get("upper_bound_full")
    row["ratio_full"] = round(pf / ub, 6) if pf is not None and ub else None
    row["gap"] = summary.get("gap")
    for key in ("priority_students", "priority_placed_full", "upper_bound_priority_full",
                "priority_gap", "placed_partial", "unplaced"):
        row[key] = summary.get(key)
    by_kind = summary.get("by_kind") or {}
    for kind in KINDS:
        row[f"kind_{kind}"] = by_kind.get(kind)
    row["solver_status"] = summary.get("solver_status")
    row["reachable_pairs"] = summary.get("reachable_pairs")
    row["summary_wall_s"] = summary.get("wall_seconds")
    # Stage names and search statistics are taken as the solver writes them (they evolve
    # with the solver), in its order.
    for stage, seconds in (summary.get("timings") or {}).items():
        row[f"{TIMING_PREFIX}{stage}"] = seconds
    for key, value in (summary.get("search") or {}).items():
        row[f"{SEARCH_PREFIX}{key}"] = value
    return res


# --------------------------------------------------------------------------- reporting




def _target_wall(row: dict) -> bool | None:
    if row.get("scale") != 1 or row.get("wall_s") is None:
        return None
    return row["wall_s"] <= TARGET_WALL_S


def _target_peak(row: dict) -> bool | None:
    return None if row.get("peak_mb") is None else row["peak_mb"] < TARGET_PEAK_MB


def _target_ratio(row: dict) -> bool | None:
    return None if row.get("ratio_full") is None else row["ratio_full"] >= TARGET_RATIO


# (label, key, formatter, target text, target test(row) -> bool | None)
Row = tuple[str, str, Callable[[Any], str] | None, str, Callable[[dict], bool | None] | None]

ROWS: list[Row] = [
    ("scenario", "scenario_source", str, "", None),
    ("students", "students", num, "", None),
    ("students to place", "students_to_place", num, "", None),
    ("reachable pairs", "reachable_pairs", num, "", None),
    ("**wall time, end to end (s)**", "wall_s", num, "≤ 60 s at scale 1", _target_wall),
    ("**peak memory (MB)**", "peak_mb", lambda v: num(v, 0), "< 4096 MB", _target_peak),
    ("solver CPU time, user + sys (s)", "cpu_s", num, "", None),
    ("other processes' CPU use during solve (cores)", "others_cores_during_solve",
     lambda v: num(v, 2), "", None),
    ("time limit (s)", "time_limit_s", lambda v: num(v, 0), "", None),
    ("solver wall (summary, s)", "summary_wall_s", num, "", None),
    ("", TIMING_PREFIX, None, "", None),  # one row per solver stage
    ("solver status", "solver_status", str, "", None),
    ("", SEARCH_PREFIX, None, "", None),  # one row per search statistic
    ("**placed full (2 weeks)**", "placed_full", num, "", None),
    ("upper bound full", "upper_bound_full", num, "", None),
    ("**placed_full / bound**", "ratio_full", lambda v: pct(v, 2), "≥ 99.5 %", _target_ratio),
    ("gap", "gap", lambda v: pct(v, 3), "", None),
    ("priority students", "priority_students", num, "", None),
    ("priority placed full", "priority_placed_full", num, "", None),
    ("upper bound priority full", "upper_bound_priority_full", num, "", None),
    ("placed partial (1 week)", "placed_partial", num, "", None),
    ("unplaced", "unplaced", num, "", None),
    ("by kind: single", "kind_single", num, "", None),
    ("by kind: split", "kind_split", num, "", None),
    ("by kind: mutualised", "kind_mutualised", num, "", None),
    ("solve exit code", "solve_exit", num, "0", None),
    ("**check valid**", "valid", num, "valid", None),
    ("check wall (s)", "check_s", num, "", None),
    ("check peak memory (MB)", "check_peak_mb", lambda v: num(v, 0), "", None),
    ("generation (s)", "generate_s", num, "", None),
    ("load avg 1 min before / after", "_load", str, "", None),
]


def expand_rows(results: list[ScaleResult]) -> list[Row]:
    """ROWS with the stage and search placeholders replaced by the keys the runs wrote."""
    rows: list[Row] = []
    for row in ROWS:
        prefix = row[1]
        if prefix not in (TIMING_PREFIX, SEARCH_PREFIX):
            rows.append(row)
            continue
        keys: list[str] = []
        for r in results:
            keys += [k for k in r.row if k.startswith(prefix) and k not in keys]
        for k in keys:
            name = k[len(prefix):]
            if prefix == TIMING_PREFIX:
                rows.append((f"– {name} (s)", k, lambda v: num(v, 2), "", None))
            else:
                rows.append((f"search: {name.replace('_', ' ')}", k, num, "", None))
    return rows


def markdown_table(results: list[ScaleResult]) -> str:
    head = ["metric", *[f"scale {fmt_scale(r.scale)}" for r in results], "target"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", *(["---:"] * len(results)), "---"]) + "|"]
    for label, key, fmt, target_text, test in expand_rows(results):
        cells = []
        for r in results:
            if key == "_load":
                b, a = r.row.get("load_1min_before"), r.row.get("load_1min_after")
                cells.append(f"{num(b, 2)} / {num(a, 2)}")
                continue
            v = r.row.get(key)
            text = "–" if v is None or fmt is None else fmt(v)
            verdict = test(r.row) if test is not None else None
            if verdict is not None:
                text += " ✓" if verdict else " ✗"
            cells.append(text)
        lines.append("| " + " | ".join([label, *cells, target_text]) + " |")
    return "\n".join(lines)


def write_csv(results: list[ScaleResult], path: Path) -> None:
    keys: list[str] = []
    for r in results:
        for k in r.row:
            if k not in keys:
                keys.append(k)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        for r in results:
            writer.writerow({k: ("" if r.row.get(k) is None else r.row.get(k)) for k in keys})


def shared_machine_note(results: list[ScaleResult], cpus: int | None) -> str | None:
    """A sentence when other processes competed for the CPUs during the runs."""
    cpus = cpus or 1
    others = [r.row.get("others_cores_during_solve") or 0.0 for r in results]
    worst_others = max(others, default=0.0)
    worst_busy = max((r.row.get("cpu_busy_before") or 0.0 for r in results), default=0.0)
    if worst_others >= 0.2 or worst_busy >= 0.25:
        return (f"**Shared machine:** other processes were using the CPUs while these figures "
                f"were taken (on average up to {worst_others:.2f} of the {cpus} CPUs busy with "
                f"other work during a solve; up to {100 * worst_busy:.0f} % of all CPUs busy "
                f"in the second before a solve). The stages before and after the search "
                f"(reading, travel, bounds, start, writing) run slower than on an idle "
                f"machine; when the search runs to its time limit, it also does less work "
                f"in that time, so placed_full, the gap and the search statistics are "
                f"pessimistic too.")
    return None


def write_md(results: list[ScaleResult], info: dict[str, str], args: argparse.Namespace,
             table: str, path: Path, note: str | None) -> None:
    lines = [
        "# Scale benchmark",
        "",
        f"Produced by `python benchmarks/scale.py {' '.join(args.argv)}`".rstrip() + ".",
        "See `benchmarks/README.md` for what is measured and how to read the table.",
        "",
        "## Machine",
        "",
    ]
    for k, v in info.items():
        lines.append(f"- {k}: {v}")
    lines += ["", "## Results", ""]
    if note:
        lines += [note, ""]
    lines += [
        f"Seed {args.seed}; solver time limit {args.time_limit:g} s "
        f"(the `--time-limit` of `affectation solve`). Targets (not assertions): scale 1 wall "
        f"≤ {TARGET_WALL_S:g} s, peak memory < {TARGET_PEAK_MB / 1024:g} GB, placed_full ≥ "
        f"{100 * TARGET_RATIO:g} % of upper_bound_full; ✓ met, ✗ missed.",
        "",
        table,
        "",
    ]
    errors = [e for r in results for e in r.errors]
    if errors:
        lines += ["## Failures", "", "```", *errors, "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", default="0.1,0.2,0.5,1",
                   help="comma-separated scales (1 = Normandy, 25 556 pupils)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--time-limit", type=float, default=600.0,
                   help="solver time limit in seconds, passed to `affectation solve`")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results",
                   help="folder for scale.csv, scale.md and the summaries")
    p.add_argument("--light", action="store_true",
                   help=f"CI smoke: only scale {LIGHT_SCALE:g}, time limit "
                        f"{LIGHT_TIME_LIMIT:g} s")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run the live src/ instead of a copy taken at start")
    p.add_argument("--keep", action="store_true",
                   help="keep the generated scenarios and results (path printed)")
    args = p.parse_args(argv)
    args.argv = argv
    if args.light:
        args.scales = [LIGHT_SCALE]
        args.time_limit = LIGHT_TIME_LIMIT
    else:
        try:
            args.scales = [float(s) for s in args.scales.split(",") if s.strip()]
        except ValueError:
            p.error(f"--scales: not a list of numbers: {args.scales!r}")
        if not args.scales or any(s <= 0 for s in args.scales):
            p.error("--scales: give positive numbers")
    if args.time_limit <= 0:
        p.error("--time-limit must be > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="affectation-bench-"))
    src_hash = "(live src/, not snapshotted)"
    configure_children(work, [])
    if not args.no_snapshot:
        src_dir, src_hash = snapshot_source(work)
        configure_children(work, [src_dir])
    info = machine_info()
    info["src_snapshot_sha256"] = src_hash
    results: list[ScaleResult] = []
    try:
        for scale in args.scales:
            try:
                r = bench_scale(scale, args.seed, args.time_limit, work, out / "summaries")
            except Exception as exc:  # report and go on with the other scales
                r = ScaleResult(scale, {"scale": scale}, False,
                                [f"scale {fmt_scale(scale)}: {type(exc).__name__}: {exc}"])
            results.append(r)
            for e in r.errors:
                print(e, file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"scenarios and results kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(results)
    note = shared_machine_note(results, os.cpu_count())
    print(table)
    if note:
        print()
        print(note)
    stem = "scale-light" if args.light else "scale"
    write_csv(results, out / f"{stem}.csv")
    write_md(results, info, args, table, out / f"{stem}.md", note)
    print(f"\nwritten: {out / (stem + '.csv')}, {out / (stem + '.md')}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
