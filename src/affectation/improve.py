"""Decomposition: CP-SAT on neighbourhoods of the allocation (large neighbourhood search).

One CP-SAT model over every pupil of a region is too large to improve on a good start within
a minute (hundreds of thousands of booleans: it returns the hint). The exchanges that place one
more pupil are local, though: a pupil takes a nearby seat, its holder moves to another nearby
offer or becomes a split. So the search repeatedly frees the pupils nearest to a pupil not yet
placed for both weeks, keeps everyone else where they are, and lets CP-SAT re-allocate the freed
pupils (hinted with their current placement, so it never returns worse). Each neighbourhood
is solved by one worker with a fixed seed and a deterministic time limit: the sequence of
results does not depend on the machine's speed, only the wall-clock deadline can cut it short.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from affectation.candidates import Candidates, OfferRoles
from affectation.inputs import Instance
from affectation.model import build_model, hint_allocation, neighbourhood, read_allocation


@dataclass(frozen=True)
class SearchSettings:
    """Neighbourhood size, CP-SAT effort per neighbourhood, passes over the unplaced pupils."""

    window: int = 1200
    deterministic_time: float = 1.0
    max_passes: int = 3
    seed: int = 0


@dataclass
class SearchStats:
    neighbourhoods: int = 0
    improved: int = 0
    passes: int = 0
    stopped_by_deadline: bool = False


def lexicographic_score(instance: Instance, week: np.ndarray) -> tuple[int, int, int, int]:
    """Levels 1-4 of the objective: (priority full, full, partial, -splits)."""
    st, of = instance.students, instance.offers
    a, b = week[:, 0], week[:, 1]
    full = (a >= 0) & (b >= 0)
    partial = (a >= 0) ^ (b >= 0)
    split = full & (a != b) & (of.pair[np.maximum(a, 0)] < 0)
    return (int((full & st.priority).sum()), int(full.sum()), int(partial.sum()),
            -int(split.sum()))


def _plane_km(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    st = instance.students
    lat0 = float(np.mean(st.lat)) if st.n else 0.0
    return st.lon * 111.32 * np.cos(np.radians(lat0)), st.lat * 110.57


def improve(instance: Instance, roles: OfferRoles, cands: Candidates, week: np.ndarray,
            deadline: float, settings: SearchSettings) -> tuple[np.ndarray, SearchStats]:
    """Re-solve neighbourhoods around pupils not placed for both weeks until no gain or time."""
    stats = SearchStats()
    st = instance.students
    x, y = _plane_km(instance)
    movable = st.to_place & ((instance.fixed < 0).any(axis=1))
    movable_idx = np.flatnonzero(movable)
    if not len(movable_idx):
        return week, stats
    covered = np.zeros(st.n, dtype=bool)
    score = lexicographic_score(instance, week)
    pass_start_score = score
    while True:
        missing = movable & ((week < 0).any(axis=1)) & ~covered
        if not missing.any():
            stats.passes += 1
            if stats.passes >= settings.max_passes or score == pass_start_score:
                break
            pass_start_score = score
            covered[:] = False
            continue
        if time.perf_counter() > deadline - 0.2:
            stats.stopped_by_deadline = True
            break
        # Priority pupils first, then input order: a deterministic sequence of centres.
        centres = np.flatnonzero(missing)
        prio = centres[st.priority[centres]]
        centre = int(prio[0] if len(prio) else centres[0])
        d2 = (x[movable_idx] - x[centre]) ** 2 + (y[movable_idx] - y[centre]) ** 2
        nearest = movable_idx[np.argsort(d2, kind="stable")[: settings.window]]
        free = np.zeros(st.n, dtype=bool)
        free[nearest] = True
        # Every pupil of the neighbourhood has had its chance in this pass.
        covered[nearest] = True
        week, gained = _solve_neighbourhood(instance, roles, cands, week, free, deadline, settings)
        stats.neighbourhoods += 1
        if gained:
            new_score = lexicographic_score(instance, week)
            if new_score > score:
                stats.improved += 1
            score = new_score
    return week, stats


def _solve_neighbourhood(instance: Instance, roles: OfferRoles, cands: Candidates,
                         week: np.ndarray, free: np.ndarray, deadline: float,
                         settings: SearchSettings) -> tuple[np.ndarray, bool]:
    hood = neighbourhood(instance, week, free)
    built = build_model(instance, roles, cands, hood)
    hint_allocation(built, instance, week)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = 1
    params.random_seed = settings.seed
    params.max_deterministic_time = settings.deterministic_time
    params.max_time_in_seconds = max(0.05, deadline - time.perf_counter() - 0.1)
    result = solver.solve(built.model)
    if result not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return week, False
    new = read_allocation(solver, built, instance, week, hood)
    if lexicographic_score(instance, new) < lexicographic_score(instance, week):
        return week, False
    return new, True
