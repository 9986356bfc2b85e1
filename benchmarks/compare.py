"""The engine against the alternatives, on the same instances: one table, one plot.

For each generated Normandy instance (scales 0.05, 0.2 and 1; scale 1 with seed 0 is the
bundled `scenarios/normandie/`), each method runs in its own child process
(`python -m benchmarks.run_method`, see `benchmarks/peers/`):

- `fcfs`: first come, first served in a random order (the status quo), one run per seed,
  averaged;
- `da`: pupil-proposing deferred acceptance with the `matching` library, on two-week offers;
- `highs`: the engine's model (rules, objective levels 1-4) solved whole as a MIP by HiGHS;
- `engine`: `affectation.engine.solve.solve`;
- `bound`: the engine's proven upper bounds (`Solution.upper_bound_full`, priority alike).

Every allocation is written as an `assignments.csv` and verified by the independent checker.
A method that timed out or hit its time limit at one scale is not run at the larger ones.
Then, beyond Normandy, the engine alone on 2 and 5 side-by-side copies of the scale-1
instance (`benchmarks/instances.py`), for its wall time, peak memory and placed vs bound.

Usage::

    python benchmarks/compare.py [--light] [--out DIR] [--scales 0.05,0.2,1] [--copies 2,5]
                                 [--seeds 5] [--time-limit 600] [--peer-limit 600]

Writes `compare.csv`, `compare.md` and `compare.png` into `--out` (default
`benchmarks/results`). `--light` (CI) runs scale 0.05 only, without copies, into a temporary
folder unless `--out` is given, prints the table, and exits non-zero when an allocation fails
the check, when the engine places fewer pupils (both weeks) than any peer run, or when a method
crashes. Timings never fail a run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import (
    BUNDLED,
    GENERATE_CODE,
    REPO,
    configure_children,
    load_average,
    machine_info,
    num,
    run_measured,
    snapshot_source,
)

SCALES = (0.05, 0.2, 1.0)
COPIES = (2, 5)
LIGHT_SCALE = 0.05
PEERS = ("fcfs", "da", "highs")
METHOD_LABELS = {
    "fcfs": "first come, first served",
    "da": "deferred acceptance (matching)",
    "highs": "MIP (HiGHS)",
    "engine": "engine",
    "bound": "proven upper bound",
}
FIELDS = (
    "instance", "scale", "copies", "method", "runs", "status", "students_to_place",
    "priority_students", "placed_full", "placed_full_min", "placed_full_max",
    "priority_placed_full", "splits", "mutualised", "partial", "unplaced", "median_minutes",
    "p90_minutes", "wall_s", "method_s", "peak_mb", "others_cores", "violations", "valid",
    "reachable_pairs", "detail",
)


def fmt_scale(scale: float) -> str:
    return f"{scale:g}"


class Bench:
    """Runs the methods in child processes and collects one row per (instance, method)."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work = work
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stopped: dict[str, str] = {}  # method -> why it is not run at larger scales

    def scenario(self, scale: float, seed: int) -> Path | None:
        if scale == 1 and seed == 0 and (BUNDLED / "scenario.toml").is_file():
            return BUNDLED
        cache = self.args.cache / f"scale-{fmt_scale(scale)}-seed-{seed}"
        if (cache / "scenario.toml").is_file():
            return cache
        gen = run_measured([sys.executable, "-c", GENERATE_CODE, str(cache), repr(scale),
                            str(seed)], timeout_s=1800)
        if gen.returncode != 0:
            self.errors.append(f"scale {scale:g}: generation failed:\n{gen.stderr[-2000:]}")
            return None
        return cache

    def method(self, method: str, scenario: Path, tag: str, seed: int, time_limit: float,
               timeout_s: float) -> dict[str, Any] | None:
        """One child run; its metrics, or a row saying why there are none."""
        out = self.work / f"{tag}-{method}-{seed}"
        cmd = [sys.executable, "-m", "benchmarks.run_method", method, str(scenario), str(out),
               "--seed", str(seed), "--time-limit", f"{time_limit:g}"]
        print(f"[{tag}] {method} seed {seed} ...", file=sys.stderr, flush=True)
        run = run_measured(cmd, timeout_s=timeout_s)
        metrics_file = out / "metrics.json"
        if run.timed_out:
            return {"status": "timeout", "wall_s": round(run.wall_s, 1),
                    "peak_mb": round(run.peak_mb, 1) if run.peak_mb else None,
                    "detail": f"killed after {timeout_s:g} s"}
        if run.returncode != 0 or not metrics_file.is_file():
            self.errors.append(f"[{tag}] {method} seed {seed} crashed (exit {run.returncode}):\n"
                               f"{run.stderr[-3000:]}")
            return {"status": f"crash (exit {run.returncode})", "wall_s": round(run.wall_s, 1)}
        m = json.loads(metrics_file.read_text(encoding="utf-8"))
        m["others_cores"] = run.others_cores
        if m["violations"]:
            self.errors.append(f"[{tag}] {method} seed {seed}: {m['violations']} violation(s): "
                               + "; ".join(m["violation_examples"]))
        shutil.rmtree(out, ignore_errors=True)
        return m

    def add_bound(self, base: dict[str, Any], engine_row: dict[str, Any],
                  engine: dict[str, Any] | None) -> None:
        """The proven bound's row, from the engine run's own summary."""
        info = (engine or {}).get("info") or {}
        if "upper_bound_full" in info:
            self.rows.append(dict(
                base, method="bound", runs=1, status="proven",
                students_to_place=engine_row.get("students_to_place"),
                priority_students=engine_row.get("priority_students"),
                placed_full=info["upper_bound_full"],
                priority_placed_full=info["upper_bound_priority_full"],
                wall_s=info.get("bound_s"), reachable_pairs=info.get("reachable_pairs"),
                detail="travel + bounds stages of the engine run (same process)"))

    def add(self, base: dict[str, Any], method: str, runs: list[dict[str, Any]]) -> dict:
        row = dict(base, method=method, runs=len(runs))
        ok = [r for r in runs if "placed_full" in r]
        if not ok:
            row.update({k: runs[0].get(k) for k in ("status", "wall_s", "peak_mb", "detail")})
            self.rows.append(row)
            return row
        keys = ("students_to_place", "priority_students", "placed_full", "priority_placed_full",
                "splits", "mutualised", "partial", "unplaced", "median_minutes", "p90_minutes",
                "wall_s", "method_s", "peak_mb", "others_cores")
        for k in keys:
            values = [r[k] for r in ok if r.get(k) is not None]
            if not values:
                row[k] = None
            elif len(values) == 1 or k in ("students_to_place", "priority_students"):
                row[k] = values[0]
            else:
                row[k] = round(sum(values) / len(values), 1)
        if row.get("others_cores") is not None:
            row["others_cores"] = round(row["others_cores"], 2)
        row["placed_full_min"] = min(r["placed_full"] for r in ok)
        row["placed_full_max"] = max(r["placed_full"] for r in ok)
        row["violations"] = sum(r["violations"] for r in ok)
        row["valid"] = row["violations"] == 0
        info = ok[0].get("info") or {}
        if method == "highs":
            row["status"] = info.get("mip_status")
            row["detail"] = (f"{info.get('mip_columns')} columns, {info.get('mip_rows')} rows; "
                             f"gap {info.get('mip_gap')}; build {info.get('mip_build_s')} s, "
                             f"solve {info.get('mip_solve_s')} s")
        elif method == "engine":
            row["status"] = info.get("status")
            row["reachable_pairs"] = info.get("reachable_pairs")
            stages = ", ".join(f"{k} {v:.1f}" for k, v in (info.get("timings") or {}).items())
            row["detail"] = f"stages (s): {stages}"
        elif method == "da":
            row["status"] = "done"
            row["detail"] = (f"{info.get('residents')} pupils x {info.get('hospitals')} offers, "
                             f"{info.get('ranked_pairs')} ranked pairs; library "
                             f"{info.get('library_solve_s')} s")
        else:
            row["status"] = "done"
            row["detail"] = f"seeds 0-{len(ok) - 1}; placed min {row['placed_full_min']}, " \
                            f"max {row['placed_full_max']}"
        self.rows.append(row)
        return row

    def instance(self, scale: float) -> None:
        args = self.args
        tag = f"scale-{fmt_scale(scale)}"
        scenario = self.scenario(scale, args.instance_seed)
        if scenario is None:
            return
        base = {"instance": tag, "scale": scale, "copies": 1}
        engine = self.method("engine", scenario, tag, 0, args.time_limit,
                             max(600.0, 10 * args.time_limit + 600))
        engine_row = self.add(base, "engine", [engine] if engine else [])
        self.add_bound(base, engine_row, engine)
        for peer in PEERS:
            if peer in self.stopped:
                self.rows.append(dict(base, method=peer, runs=0, status="not run",
                                      detail=self.stopped[peer]))
                continue
            seeds = range(args.seeds) if peer == "fcfs" else range(1)
            limit = args.peer_limit
            timeout = limit + 300 if peer == "highs" else limit
            runs = [r for s in seeds
                    if (r := self.method(peer, scenario, tag, s, limit, timeout)) is not None]
            row = self.add(base, peer, runs)
            if row.get("status") == "timeout" or (peer == "highs"
                                                  and row.get("status") != "Optimal"):
                self.stopped[peer] = (f"{row.get('status')} at scale {fmt_scale(scale)} "
                                      f"(limit {limit:g} s)")

    def copies(self, k: int) -> None:
        args = self.args
        tag = f"normandie-x{k}"
        scenario = self.args.cache / tag
        if not (scenario / "scenario.toml").is_file():
            source = self.scenario(1.0, args.instance_seed)
            if source is None:
                return
            rep = run_measured([sys.executable, "-m", "benchmarks.instances", str(source),
                                str(scenario), str(k)], timeout_s=1800)
            if rep.returncode != 0:
                self.errors.append(f"{tag}: replication failed:\n{rep.stderr[-2000:]}")
                return
        limit = args.time_limit * k
        base = {"instance": tag, "scale": float(k), "copies": k}
        engine = self.method("engine", scenario, tag, 0, limit, max(1200.0, 10 * limit))
        row = self.add(base, "engine", [engine] if engine else [])
        row["detail"] = (f"{k} side-by-side copies of scale 1; time limit {limit:g} s; "
                         + (row.get("detail") or ""))
        self.add_bound(base, row, engine)


