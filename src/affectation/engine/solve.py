"""Solving: from validated data to an allocation, within a time budget.

    travel times -> proven bounds -> candidates -> flow-based start
        -> CP-SAT neighbourhood search (up to 4,000 pupils to place)
        -> (levels 1-2 exactly, a few thousand pupils)
        -> fill free seats -> chains of moves
        -> HiGHS on territory-sized neighbourhoods (instances not solved whole or exactly)
        -> polish (sectors, travel)
        -> (with `lp_bound`: the LP bound beside the flow bounds)

The flow-based start is valid, so there is always an allocation to write. `solver_status`:
`OPTIMAL` when HiGHS or CP-SAT proved the whole model (every pupil, every reachable offer)
optimal for levels 1-4 of the objective, or when the pupils placed for both weeks, and the
priority pupils among them, equal their proven upper bounds (levels 1-2 then proven optimal);
`FALLBACK` only when the greedy allocation replaced the flows (the time limit is below what
the flows need for an instance of this size); `FEASIBLE` otherwise.

Determinism: every stage is deterministic (flows, single-worker CP-SAT with a fixed seed and a
deterministic time limit per neighbourhood, a fixed budget of neighbourhoods) and which stages
run depends on the instance's size and the time limit, not on the clock; only the wall-clock
time limit can cut the search short, and then the summary says so.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from affectation.domain.allocation import lexicographic_score
from affectation.domain.instance import Instance
from affectation.domain.params import SolverParams
from affectation.engine.bound import full_placement_bound
from affectation.engine.budget import Deadline
from affectation.engine.candidates import (
    NO_PRUNING,
    OfferRoles,
    Pruning,
    allowed_pairs,
    build_candidates,
    offer_roles,
)
from affectation.engine.equity import level_groups, levelling_summary
from affectation.engine.exact import exact_placements
from affectation.engine.lp_bound import LpBound, LpSettings, lp_bound
from affectation.engine.mip import HighsLimits
from affectation.engine.moves import place_by_moves
from affectation.engine.objective import rate_level
from affectation.engine.polish import polish
from affectation.engine.search import SearchSettings, SearchStats, improve
from affectation.engine.seats import fill_free_seats, place_by_one_move
from affectation.engine.start import StartInputs, greedy_allocation, initial_allocation
from affectation.engine.territory import Territory, TerritoryStats, territory_search
from affectation.timing import Laps, Progress
from affectation.travel.reach import PupilTravel, Reach, pupil_travel, reachable

# Seconds per reachable pair of the proven bounds and of the flow-based start, measured at
# Normandy scale (19.65 M pairs: ~14 s and ~13 s on a 2-core AMD EPYC). A time limit below
# 1.2 times both skips the slower bounds; below the start's own estimate, the start is the
# greedy fallback (nearest free seats).
BOUNDS_S_PER_PAIR = 0.7e-6
START_S_PER_PAIR = 0.65e-6


@dataclass(frozen=True)
class SolveSettings:
    """Time budget (whole solve step), seed, CP-SAT workers, pruning and search budget."""

    time_limit_s: float = 600.0
    seed: int = 0
    workers: int = 1
    pruning: Pruning = field(default_factory=Pruning)
    search_pruning: Pruning = field(default_factory=lambda: Pruning(single=24, stay=16))
    search: SearchSettings = field(default_factory=SearchSettings)
    # The three-layer bound is sometimes tighter but slower: computed up to this many pairs.
    three_layer_max_pairs: int = 3_000_000
    # HiGHS on territory-sized neighbourhoods after the chains of moves, on instances not
    # solved whole or exactly (`territory`): the exchanges that need many pupils to change kind
    # at once, which neither CP-SAT's neighbourhoods nor the chains find at scale.
    territory: Territory = field(default_factory=Territory)
    # Passes of the chains of moves after the search (`moves.place_by_moves`).
    move_passes: int = 100
    # Levels 1-2 solved exactly (`exact`) above the whole-model MIP's size, up to this many
    # pupils to place and columns (scale 0.1 of Normandy: 2,434 pupils, 185,000 columns,
    # ~20 s); proven optima only are kept.
    exact_max_pupils: int = 4_000
    exact_max_columns: int = 250_000
    exact_limits: HighsLimits = field(default_factory=HighsLimits)
    # A second proven bound, the LP relaxation of `exact`'s model by column generation
    # (`lp_bound`), beside the flow bounds: off by default (20-240 s at scale 1); the smaller
    # bound is the one reported and tested against.
    lp_bound: bool = False
    # Without `lp_bound`: the LP bound of the priority pupils alone when they end below their
    # flow bound (the full LP is the costly one).
    priority_lp_bound: bool = True
    lp: LpSettings = field(default_factory=LpSettings)

    @classmethod
    def from_scenario(cls, params: SolverParams, time_limit_s: float | None = None,
                      seed: int | None = None) -> SolveSettings:
        """The scenario's `[solver]` settings, with the command line's overrides (None: keep)."""
        return cls(time_limit_s=params.time_limit_s if time_limit_s is None else time_limit_s,
                   seed=params.seed if seed is None else seed, workers=params.workers)


@dataclass(frozen=True, eq=False)
class Solution:
    """The allocation and what is known about it."""

    allocation: np.ndarray
    status: str
    upper_bound_full: int
    upper_bound_priority_full: int
    reach: Reach
    travel: PupilTravel
    roles: OfferRoles
    timings: dict[str, float]
    search: dict[str, float | int | str]
    equity: dict[str, float | int | str] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    # The stages the safety-net deadline cut short (empty: the result is the same on any
    # machine); `fallback`: the greedy allocation replaced the flows (time limit too short).
    stopped_by_time_limit: tuple[str, ...] = ()
    fallback: bool = False
    # Each bound apart when an LP bound was computed (`flow_upper_bound_full`,
    # `lp_upper_bound_full`, and the same for the priority pupils; the LP ones computed).
    bounds: dict[str, int] = field(default_factory=dict)


def _timed_lp_bound(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
                    mask: np.ndarray, lp: LpSettings, allocation: np.ndarray
                    ) -> tuple[LpBound, float]:
    """`lp_bound` and its own seconds (it may run beside another stage)."""
    started = time.perf_counter()
    value = lp_bound(instance, roles, reach, allowed, mask, lp, allocation)
    return value, time.perf_counter() - started


def solve(instance: Instance, settings: SolveSettings, progress: Progress | None = None,
          deadline: Deadline | None = None, reach: Reach | None = None) -> Solution:
    """Allocate every pupil to be placed; the result satisfies every hard rule.

    Stages report to `progress` as they end (the command line prints them); `deadline` is the
    safety net (by default `settings.time_limit_s` from now, see `budget`). `reach`: the
    reachable pairs when already computed (default: every reachable pair); a capped reach
    (`travel.reach.nearest_reach`) keeps each pupil's nearest offers only: the allocation then
    uses those, while the bounds stay proven on every reachable pair."""
    laps = Laps(progress)
    lap, timings = laps.lap, laps.timings
    report = laps.progress
    if deadline is None:
        deadline = Deadline(time.perf_counter() + settings.time_limit_s)

    travel = pupil_travel(instance)
    if reach is None:
        reach = reachable(instance, travel)
    lap("travel", reachable_pairs=reach.n_pairs)
    allowed = allowed_pairs(instance, reach)
    roles = offer_roles(instance)
    st = instance.students
    # The path depends on the instance's size and the time limit, never on the clock: the
    # same inputs and limit take the same path however loaded the machine (a loaded machine
    # then overruns the limit rather than falling back to a far worse allocation).
    hurried = settings.time_limit_s < 1.2 * (BOUNDS_S_PER_PAIR + START_S_PER_PAIR) * reach.n_pairs
    # The three-layer bound is rarely tighter: only on small instances, where it is cheap.
    three_layer = reach.n_pairs <= settings.three_layer_max_pairs and not hurried
    bound, flow_arcs = full_placement_bound(instance, reach, allowed, roles,
                                            three_layer=three_layer)
    bound_priority, _ = full_placement_bound(instance, reach, allowed, roles,
                                             st.to_place & st.priority, three_layer=three_layer)
    lap("bounds", upper_bound_full=bound.value, upper_bound_priority_full=bound_priority.value)
    arcs = (flow_arcs.single, flow_arcs.week1, flow_arcs.week2)
    cands = build_candidates(instance, reach, allowed, roles, settings.pruning, flow_arcs=arcs)
    problem = StartInputs(instance, roles, cands, reach, travel_ties=False)
    flows = settings.time_limit_s >= START_S_PER_PAIR * reach.n_pairs
    # Too little time for the flows: the nearest free seats, pupil by pupil (the fallback).
    allocation = initial_allocation(problem) if flows else greedy_allocation(problem)
    start_score = lexicographic_score(instance, allocation)
    lap("start", placed_full=start_score[1], priority_placed_full=start_score[0])
    upper, upper_priority = bound.value, bound_priority.value
    lp_ready = not reach.any_capped and not hurried
    # Without `lp_bound`, the priority pupils' LP bound is needed only when they end below
    # their flow bound (a few seconds at scale 1: constrained profile, 8,079 placed, flow bound
    # 8,080, LP bound 8,079). It is started from the start's allocation on a thread of its
    # own, beside the next stages (its HiGHS solves release the GIL), and its value used only
    # if the final allocation is still below the flow bound: the same value on any machine.
    # It reads its own copy: the later stages must not change what it prices.
    background: ThreadPoolExecutor | None = None
    early_priority_lp: Future[tuple[LpBound, float]] | None = None
    if lp_ready and not settings.lp_bound and settings.priority_lp_bound \
            and start_score[0] < upper_priority:
        background = ThreadPoolExecutor(max_workers=1)
        early_priority_lp = background.submit(_timed_lp_bound, instance, roles, reach, allowed,
                                              st.to_place & st.priority, settings.lp,
                                              allocation.copy())

    # A small instance is searched whole, over every reachable offer: its optimum is exact.
    whole = int(st.to_place.sum()) <= max(settings.search.whole_model_pupils,
                                          settings.search.mip_pupils)
    pruning = NO_PRUNING if whole else settings.search_pruning
    cands = build_candidates(instance, reach, allowed, roles, pruning,
                             keep_week=allocation, flow_arcs=arcs)
    lap("candidates")
    search = dataclasses.replace(settings.search, seed=settings.seed, workers=settings.workers)
    to_place = int(st.to_place.sum())
    stats = SearchStats()
    # Above the size levels 1-2 are solved exactly at, HiGHS territories (after the chains of
    # moves) replace CP-SAT's neighbourhoods: on every scale-1 profile of
    # `benchmarks/robustness.py` CP-SAT ran its 2 neighbourhoods (6-10 s) and improved none.
    if whole or to_place <= settings.exact_max_pupils:
        allocation, stats = improve(instance, roles, cands, allocation, deadline, search,
                                    step=lambda done, total: report.step("search", done, total))
        lap("search", placed_full=lexicographic_score(instance, allocation)[1],
            neighbourhoods=stats.neighbourhoods, improved=stats.improved)
    exact: dict[str, float | int | str] = {}
    exact_proven = False
    if (search.mip_pupils < to_place <= settings.exact_max_pupils and not hurried
            and rate_level(instance) != "before_total"):
        outcome = exact_placements(instance, roles, reach, allowed, allocation, deadline,
                                   settings.exact_limits, settings.seed,
                                   settings.exact_max_columns)
        exact = outcome.info
        exact_proven = bool(outcome.info.get("exact_optimal"))
        if outcome.allocation is not None:
            allocation = outcome.allocation
        lap("exact", placed_full=lexicographic_score(instance, allocation)[1])
    allocation = fill_free_seats(instance, roles, reach, cands.extension, allocation)
    equity: dict[str, float | int | str] = {}
    if instance.scenario.equity.max_min_groups:
        levelled = level_groups(instance, roles, cands, allocation)
        equity = levelling_summary(instance, allocation, levelled)
        allocation = levelled
        lap("equity")
    # Exchanges longer than the neighbourhoods see: chains of moves that place one more pupil.
    allocation, _, moves_cut = place_by_moves(
        instance, reach, roles, allocation, np.zeros(st.n, dtype=bool), "after_total",
        settings.move_passes, convert=not instance.scenario.rules.split_two_week_offers,
        deadline=deadline, step=lambda done, total: report.step("moves", done, total))
    moved = lexicographic_score(instance, allocation)
    lap("moves", placed_full=moved[1])
    territories = TerritoryStats()
    territory_gain = 0
    if (not whole and not exact_proven and not stats.proved_optimal
            and (moved[0], moved[1]) != (bound_priority.value, bound.value)):
        territory = dataclasses.replace(settings.territory, seed=settings.seed)
        allocation, territories = territory_search(
            instance, roles, reach, allowed, allocation, territory, deadline,
            step=lambda done, total: report.step("territories", done, total),
            priority_first=moved[0] < bound_priority.value)
        territory_gain = lexicographic_score(instance, allocation)[1] - moved[1]
        lap("territories", placed_full=moved[1] + territory_gain,
            neighbourhoods=territories.neighbourhoods, improved=territories.improved)
    allocation = polish(instance, roles, cands, reach, allocation)
    # The polish may free one-week seats (a split becoming a single): offer them again.
    allocation = fill_free_seats(instance, roles, reach, cands.extension, allocation)
    # Seats freed or left by the polish may let a holder move and an unplaced pupil in.
    allocation = place_by_one_move(instance, roles, reach, allowed, allocation)
    score = lexicographic_score(instance, allocation)
    lap("polish", placed_full=score[1], priority_placed_full=score[0])
    bounds: dict[str, int] = {}
    lp_info: dict[str, float | int | str] = {}
    early = None
    if background is not None and early_priority_lp is not None:
        early = early_priority_lp.result()
        background.shutdown()
    # With `lp_bound`, both LP bounds; without, the priority pupils' alone when they end below
    # their flow bound.
    if lp_ready and (settings.lp_bound or (early is not None and score[0] < upper_priority)):
        bounds = {"flow_upper_bound_full": upper,
                  "flow_upper_bound_priority_full": upper_priority}
        if early is None:
            lp_priority, lp_seconds = _timed_lp_bound(instance, roles, reach, allowed,
                                                      st.to_place & st.priority, settings.lp,
                                                      allocation)
        else:
            lp_priority, lp_seconds = early
        bounds["lp_upper_bound_priority_full"] = lp_priority.value
        upper_priority = min(upper_priority, lp_priority.value)
        lp_info = {"lp_priority_rounds": lp_priority.rounds,
                   "lp_priority_converged": int(lp_priority.converged),
                   "lp_priority_seconds": round(lp_seconds, 3)}
        if settings.lp_bound:
            lp_all = lp_bound(instance, roles, reach, allowed, st.to_place, settings.lp,
                              allocation)
            bounds["lp_upper_bound_full"] = lp_all.value
            upper = min(upper, lp_all.value)
            lp_info.update({"lp_rounds": lp_all.rounds, "lp_converged": int(lp_all.converged),
                            "lp_columns": lp_all.columns, "lp_options": lp_all.options,
                            "lp_value": round(lp_all.lp_value, 3)})
            lap("lp_bound", lp_bound_full=lp_all.value,
                lp_bound_priority_full=lp_priority.value,
                flow_bound_full=bounds["flow_upper_bound_full"], placed_full=score[1],
                rounds=lp_all.rounds + lp_priority.rounds)
        else:
            lap("lp_bound_priority", lp_bound_priority_full=lp_priority.value,
                rounds=lp_priority.rounds)
    at_bounds = score[0] == upper_priority and score[1] == upper
    # With the max-min level above level 2, reaching the bounds no longer proves optimality.
    if stats.proved_optimal or (at_bounds and rate_level(instance) != "before_total"):
        status = "OPTIMAL"
    elif not flows:
        status = "FALLBACK"
    else:
        status = "FEASIBLE"
    info: dict[str, float | int | str] = {
        "start_placed_full": start_score[1],
        "start_priority_placed_full": start_score[0],
        "neighbourhoods": stats.neighbourhoods,
        "improved": stats.improved,
        "passes": stats.passes,
        "stopped_by_time_limit": int(deadline.fired),
        "whole_model_proved_optimal": int(stats.proved_optimal),
        "whole_model_solver": stats.whole_model_solver,
        "bound_rounds": bound.rounds,
        "territory_neighbourhoods": territories.neighbourhoods,
        "territory_improved": territories.improved,
        "territory_waves": territories.waves,
        "lp_priority_started": int(early_priority_lp is not None),
        "territory_placed_gain": territory_gain,
        **exact,
        **lp_info,
    }
    return Solution(
        allocation=allocation,
        status=status,
        upper_bound_full=upper,
        upper_bound_priority_full=upper_priority,
        reach=reach,
        travel=travel,
        roles=roles,
        timings=timings,
        search=info,
        equity=equity,
        cpu_seconds=laps.cpu,
        stopped_by_time_limit=tuple(deadline.stages) if deadline.fired else (),
        fallback=not flows,
        bounds=bounds,
    )
