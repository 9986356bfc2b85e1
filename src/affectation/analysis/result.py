"""From a solution to the result users read: kinds, exact minutes, reasons and the summary."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from affectation.analysis.audit import fairness_csv, fairness_summary, fairness_table
from affectation.analysis.reasons import explain
from affectation.domain.allocation import classify
from affectation.domain.instance import Instance
from affectation.engine.solve import Solution
from affectation.io.output import Result, counts, engine_version, input_hashes
from affectation.travel.reach import exact_minutes


def make_result(instance: Instance, solution: Solution, seed: int, wall_seconds: float) -> Result:
    """Everything `assignments.csv` and `summary.json` say about `solution`."""
    allocation = solution.allocation
    kind = classify(instance, allocation)
    minutes = np.full(allocation.shape, np.nan)
    for w in (0, 1):
        s = np.flatnonzero(allocation[:, w] >= 0)
        minutes[s, w] = exact_minutes(instance, s, allocation[s, w], solution.travel)
    reason = explain(instance, solution.reach, solution.travel, solution.roles, allocation, kind,
                     instance.scenario.output.language)
    summary: dict[str, Any] = {"scenario": instance.scenario.name}
    summary.update(counts(instance, kind))
    bound = solution.upper_bound_full
    summary["upper_bound_full"] = bound
    summary["gap"] = round(1 - summary["placed_full"] / bound, 6) if bound else 0.0
    summary["upper_bound_priority_full"] = solution.upper_bound_priority_full
    summary["priority_gap"] = (
        round(1 - summary["priority_placed_full"] / solution.upper_bound_priority_full, 6)
        if solution.upper_bound_priority_full else 0.0
    )
    summary["solver_status"] = solution.status
    summary["reachable_pairs"] = int(solution.reach.n_pairs)
    summary["search"] = solution.search
    if solution.equity:
        summary["equity"] = solution.equity
    summary["wall_seconds"] = round(wall_seconds, 3)
    summary["timings"] = solution.timings
    summary["seed"] = seed
    summary["engine_version"] = engine_version()
    summary["inputs"] = input_hashes(instance)
    return Result(allocation=allocation, minutes=minutes, kind=kind, reason=reason, summary=summary)


def add_fairness(instance: Instance, solution: Solution, result: Result,
                 groups: dict[str, np.ndarray] | None = None) -> str:
    """Audit `result` by group: adds `fairness` and `timings.audit` to its summary, and
    returns the text of `fairness.csv`. `groups`: the pupils' groups (`territory.pupil_groups`
    when None)."""
    started = time.perf_counter()
    table = fairness_table(instance, result.allocation, solution.reach, result.minutes, groups)
    result.summary["fairness"] = fairness_summary(table, instance.scenario.output.language)
    result.summary["timings"]["audit"] = round(time.perf_counter() - started, 3)
    return fairness_csv(table)