# --------------------------------------------------------------------------- reporting


def comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engine minus each peer, per instance: pupils, priority pupils, time ratio."""
    out = []
    for inst in dict.fromkeys(r["instance"] for r in rows):
        mine = [r for r in rows if r["instance"] == inst]
        engine = next((r for r in mine if r["method"] == "engine"
                       and r.get("placed_full") is not None), None)
        if engine is None:
            continue
        for r in mine:
            if r["method"] in ("engine",) or r.get("placed_full") is None:
                continue
            ratio = (engine["wall_s"] / r["wall_s"] if r.get("wall_s") else None)
            out.append({
                "instance": inst, "peer": r["method"],
                "placed": engine["placed_full"] - r["placed_full"],
                "placed_worst": (engine["placed_full"] - r["placed_full_max"]
                                 if r.get("placed_full_max") is not None else None),
                "priority": engine["priority_placed_full"] - r["priority_placed_full"],
                "engine_wall_s": engine["wall_s"], "peer_wall_s": r.get("wall_s"),
                "time_ratio": ratio,
            })
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| instance | method | runs | status | placed 2 weeks | priority placed | splits | "
            "mutualised | partial | unplaced | median min | p90 min | wall (s) | peak MB | "
            "check |")
    lines = [head, "|" + "---|" * 4 + "---:|" * 10 + "---|"]
    for r in rows:
        prio = (f"{num(r.get('priority_placed_full'))} / {num(r.get('priority_students'))}"
                if r.get("priority_placed_full") is not None else "–")
        placed = num(r.get("placed_full"))
        if r.get("placed_full") is not None and r.get("students_to_place"):
            placed += f" / {num(r['students_to_place'])}"
        if r["method"] == "fcfs" and r.get("placed_full_min") is not None:
            placed += f" ({r['placed_full_min']}–{r['placed_full_max']})"
        check = ("–" if r.get("valid") is None
                 else "valid" if r["valid"] else f"{r['violations']} violations")
        lines.append("| " + " | ".join([
            r["instance"], METHOD_LABELS.get(r["method"], r["method"]), num(r.get("runs")),
            str(r.get("status") or "–"), placed, prio, num(r.get("splits")),
            num(r.get("mutualised")), num(r.get("partial")), num(r.get("unplaced")),
            num(r.get("median_minutes")), num(r.get("p90_minutes")), num(r.get("wall_s")),
            num(r.get("peak_mb"), 0), check]) + " |")
    return "\n".join(lines)


def comparison_markdown(comp: list[dict[str, Any]]) -> str:
    lines = ["| instance | compared with | more pupils placed 2 weeks | more priority pupils "
             "placed | engine wall (s) | its wall (s) | engine time / its time |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for c in comp:
        placed = f"{c['placed']:+g}"
        if c["peer"] == "fcfs" and c.get("placed_worst") is not None:
            placed += f" (best seed: {c['placed_worst']:+g})"
        ratio = "–" if c["time_ratio"] is None else f"{c['time_ratio']:.1f}×"
        lines.append("| " + " | ".join([
            c["instance"], METHOD_LABELS.get(c["peer"], c["peer"]), placed,
            f"{c['priority']:+g}", num(c["engine_wall_s"]), num(c["peer_wall_s"]),
            ratio]) + " |")
    return "\n".join(lines)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in FIELDS})


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Placed pupils (share of pupils to place) and wall time against scale, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in ("bound", "engine", "highs", "da", "fcfs"):
        pts = sorted((r["scale"], r) for r in rows if r["method"] == method
                     and r.get("placed_full") is not None)
        if not pts:
            continue
        xs = [p[0] for p in pts]
        share = [100 * p[1]["placed_full"] / p[1]["students_to_place"] for p in pts]
        style = "k^--" if method == "bound" else "o-"
        ax1.plot(xs, share, style, label=METHOD_LABELS[method])
        timed = [(x, p["wall_s"]) for x, p in pts if p.get("wall_s")]
        if method != "bound" and timed:
            ax2.plot(*zip(*timed, strict=True), "o-", label=METHOD_LABELS[method])
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("scale (1 = Normandy, 25,556 pupils; 2 and 5: side-by-side copies)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_ylabel("pupils placed for both weeks (% of pupils to place)")
    ax2.set_ylabel("wall time, child process (s)")
    ax2.set_yscale("log")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    fig.suptitle("affectation: engine vs alternatives")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--light", action="store_true",
                   help=f"CI: scale {LIGHT_SCALE:g} only, no copies, output to a temporary "
                        "folder unless --out")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for compare.csv/.md/.png (default benchmarks/results)")
    p.add_argument("--scales", default=",".join(fmt_scale(s) for s in SCALES))
    p.add_argument("--copies", default=",".join(str(k) for k in COPIES),
                   help="side-by-side copies of scale 1 for the engine alone ('' for none)")
    p.add_argument("--seeds", type=int, default=5, help="first-come-first-served orders")
    p.add_argument("--instance-seed", type=int, default=0, help="generator seed")
    p.add_argument("--time-limit", type=float, default=600.0,
                   help="engine time limit (x copies beyond Normandy)")
    p.add_argument("--peer-limit", type=float, default=600.0,
                   help="time limit of HiGHS and of deferred acceptance (killed after it)")
    p.add_argument("--cache", type=Path, default=None,
                   help="keep generated instances here between runs (default: temporary)")
    args = p.parse_args(argv)
    args.argv = argv
    if args.light:
        args.scales, args.copies = [LIGHT_SCALE], []
    else:
        args.scales = [float(s) for s in args.scales.split(",") if s.strip()]
        args.copies = [int(k) for k in args.copies.split(",") if k.strip()]
    return args


def write_outputs(b: Bench, args: argparse.Namespace, info: dict[str, str], out: Path,
                  final: bool) -> list[dict[str, Any]]:
    """Write compare.csv, compare.md and compare.png (and print the tables when `final`)."""
    load = load_average()
    info["load_1min_at_end"] = str(load[0] if load else "?")
    comp = comparisons(b.rows)
    table, comp_table = markdown(b.rows), comparison_markdown(comp)
    if final:
        print(table)
        print()
        print(comp_table)
    write_csv(b.rows, out / "compare.csv")
    md = ["# Engine vs alternatives", "",
          f"Produced by `python benchmarks/compare.py {' '.join(args.argv)}`".rstrip() + ".",
          "See `benchmarks/README.md` for the methods and the columns.", "", "## Machine", ""]
    if not final:
        md[1:1] = ["", "**Partial: the run is still in progress (or was stopped).**"]
    md += [f"- {k}: {v}" for k, v in info.items()]
    md += ["", "## Results", "",
           f"Engine time limit {args.time_limit:g} s (× copies beyond Normandy); HiGHS time "
           f"limit and deferred-acceptance timeout {args.peer_limit:g} s; first come, first "
           f"served averaged over {args.seeds} random orders (range in brackets). Wall time: "
           "from the child process's start (imports included) to its assignments.csv "
           "written; peak memory: that process's peak RSS at that point.", ""]
    busy = [r["others_cores"] for r in b.rows if r.get("others_cores") is not None]
    if busy and max(busy) >= 0.2:
        md += [f"**Shared machine:** other processes used on average up to {max(busy):.2f} "
               f"of the {os.cpu_count()} CPUs while a method ran (`others_cores` in "
               "compare.csv): wall times are longer than on an idle machine, and methods that "
               "run to a time limit (the engine's search, HiGHS) do less work within it.", ""]
    md += [table, "",
           "## The engine against each method", "", comp_table, ""]
    details = [f"- {r['instance']}, {METHOD_LABELS.get(r['method'], r['method'])}: {r['detail']}"
               for r in b.rows if r.get("detail")]
    if details:
        md += ["## Details", "", *details, ""]
    if b.errors:
        md += ["## Failures", "", "```", *b.errors, "```", ""]
    (out / "compare.md").write_text("\n".join(md), encoding="utf-8")
    try:
        plot(b.rows, out / "compare.png")
    except ImportError as exc:  # matplotlib missing: tables only
        print(f"no plot: {exc}", file=sys.stderr)
    if final:
        print(f"\nwritten: {out / 'compare.csv'}, {out / 'compare.md'}, "
              f"{out / 'compare.png'}", file=sys.stderr)
    return comp


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="affectation-compare-"))
    out: Path = args.out or (work / "results" if args.light else REPO / "benchmarks" / "results")
    out.mkdir(parents=True, exist_ok=True)
    if args.cache is None:
        args.cache = work / "instances"
    args.cache.mkdir(parents=True, exist_ok=True)
    # Frozen copies of src/ and of the benchmark code, so that edits made while a long run
    # is in progress do not change what is measured.
    src_dir, src_hash = snapshot_source(work)
    bench = work / "bench"
    shutil.copytree(REPO / "benchmarks", bench / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__", "results"))
    configure_children(work, [src_dir, bench])
    info = machine_info()
    info["src_snapshot_sha256"] = src_hash
    info["load_1min_at_start"] = str(load_average()[0] if load_average() else "?")
    b = Bench(work, args)
    try:
        # The outputs are rewritten after each instance: a long run stopped early still
        # leaves the instances it finished.
        for scale in args.scales:
            b.instance(scale)
            write_outputs(b, args, info, out, final=False)
        for k in args.copies:
            b.copies(k)
            write_outputs(b, args, info, out, final=False)
    finally:
        # Keep only the results (when they were written into the work folder).
        for item in work.iterdir():
            if item != out and not out.is_relative_to(item):
                shutil.rmtree(item, ignore_errors=True)
        if not out.is_relative_to(work):
            shutil.rmtree(work, ignore_errors=True)
    comp = write_outputs(b, args, info, out, final=True)
    failures = list(b.errors)
    for c in comp:
        if c["peer"] != "bound" and c["placed"] is not None and (
                c["placed"] < 0 or (c.get("placed_worst") is not None and c["placed_worst"] < 0)):
            failures.append(f"{c['instance']}: the engine places fewer pupils than "
                            f"{METHOD_LABELS[c['peer']]} ({c['placed']:+g})")
    for f in failures:
        print(f"FAIL: {f.splitlines()[0]}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
