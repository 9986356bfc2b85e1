"""One method on one scenario, in its own process: `compare.py` runs this as a child.

    python -m benchmarks.run_method METHOD SCENARIO_DIR OUT_DIR [--seed N] [--time-limit S]

METHOD is `engine`, `fcfs`, `da` or `highs`. Writes OUT_DIR/assignments.csv (the spec's
columns, via `affectation.io.output.assignments_csv`) and OUT_DIR/metrics.json: the counts,
travel minutes, the time from this process's start (imports included) to the assignments
written, the peak memory of the process at that point (before the check), then the number
of violations `affectation.analysis.check.check_files` finds in the written file.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from affectation.analysis.check import check_files  # noqa: E402
from affectation.analysis.reasons import explain  # noqa: E402
from affectation.domain.allocation import FULL_KINDS, classify  # noqa: E402
from affectation.domain.instance import Instance  # noqa: E402
from affectation.engine.candidates import OfferRoles, offer_roles  # noqa: E402
from affectation.io.output import Result, assignments_csv  # noqa: E402
from affectation.travel.loading import load_instance  # noqa: E402
from affectation.travel.reach import Reach, exact_minutes, pupil_travel, reachable  # noqa: E402

METHODS = ("engine", "fcfs", "da", "highs")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux: ru_maxrss is in KiB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def minutes_of(instance: Instance, allocation: np.ndarray) -> np.ndarray:
    """Exact one-way minutes of every placed week (nan where none)."""
    travel = pupil_travel(instance)
    minutes = np.full(allocation.shape, np.nan)
    for w in (0, 1):
        s = np.flatnonzero(allocation[:, w] >= 0)
        minutes[s, w] = exact_minutes(instance, s, allocation[s, w], travel)
    return minutes


def metrics(instance: Instance, allocation: np.ndarray, minutes: np.ndarray) -> dict[str, Any]:
    """The comparison's figures for one allocation."""
    st = instance.students
    kind = classify(instance, allocation)
    full = np.isin(kind, FULL_KINDS)
    placed = minutes[~np.isnan(minutes)]
    to_place = st.to_place
    return {
        "students_to_place": int(to_place.sum()),
        "priority_students": int((to_place & st.priority).sum()),
        "placed_full": int(full.sum()),
        "priority_placed_full": int((full & st.priority).sum()),
        "single": int((kind == "single").sum()),
        "splits": int((kind == "split").sum()),
        "mutualised": int((kind == "mutualised").sum()),
        "partial": int((kind == "partial").sum()),
        "unplaced": int((kind == "unplaced").sum()),
        "median_minutes": round(float(np.median(placed)), 1) if len(placed) else None,
        "p90_minutes": round(float(np.percentile(placed, 90)), 1) if len(placed) else None,
    }


def result_of(instance: Instance, allocation: np.ndarray, reach: Reach | None = None) -> Result:
    """What `assignments.csv` says about allocation `allocation`: kinds, exact minutes, reasons.

    Every partial or unplaced pupil needs a reason (a rule of the output format): the engine's
    data-derived reasons, for every method alike.
    """
    travel = pupil_travel(instance)
    kind = classify(instance, allocation)
    roles: OfferRoles = offer_roles(instance)
    reason = explain(instance, reach if reach is not None else reachable(instance, travel),
                     travel, roles, allocation, kind, instance.scenario.output.language)
    return Result(allocation=allocation, minutes=minutes_of(instance, allocation), kind=kind,
                  reason=reason, summary={})


def run(method: str, instance: Instance, seed: int, time_limit: float
        ) -> tuple[np.ndarray, dict[str, Any], Reach | None]:
    """The allocation of `method`, what the method says about itself and the reachable
    pairs when it computed them."""
    if method == "engine":
        from affectation.engine.solve import SolveSettings, solve

        solution = solve(instance, SolveSettings(time_limit_s=time_limit, seed=seed))
        return solution.allocation, {
            "status": solution.status,
            "upper_bound_full": solution.upper_bound_full,
            "upper_bound_priority_full": solution.upper_bound_priority_full,
            "reachable_pairs": int(solution.reach.n_pairs),
            "bound_s": round(solution.timings.get("travel", 0.0)
                             + solution.timings.get("bounds", 0.0), 3),
            "timings": solution.timings,
        }, solution.reach
    from benchmarks.peers.base import prepare, signed_start

    if method == "fcfs":
        from benchmarks.peers.fcfs import first_come_first_served

        setting = prepare(instance)
        return first_come_first_served(setting, seed), {}, setting.problem.reach
    if method == "da":
        from benchmarks.peers.deferred_acceptance import deferred_acceptance

        setting = prepare(instance)
        return (*deferred_acceptance(setting, signed_start(setting)), setting.problem.reach)
    if method == "highs":
        from benchmarks.peers.mip import highs_mip

        elapsed = time.perf_counter() - STARTED
        setting = prepare(instance, every_option=True)
        return (*highs_mip(setting, time_limit - elapsed, seed), setting.problem.reach)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("method", choices=METHODS)
    p.add_argument("scenario", type=Path, help="folder holding scenario.toml")
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=600.0)
    args = p.parse_args(argv)
    toml = args.scenario / "scenario.toml"
    instance = load_instance(toml)
    loaded = time.perf_counter()
    allocation, info, reach = run(args.method, instance, args.seed, args.time_limit)
    method_s = time.perf_counter() - loaded
    result = result_of(instance, allocation, reach)
    minutes = result.minutes
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "assignments.csv").write_text(assignments_csv(instance, result),
                                              encoding="utf-8", newline="")
    row: dict[str, Any] = {"method": args.method, "seed": args.seed,
                           "wall_s": round(time.perf_counter() - STARTED, 3),
                           "method_s": round(method_s, 3), "peak_mb": round(peak_rss_mb(), 1)}
    row.update(metrics(instance, allocation, minutes))
    row["info"] = info
    checked = time.perf_counter()
    violations = check_files(toml, args.out / "assignments.csv")
    row["violations"] = len(violations)
    row["violation_examples"] = [str(v) for v in violations[:5]]
    row["check_s"] = round(time.perf_counter() - checked, 3)
    (args.out / "metrics.json").write_text(json.dumps(row, ensure_ascii=False, indent=1),
                                           encoding="utf-8")
    print(json.dumps({k: v for k, v in row.items() if k != "info"}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
