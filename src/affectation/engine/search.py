"""Decomposition: CP-SAT on neighbourhoods of the allocation (large neighbourhood search).

Small instances are solved whole: first by HiGHS, which proves the optimum of levels 1-4 up
to a couple of thousand pupils (`mip`), else by CP-SAT. One CP-SAT model over every pupil of
a region is too large to improve on a good start within a minute (hundreds of thousands of
booleans: it returns the hint). The exchanges that place one more pupil are local, though: a
pupil takes a nearby seat, its holder moves to another nearby offer or becomes a split. So the
search repeatedly frees the pupils nearest to a pupil not yet placed for both weeks, keeps
everyone else where they are, and lets CP-SAT re-allocate the freed pupils (hinted with their
current placement, so it never returns worse). Each neighbourhood is solved by one worker with
a fixed seed and a deterministic time limit, and the number of neighbourhoods is a budget: the
sequence of results does not depend on the machine's speed; only the safety-net deadline
(`budget.Deadline`) can cut it short, and then it says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from affectation.domain.allocation import pair_counts
from affectation.domain.instance import Instance
from affectation.engine.budget import Deadline
from affectation.engine.candidates import Candidates, OfferRoles
from affectation.engine.mip import HighsLimits, solve_mip, translatable
from affectation.engine.model import build_model, hint_allocation, read_allocation
from affectation.engine.objective import objective_score
from affectation.engine.variables import neighbourhood


@dataclass(frozen=True)
class SearchSettings:
    """Neighbourhood size, CP-SAT effort per neighbourhood, passes over the unplaced pupils."""

    window: int = 600
    deterministic_time: float = 1.0
    max_passes: int = 1
    max_neighbourhoods: int = 2
    # Up to this many pupils to place, one model holds them all (and every reachable offer).
    whole_model_pupils: int = 800
    whole_model_deterministic_time: float = 5.0
    # Up to this many, HiGHS first tries to prove the whole model's optimum (see `mip`).
    mip_pupils: int = 1500
    mip_limits: HighsLimits = HighsLimits()
    seed: int = 0
    workers: int = 1
    linearization_level: int = 2


@dataclass
class SearchStats:
    neighbourhoods: int = 0
    improved: int = 0
    passes: int = 0
    stopped_by_deadline: bool = False
    proved_optimal: bool = False
    whole_model_solver: str = ""


def _plane_km(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    st = instance.students
    lat0 = float(np.mean(st.lat)) if st.n else 0.0
    return st.lon * 111.32 * np.cos(np.radians(lat0)), st.lat * 110.57


def _pairs_with_room(instance: Instance, allocation: np.ndarray, cands: Candidates) -> np.ndarray:
    """Pairs that could host more pupils (seats left, and pupils with options on them)."""
    pairs, of = instance.pairs, instance.offers
    if pairs.n == 0:
        return np.zeros(0, dtype=np.int64)
    count = pair_counts(instance, allocation)
    a, b = pairs.offers[:, 0], pairs.offers[:, 1]
    cap = of.seats
    seats = np.minimum(cap[a, 0], cap[b, 1]) + np.minimum(cap[b, 0], cap[a, 1])
    has_options = np.bincount(cands.pairs.pair, minlength=pairs.n) > 0
    return np.flatnonzero((count < seats) & has_options)


def improve(instance: Instance, roles: OfferRoles, cands: Candidates, allocation: np.ndarray,
            deadline: Deadline, settings: SearchSettings,
            step: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, SearchStats]:
    """Re-solve neighbourhoods until no gain or the budgets of passes and neighbourhoods (or
    the safety-net deadline); `step(done, budget)` after each neighbourhood.

    Neighbourhoods are centred first on mutualised pairs with room (opening a pair or filling
    it needs several pupils to move at once: what flows cannot do and CP-SAT can), then on
    pupils not placed for both weeks, priority pupils first.
    """
    stats = SearchStats()
    st, of = instance.students, instance.offers
    x, y = _plane_km(instance)
    lat0 = float(np.mean(st.lat)) if st.n else 0.0
    movable = st.to_place & ((instance.fixed < 0).any(axis=1))
    movable_idx = np.flatnonzero(movable)
    if not len(movable_idx):
        return allocation, stats
    score = objective_score(instance, allocation)
    if len(movable_idx) <= settings.mip_pupils:
        proved = _solve_whole_by_mip(instance, roles, cands, allocation, movable, deadline,
                                     settings)
        if proved is not None and objective_score(instance, proved) >= score:
            stats.neighbourhoods = stats.passes = 1
            stats.proved_optimal = True
            stats.whole_model_solver = "highs"
            stats.improved = int(objective_score(instance, proved) > score)
            return proved, stats
    if len(movable_idx) <= settings.whole_model_pupils:
        whole = dataclasses.replace(
            settings, deterministic_time=settings.whole_model_deterministic_time)
        new, gained, optimal = _solve_neighbourhood(instance, roles, cands, allocation, movable,
                                                    deadline, whole)
        stats.neighbourhoods = 1
        stats.passes = 1
        stats.proved_optimal = optimal
        stats.whole_model_solver = "cp-sat"
        stats.improved = int(objective_score(instance, new) > score)
        stats.stopped_by_deadline = deadline.fired
        return new, stats
    for _ in range(settings.max_passes):
        pass_start = score
        centres: list[tuple[float, float]] = []
        for k in _pairs_with_room(instance, allocation, cands):
            o = instance.pairs.offers[k, 0]
            centres.append((of.lon[o] * 111.32 * np.cos(np.radians(lat0)), of.lat[o] * 110.57))
        covered = np.zeros(st.n, dtype=bool)
        missing = movable & (allocation < 0).any(axis=1)
        order = st.priority_first(missing)
        queue = list(centres) + [int(i) for i in order]
        for item in queue:
            if isinstance(item, int):
                if covered[item] or not (allocation[item] < 0).any():
                    continue
                cx, cy = x[item], y[item]
            else:
                cx, cy = item
            if stats.neighbourhoods >= settings.max_neighbourhoods:
                return allocation, stats
            if deadline.passed("search"):
                stats.stopped_by_deadline = True
                return allocation, stats
            d2 = (x[movable_idx] - cx) ** 2 + (y[movable_idx] - cy) ** 2
            nearest = movable_idx[np.argsort(d2, kind="stable")[: settings.window]]
            free = np.zeros(st.n, dtype=bool)
            free[nearest] = True
            covered[nearest] = True
            allocation, gained, _ = _solve_neighbourhood(instance, roles, cands, allocation, free,
                                                         deadline, settings)
            stats.neighbourhoods += 1
            if step is not None:
                step(stats.neighbourhoods, settings.max_neighbourhoods)
            if gained:
                new_score = objective_score(instance, allocation)
                if new_score > score:
                    stats.improved += 1
                score = new_score
        stats.passes += 1
        if score == pass_start:
            break
    return allocation, stats


def _solve_whole_by_mip(instance: Instance, roles: OfferRoles, cands: Candidates,
                        allocation: np.ndarray, free: np.ndarray, deadline: Deadline,
                        settings: SearchSettings) -> np.ndarray | None:
    """The whole model's proven optimum by HiGHS, started from `allocation`; None when HiGHS does
    not prove it in time (or the model has a variable that is not 0-1: the max-min level)."""
    hood = neighbourhood(instance, allocation, free)
    built = build_model(instance, roles, cands, hood)
    if not translatable(built):
        return None
    hint_allocation(built, instance, allocation)
    outcome = solve_mip(instance, built, hood, allocation, deadline, settings.mip_limits,
                        seed=settings.seed)
    return outcome.allocation if outcome.optimal else None


def _solve_neighbourhood(instance: Instance, roles: OfferRoles, cands: Candidates,
                         allocation: np.ndarray, free: np.ndarray, deadline: Deadline,
                         settings: SearchSettings) -> tuple[np.ndarray, bool, bool]:
    """CP-SAT over the `free` pupils; (allocation, changed, proved optimal on its options)."""
    hood = neighbourhood(instance, allocation, free)
    built = build_model(instance, roles, cands, hood)
    hint_allocation(built, instance, allocation)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = settings.workers
    params.linearization_level = settings.linearization_level
    params.random_seed = settings.seed
    params.max_deterministic_time = settings.deterministic_time
    params.max_time_in_seconds = deadline.left()
    result = solver.solve(built.model)
    # Past the safety net, CP-SAT stopped at its wall-clock limit, not at its deterministic one.
    deadline.passed("search")
    if result not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return allocation, False, False
    new = read_allocation(solver, built, instance, allocation, hood)
    if objective_score(instance, new) < objective_score(instance, allocation):
        return allocation, False, False
    return new, True, result == cp_model.OPTIMAL
