"""From a solution to the result users read: kinds, exact minutes, reasons and the summary."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from affectation.analysis.audit import fairness_csv, fairness_summary, fairness_table
from affectation.analysis.reasons import add_out_of_network, explain, out_of_network
from affectation.domain.allocation import classify
from affectation.domain.instance import Instance
from affectation.engine.solve import Solution
from affectation.io.output import Result, counts, engine_version, input_hashes
from affectation.travel.reach import exact_minutes

STATUS_TEXT = {
    "fr": {
        "OPTIMAL": "optimal prouvé",
        "FEASIBLE": "à {gap} de l'optimum prouvé",
        "FALLBACK": "allocation de secours : limite de temps trop courte",
        "small": "moins de 0,01 %",
        "clock": " ; limite de temps atteinte : le résultat dépend de la vitesse de la machine",
    },
    "en": {
        "OPTIMAL": "proven optimal",
        "FEASIBLE": "within {gap} of the proven optimum",
        "FALLBACK": "fallback allocation: time limit too short",
        "small": "less than 0.01 %",
        "clock": "; time limit reached: the result depends on the machine's speed",
    },
}


def bounds_split(bounds: Mapping[str, int], placed: int) -> dict[str, int]:
    """A copy of the flow and LP bounds, with both for every pupil the gap to the flow bound
    split in two: `bound_slack_full`, what the LP takes off the flow bound (no allocation
    could have reached it), and `engine_gap_full`, what is left between the best bound and
    the pupils placed (what a better allocation might still gain)."""
    out = dict(bounds)
    flow, lp = out.get("flow_upper_bound_full"), out.get("lp_upper_bound_full")
    if flow is not None and lp is not None:
        best = min(flow, lp)
        out["bound_slack_full"] = flow - best
        out["engine_gap_full"] = best - placed
    return out


def status_text(status: str, gap: float, clock: bool, language: str = "fr") -> str:
    """What the result is, in words (the summary's `status_text`, the line a user reads):
    proven optimal, within `gap` of the proven optimum (the proven bound), or the fallback
    allocation; and whether the time limit cut a stage short (the result then depends on the
    machine's speed)."""
    text = STATUS_TEXT[language]
    shown = f"{100 * gap:.2f}"
    percent = (text["small"] if shown == "0.00" else
               (shown.replace(".", ",") if language == "fr" else shown) + " %")
    words = text[status].format(gap=percent)
    return words + (text["clock"] if clock else "")


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
    # Signed conventions no journey serves: no `inf` anywhere, an empty minutes cell and a
    # reason that says so.
    unreachable = out_of_network(allocation, minutes)
    minutes[unreachable] = np.nan
    add_out_of_network(reason, unreachable, instance.scenario.output.language)
    summary: dict[str, Any] = {"scenario": instance.scenario.name}
    summary.update(counts(instance, kind))
    summary["conventions_unreachable"] = int(unreachable.any(axis=1).sum())
    bound = solution.upper_bound_full
    summary["upper_bound_full"] = bound
    summary["gap"] = round(1 - summary["placed_full"] / bound, 6) if bound else 0.0
    summary["upper_bound_priority_full"] = solution.upper_bound_priority_full
    summary["priority_gap"] = (
        round(1 - summary["priority_placed_full"] / solution.upper_bound_priority_full, 6)
        if solution.upper_bound_priority_full else 0.0
    )
    if solution.bounds:
        summary["bounds"] = bounds_split(solution.bounds, summary["placed_full"])
    summary["solver_status"] = solution.status
    summary["status_text"] = status_text(solution.status, summary["gap"],
                                         bool(solution.stopped_by_time_limit),
                                         instance.scenario.output.language)
    summary["depends_on_machine_speed"] = bool(solution.stopped_by_time_limit)
    if solution.stopped_by_time_limit:
        summary["time_limit_reached_in"] = list(solution.stopped_by_time_limit)
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
