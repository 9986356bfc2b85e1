"""The solve pipeline, composed once: an instance -> an allocation -> the result files.

    load (travel.loading) -> solve or repair (engine) -> result (kinds, minutes, reasons,
    summary) -> fairness audit -> indicators -> the files of a result folder

`solve`, `repair`, `sweep` and `mobilise` all go through here; the command line only parses,
calls, writes the files returned and prints. Nothing here writes to disk: a `Run` carries the
texts of its files, which the caller writes atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.analysis.changes import change_counts, changes_csv
from affectation.analysis.indicators import indicators_csv, indicators_table
from affectation.analysis.mobilisation import Site, with_site
from affectation.analysis.result import add_fairness, make_result
from affectation.domain.allocation import PreviousResult
from affectation.domain.instance import Instance
from affectation.domain.territory import pupil_groups
from affectation.engine.repair import TEXT, RepairSettings, repair
from affectation.engine.solve import Solution, SolveSettings, solve
from affectation.io.output import Result, assignments_csv, sha256, summary_json
from affectation.timing import QUIET, Laps, Progress


@dataclass(frozen=True, eq=False)
class Run:
    """One solve or repair of an instance: its solution, its result, and the texts of its
    result folder (file name -> content, in writing order)."""

    instance: Instance
    solution: Solution
    result: Result
    indicators: pd.DataFrame
    files: dict[str, str | bytes] = field(default_factory=dict)

    @property
    def summary(self) -> dict:
        return self.result.summary


def _run(instance: Instance, solution: Solution, result: Result, audit: bool, laps: Laps,
         started: float) -> Run:
    """The run and its result folder's files: assignments, summary (after the audit has added
    to it), fairness (when `audit`) and indicators. `wall_seconds` counts from `started`
    (the command's start) to the summary's writing."""
    groups = pupil_groups(instance)
    laps.lap("result")
    fairness = None
    if audit:
        fairness = add_fairness(instance, solution, result, groups)
        laps.lap("audit", groups=int(result.summary["fairness"]["groups"]))
    indicators = indicators_table(instance, result.allocation, result.kind, result.minutes,
                                  solution.reach, groups)
    laps.lap("indicators")
    files: dict[str, str | bytes] = {"assignments.csv": assignments_csv(instance, result)}
    result.summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    result.summary["cpu_seconds"] = {**solution.cpu_seconds,
                                     **{k: laps.cpu[k] for k in ("audit",) if k in laps.cpu}}
    files["summary.json"] = summary_json(result.summary)
    if fairness is not None:
        files["fairness.csv"] = fairness
    files["indicators.csv"] = indicators_csv(indicators)
    return Run(instance, solution, result, indicators, files)


def result_run(instance: Instance, solution: Solution, seed: int, wall_seconds: float,
               audit: bool = True) -> Run:
    """The result folder of an allocation found elsewhere (`solution`: a national run's, for
    one académie): assignments, summary, fairness and indicators, as `solve_instance` has.
    `wall_seconds`: the time spent finding it, to which building the folder is added."""
    started = time.perf_counter() - wall_seconds
    result = make_result(instance, solution, seed, wall_seconds)
    return _run(instance, solution, result, audit, Laps(), started)


def solve_instance(instance: Instance, settings: SolveSettings, started: float | None = None,
                   audit: bool = True, progress: Progress | None = None) -> Run:
    """Solve `instance` and build its result folder's files. `started`: the command's start
    (`time.perf_counter()`), from which `wall_seconds` counts (reading the inputs and routing
    the timetables included); `audit=False` leaves out the fairness audit (`fairness.csv`),
    as sweeps do. Each stage reports to `progress` as it ends."""
    started = time.perf_counter() if started is None else started
    solution = solve(instance, settings, progress)
    laps = Laps(progress)
    result = make_result(instance, solution, settings.seed, time.perf_counter() - started)
    return _run(instance, solution, result, audit, laps, started)


def repair_instance(instance: Instance, previous: PreviousResult, previous_file: Path,
                    settings: RepairSettings, started: float | None = None,
                    progress: Progress | None = None) -> Run:
    """Repair the previous result `previous` (read from `previous_file`) after the changes
    in `instance`'s inputs; the files add `changes.csv`, and the summary the change counts
    and the previous file's hash. Each stage reports to `progress` as it ends."""
    started = time.perf_counter() if started is None else started
    repaired = repair(instance, previous, settings, progress)
    laps = Laps(progress)
    result = make_result(instance, repaired.solution, instance.scenario.solver.seed,
                         time.perf_counter() - started)
    if repaired.ceded is not None:
        # Pupils who gave up their seat to a priority pupil and stayed short of it say so
        # first (the checker wants a reason for `partial` and `unplaced` only).
        ceded = TEXT[instance.scenario.output.language]["ceded"]
        for h in np.flatnonzero(repaired.ceded & np.isin(result.kind, ("partial", "unplaced"))):
            result.reason[h] = f"{ceded} ; {result.reason[h]}" if result.reason[h] else ceded
    result.summary["changes"] = change_counts(instance, repaired)
    result.summary["inputs"]["previous_assignments"] = {"path": str(previous_file),
                                                        "sha256": sha256(previous_file)}
    run = _run(instance, repaired.solution, result, True, laps, started)
    run.files["changes.csv"] = changes_csv(instance, repaired)
    return run


def confirm_by_resolve(instance: Instance, settings: SolveSettings,
                       progress: Progress | None = None) -> Callable[[Site], int]:
    """A `confirm` for `mobilisation_table`: pupils placed for both weeks by a full re-solve
    (`engine.solve` with `settings`) with 10 seats at the site, minus those placed by the
    same re-solve without it (computed once, on the first call). Each re-solve reports to
    `progress` as it ends (stage "run")."""
    st = instance.students
    base: list[int] = []
    quiet = QUIET if progress is None else progress

    def placed(inst: Instance, label: str) -> int:
        started = time.perf_counter()
        allocation = solve(inst, settings).allocation
        count = int((st.to_place & (allocation[: st.n] >= 0).all(axis=1)).sum())
        quiet.stage("run", time.perf_counter() - started,
                    {"label": f"{label}, " + f"{count:,}".replace(",", "\u00a0")
                              + " élèves placés deux semaines"})
        return count

    def gain(site: Site) -> int:
        if not base:
            base.append(placed(instance, "sans site"))
        return placed(with_site(instance, site), f"site {site.label}") - base[0]

    return gain
