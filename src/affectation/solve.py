"""Solving: from validated data to an allocation, within a time budget.

    travel times -> candidates -> proven bound -> flow-based start -> CP-SAT -> polish

The flow-based start is always valid, so there is an allocation to write whatever happens
later (`FALLBACK` when CP-SAT finds nothing better in time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from affectation.bound import full_placement_bound
from affectation.candidates import (
    OfferRoles,
    Pruning,
    allowed_pairs,
    build_candidates,
    offer_roles,
)
from affectation.construct import Problem, fill_free_seats, initial_allocation
from affectation.inputs import Instance
from affectation.improve import SearchSettings, improve
from affectation.polish import polish
from affectation.travel import PupilTravel, Reach, pupil_travel, reachable


@dataclass(frozen=True)
class SolveSettings:
    """Time budget (whole solve step), seed, CP-SAT workers and candidate pruning."""

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 2
    pruning: Pruning = field(default_factory=Pruning)
    search_pruning: Pruning = field(default_factory=lambda: Pruning(single=24, stay=16))
    reserve_s: float = 1.0


@dataclass(frozen=True, eq=False)
class Solution:
    """The allocation and what is known about it."""

    week: np.ndarray
    status: str
    upper_bound_full: int
    upper_bound_priority_full: int
    reach: Reach
    travel: PupilTravel
    roles: OfferRoles
    timings: dict[str, float]
    cpsat: dict[str, float | int | str]


def solve(instance: Instance, settings: SolveSettings) -> Solution:
    """Allocate every pupil to be placed; the result satisfies every hard rule."""
    start = time.perf_counter()
    deadline = start + settings.time_limit_s
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 3)
        return now

    t = start
    travel = pupil_travel(instance)
    reach = reachable(instance, travel)
    t = lap("travel", t)
    allowed = allowed_pairs(instance, reach)
    roles = offer_roles(instance)
    st = instance.students
    bound = full_placement_bound(instance, reach, allowed, roles)
    bound_priority = full_placement_bound(instance, reach, allowed, roles,
                                          st.to_place & st.priority)
    t = lap("bound", t)
    cands = build_candidates(instance, reach, allowed, roles, settings.pruning)
    week = initial_allocation(Problem(instance, roles, cands))
    t = lap("start", t)

    status = "FALLBACK"
    cands = build_candidates(instance, reach, allowed, roles, settings.search_pruning, keep_week=week)
    t = lap("candidates", t)
    week, stats = improve(instance, roles, cands, week, deadline - settings.reserve_s,
                          SearchSettings(seed=settings.seed))
    info: dict[str, float | int | str] = {
        "neighbourhoods": stats.neighbourhoods,
        "improved": stats.improved,
        "passes": stats.passes,
        "stopped_by_deadline": int(stats.stopped_by_deadline),
    }
    if stats.neighbourhoods:
        status = "FEASIBLE"
    t = lap("search", t)
    week = fill_free_seats(instance, roles, reach, cands.extension, week)
    week = polish(instance, roles, cands, week)
    lap("polish", t)
    return Solution(
        week=week,
        status=status,
        upper_bound_full=bound.value,
        upper_bound_priority_full=bound_priority.value,
        reach=reach,
        travel=travel,
        roles=roles,
        timings=timings,
        cpsat=info,
    )
