"""HiGHS on territory-sized neighbourhoods: exact re-allocation of a few thousand pupils.

The flows and the chains of moves leave a few pupils unplaced where one more placement needs
many pupils to change kind at once (a single becoming a split, a split freeing a two-week
seat...). A neighbourhood frees the movable pupils nearest to a pupil not placed for both
weeks (a territory: a town and its surroundings), keeps everyone else where they are, and
re-allocates the freed pupils exactly by HiGHS, on a model by pupil options (as `exact`):
one 0-1 column per way a freed pupil can be placed (a two-week offer, a pair in one
direction, a week-1 stay and a week-2 stay tied by a balance row, one week only, the other
week of a signed one), among the offers with seats left for the neighbourhood (seats held by
kept pupils are gone) and each pupil's nearest `Territory.options` of each role, plus its
current placement (the MIP start). Rows: each offer's seats per week, each pupil at most once,
each split's balance, each pair's minimum group (with its kept members). Objective: levels
1-4 of `objective` with their integer weights (priority placed for both weeks, placed for
both weeks, one week rather than none, fewer splits).

Its LP relaxation is nearly integral, so HiGHS proves most neighbourhoods optimal within a
few nodes; it runs on one thread with a seed and a node budget (`mip.HighsLimits`), and the
number of neighbourhoods is a budget too: the same inputs give the same result on any machine.
A neighbourhood's allocation is kept only when it is strictly better on levels 1-4.
Neighbourhoods that share no pupil and no offer are solved at once, on threads (a wave, see
`territory_search`): which ones share a wave follows from the data, never from the cores.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from affectation.domain.allocation import lexicographic_score, pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.budget import Deadline
from affectation.engine.candidates import OfferRoles, PairOption, pair_options
from affectation.engine.mip import HighsLimits, solve_binary_columns
from affectation.engine.objective import level_weights
from affectation.travel.reach import Reach


@dataclass(frozen=True)
class Territory:
    """Neighbourhood size (pupils freed), options kept per pupil and role, HiGHS's budget per
    neighbourhood, and the number of neighbourhoods."""

    # Measured on the constrained profile at scale 1 after the chains of moves (gap 52
    # pupils): 30 neighbourhoods of 200 pupils with 15 options each placed 18 more in 18 s,
    # each proven optimal; of 300 pupils, 21 more in 46 s; of 600 pupils, 20 more in 105 s
    # for 10 neighbourhoods. 30 of 200 cost 20-40 s at speed index 12.5 on the profiles.
    pupils: int = 200
    options: int = 15
    limits: HighsLimits = field(default_factory=lambda: HighsLimits(nodes=50,
                                                                     iterations=400_000))
    neighbourhoods: int = 30
    seed: int = 0
    # Neighbourhoods solved at once when they share no pupil and no offer (a wave): the same
    # result on any number of cores, each being solved from the allocation before its wave.
    concurrent: int = 4
    lookahead: int = 12


@dataclass
class TerritoryStats:
    neighbourhoods: int = 0
    improved: int = 0
    optimal: int = 0
    columns: int = 0
    waves: int = 0


BOTH, SPLIT1, SPLIT2, ONE_WEEK, OTHER_WEEK = range(5)


@dataclass
class _Model:
    """Columns as (pupil, week-1 offer, week-2 offer, family) with their rows and costs;
    families `BOTH` (a single or a pair), `SPLIT1`, `SPLIT2` (a split's stays), `ONE_WEEK`
    (a partial placement), `OTHER_WEEK` (the week a signed week leaves, or its extension)."""

    pupil: list[np.ndarray] = field(default_factory=list)
    w1: list[np.ndarray] = field(default_factory=list)
    w2: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)  # (k, entries) row indices
    vals: list[np.ndarray] = field(default_factory=list)
    cost: list[np.ndarray] = field(default_factory=list)
    family: list[np.ndarray] = field(default_factory=list)

    def add(self, family: int, pupil: np.ndarray, w1: np.ndarray | int, w2: np.ndarray | int,
            entries: list[tuple[np.ndarray, float | np.ndarray]],
            cost: np.ndarray) -> None:
        k = len(pupil)
        self.family.append(np.full(k, family, dtype=np.int8))
        self.pupil.append(pupil)
        self.w1.append(np.broadcast_to(np.asarray(w1, dtype=np.int64), (k,)))
        self.w2.append(np.broadcast_to(np.asarray(w2, dtype=np.int64), (k,)))
        self.rows.append(np.stack([np.broadcast_to(r, (k,)) for r, _ in entries], axis=1))
        self.vals.append(np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), (k,))
                                   for _, v in entries], axis=1))
        self.cost.append(np.asarray(cost, dtype=np.float64))


def _nearest(pupil: np.ndarray, ok: np.ndarray, limit: int) -> np.ndarray:
    """Mask of the first `limit` true entries of `ok` within each pupil's run (pairs sorted
    by pupil then travel)."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return ok
    p = pupil[idx]
    starts = np.r_[0, np.flatnonzero(p[1:] != p[:-1]) + 1]
    rank = np.arange(len(idx)) - np.repeat(starts, np.diff(np.r_[starts, len(idx)]))
    out = np.zeros(len(ok), dtype=bool)
    out[idx[rank < limit]] = True
    return out


def _pupil_pairs(reach: Reach, pupils: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pair index into `reach`, pupil) of every reachable pair of `pupils`, row by row."""
    start = reach.indptr[pupils]
    lengths = reach.indptr[pupils + 1] - start
    offsets = np.cumsum(lengths) - lengths
    idx = np.repeat(start - offsets, lengths) + np.arange(int(lengths.sum()))
    return idx, np.repeat(pupils, lengths)


@dataclass
class _Built:
    """A neighbourhood's model, ready for HiGHS: its columns (`solve_binary_columns`'s
    arguments), what they place, and its footprint (freed pupils, offers it may change)."""

    pupils: np.ndarray
    kept: np.ndarray
    pupil_col: np.ndarray
    w1_col: np.ndarray
    w2_col: np.ndarray
    model: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                 np.ndarray]  # cost, counts, rows, values, lower, upper, start
    units: np.ndarray


def solve_territory(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
                    allocation: np.ndarray, free: np.ndarray, settings: Territory,
                    deadline: Deadline, options: PairOption | None = None
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """Re-allocate the `free` pupils (mask; their signed weeks stay) exactly, the others kept;
    returns the allocation (unchanged unless strictly better on levels 1-4) and statistics."""
    built = _build(instance, roles, reach, allowed, allocation, free, settings, options)
    if built is None:
        return allocation, {"columns": 0, "optimal": 1, "improved": 0}
    return _apply(instance, allocation, built, *_run(built, settings, deadline))


def _apply(instance: Instance, allocation: np.ndarray, built: _Built, new: np.ndarray | None,
           info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """`allocation` with the freed pupils placed as in `new` when that is strictly better on
    levels 1-4 (`info["improved"]` then 1), else unchanged."""
    if new is None:
        return allocation, info
    merged = allocation.copy()
    merged[built.pupils] = new[built.pupils]
    if lexicographic_score(instance, merged) > lexicographic_score(instance, allocation):
        info["improved"] = 1
        return merged, info
    return allocation, info


def _build(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
           allocation: np.ndarray, free: np.ndarray, settings: Territory,
           options: PairOption | None) -> _Built | None:
    """The model of re-allocating the `free` pupils with the others kept (None: nobody)."""
    st, of, pairs, fixed = instance.students, instance.offers, instance.pairs, instance.fixed
    free = free & st.to_place & (fixed < 0).any(axis=1)
    kept = allocation.copy()
    for w in (0, 1):
        kept[free & (fixed[:, w] < 0), w] = -1
    rem = seats_left(instance, kept)
    n_o = of.n
    pupils = np.flatnonzero(free)
    n_f = len(pupils)
    if n_f == 0:
        return None
    local = np.full(st.n, -1, dtype=np.int64)
    local[pupils] = np.arange(n_f)
    w_prio, w_full, w_partial, w_split, _ = level_weights(n_f)
    # Rows: seats (o, w) -> 2 o + w; pupils; split balances; pairs (members <= n open,
    # members >= need open).
    r_pupil, r_balance, r_pair = 2 * n_o, 2 * n_o + n_f, 2 * n_o + 2 * n_f
    full_value = w_full + w_prio * st.priority[pupils].astype(np.int64)
    m = _Model()
    idx, owner = _pupil_pairs(reach, pupils)
    ok = allowed[idx]
    offer = reach.offer[idx].astype(np.int64)
    lp = local[owner]
    cur = allocation[owner]
    both_free = (fixed[owner] < 0).all(axis=1)
    for_single = ok & both_free & roles.single[offer] & (rem[offer] > 0).all(axis=1)
    keep = _nearest(owner, for_single, settings.options) | (for_single & (cur[:, 0] == offer)
                                                            & (cur[:, 1] == offer))
    s, o = lp[keep], offer[keep]
    m.add(BOTH, pupils[s], o, o, [(2 * o, 1.0), (2 * o + 1, 1.0), (r_pupil + s, 1.0)],
          full_value[s])
    for w, role in ((0, roles.week1), (1, roles.week2)):
        need = fixed[owner, w] < 0
        stay_ok = ok & need & role[offer] & (rem[offer, w] > 0)
        keep = _nearest(owner, stay_ok, settings.options) | (stay_ok & (cur[:, w] == offer))
        s, o = lp[keep], offer[keep]
        bf = both_free[keep]
        none = np.full(len(s), -1, dtype=np.int64)
        w1, w2 = (o, none) if w == 0 else (none, o)
        # Free both weeks: a split's stay of week w (balance +1 / -1), or one week only.
        sb, ob = s[bf], o[bf]
        if w == 0:
            m.add(SPLIT1, pupils[sb], ob, -1,
                  [(2 * ob, 1.0), (r_pupil + sb, 1.0), (r_balance + sb, 1.0)],
                  full_value[sb] - w_split)
        else:
            m.add(SPLIT2, pupils[sb], -1, ob, [(2 * ob + 1, 1.0), (r_balance + sb, -1.0)],
                  np.zeros(len(sb)))
        m.add(ONE_WEEK, pupils[sb], w1[bf], w2[bf], [(2 * ob + w, 1.0), (r_pupil + sb, 1.0)],
              np.full(len(sb), float(w_partial)))
        # The other week signed: this week completes it (a split unless at the signed offer).
        sh, oh = s[~bf], o[~bf]
        signed = fixed[pupils[sh], 1 - w]
        m.add(OTHER_WEEK, pupils[sh], w1[~bf], w2[~bf], [(2 * oh + w, 1.0), (r_pupil + sh, 1.0)],
              full_value[sh] - w_partial - w_split * (oh != signed))
    # Extensions of a signed week (a two-week offer the pupil stays at both weeks).
    for w in (0, 1):
        half = pupils[(fixed[pupils, w] < 0) & (fixed[pupils, 1 - w] >= 0)]
        ext = fixed[half, 1 - w]
        can = (of.pair[ext] < 0) & of.open_week[ext, w] & (rem[ext, w] > 0)
        if can.any():
            reach_ok = _in_rows(reach, allowed, half[can], ext[can])
            h, e = half[can][reach_ok], ext[can][reach_ok]
            s = local[h]
            none = np.full(len(s), -1, dtype=np.int64)
            m.add(OTHER_WEEK, h, e if w == 0 else none, e if w == 1 else none,
                  [(2 * e + w, 1.0), (r_pupil + s, 1.0)], full_value[s] - w_partial)
    # Pairs, in each direction (pupils free both weeks).
    gated = np.zeros(0, dtype=np.int64)
    if pairs.n:
        if options is None:
            options = pair_options(instance, reach, allowed)
        sel = free[options.student] & (fixed[options.student] < 0).all(axis=1)
        ps, pk, pd = options.student[sel], options.pair[sel], options.direction[sel]
        a, b = pairs.offers[pk, pd], pairs.offers[pk, 1 - pd]
        room = (rem[a, 0] > 0) & (rem[b, 1] > 0)
        ps, pk, a, b = ps[room], pk[room], a[room], b[room]
        s = local[ps]
        m.add(BOTH, ps, a, b, [(2 * a, 1.0), (2 * b + 1, 1.0), (r_pupil + s, 1.0),
                         (r_pair + 2 * pk, 1.0), (r_pair + 2 * pk + 1, 1.0)], full_value[s])
        kept_count = pair_counts(instance, kept)
        gated = np.flatnonzero((pairs.min_group > 0) & (kept_count == 0))
    n_rows = r_pair + 2 * pairs.n
    lower = np.full(n_rows, -highspy.kHighsInf)
    upper = np.full(n_rows, highspy.kHighsInf)
    upper[:2 * n_o] = np.maximum(rem, 0).reshape(-1)
    upper[r_pupil:r_balance] = 1.0
    lower[r_balance:r_pair] = upper[r_balance:r_pair] = 0.0
    if pairs.n:
        kept_count = pair_counts(instance, kept)
        need = np.maximum(pairs.min_group - kept_count, 0).astype(np.float64)
        opened = np.flatnonzero((kept_count > 0) & (need > 0))
        lower[r_pair + 2 * opened + 1] = need[opened]
        upper[r_pair + 2 * gated] = 0.0
        lower[r_pair + 2 * gated + 1] = 0.0
    pupil_col = np.concatenate(m.pupil)
    w1_col, w2_col = np.concatenate(m.w1), np.concatenate(m.w2)
    rows = np.concatenate([r.reshape(-1) for r in m.rows] + [
        np.stack([r_pair + 2 * gated, r_pair + 2 * gated + 1], axis=1).reshape(-1)])
    vals = np.concatenate([v.reshape(-1) for v in m.vals] + [
        np.stack([np.full(len(gated), -float(n_f)),
                  -pairs.min_group[gated].astype(np.float64)], axis=1).reshape(-1)])
    counts = np.concatenate([np.full(len(p), r.shape[1], dtype=np.int64)
                             for p, r in zip(m.pupil, m.rows, strict=True)]
                            + [np.full(len(gated), 2, dtype=np.int64)])
    cost = np.concatenate(m.cost + [np.zeros(len(gated))])
    start = _start(instance, allocation, pupil_col, w1_col, w2_col, m, gated)
    # The offers the model may change: its columns' and the freed pupils' current ones, each
    # with its pair (a pair's minimum group ties both offers); as units, an offer or a pair.
    touched = np.concatenate([w1_col, w2_col, allocation[pupils].reshape(-1)])
    touched = touched[touched >= 0]
    units = np.unique(np.where(of.pair[touched] >= 0, n_o + of.pair[touched], touched))
    return _Built(pupils=pupils, kept=kept, pupil_col=pupil_col, w1_col=w1_col, w2_col=w2_col,
                  model=(cost, counts, rows, vals, lower, upper, start), units=units)


def _run(built: _Built, settings: Territory, deadline: Deadline
         ) -> tuple[np.ndarray | None, dict[str, Any]]:
    """HiGHS on a built neighbourhood: the allocation it found (None: none) and statistics.
    HiGHS releases the GIL, so neighbourhoods of a wave run on threads."""
    cost, counts, rows, values, lower, upper, start = built.model
    highs = solve_binary_columns(cost, counts, rows, values, lower, upper, start,
                                 settings.limits, deadline, settings.seed, "search")
    status = highs.getModelStatus()
    info: dict[str, Any] = {"columns": len(counts),
                            "optimal": int(status == highspy.HighsModelStatus.kOptimal),
                            "nodes": int(highs.getInfo().mip_node_count), "improved": 0}
    if highs.getInfo().primal_solution_status != 2:
        return None, info
    pupil_col, w1_col, w2_col = built.pupil_col, built.w1_col, built.w2_col
    x = np.asarray(highs.getSolution().col_value)[:len(pupil_col)] > 0.5
    new = built.kept.copy()
    take1 = x & (w1_col >= 0)
    take2 = x & (w2_col >= 0)
    new[pupil_col[take1], 0] = w1_col[take1]
    new[pupil_col[take2], 1] = w2_col[take2]
    return new, info


def _in_rows(reach: Reach, allowed: np.ndarray, pupils: np.ndarray, offers: np.ndarray
             ) -> np.ndarray:
    """Per (pupil, offer): the offer is in the pupil's reachable, allowed row."""
    out = np.zeros(len(pupils), dtype=bool)
    for i, (p, o) in enumerate(zip(pupils, offers, strict=True)):
        lo, hi = reach.indptr[p], reach.indptr[p + 1]
        out[i] = bool((allowed[lo:hi] & (reach.offer[lo:hi] == o)).any())
    return out


def _start(instance: Instance, allocation: np.ndarray, pupil: np.ndarray, w1: np.ndarray,
           w2: np.ndarray, m: _Model, gated: np.ndarray) -> np.ndarray:
    """The MIP start: the columns the current allocation uses (each pupil's first match)."""
    a, b = allocation[pupil, 0], allocation[pupil, 1]
    signed = instance.fixed[pupil] >= 0
    # A column matches when its weeks are the pupil's current ones, the other week being
    # signed, unplaced, or the split partner's column.
    family = np.concatenate(m.family)
    split_now = (a >= 0) & (b >= 0) & (a != b)
    match = ((family == BOTH) & (a == w1) & (b == w2)
             | (family == SPLIT1) & (a == w1) & split_now & ~signed[:, 0]
             | (family == SPLIT2) & (b == w2) & split_now & ~signed[:, 1]
             | (family == ONE_WEEK) & (w1 >= 0) & (a == w1) & (b < 0)
             | (family == ONE_WEEK) & (w2 >= 0) & (b == w2) & (a < 0)
             | (family == OTHER_WEEK) & (w1 >= 0) & (a == w1) & signed[:, 1]
             | (family == OTHER_WEEK) & (w2 >= 0) & (b == w2) & signed[:, 0])
    # One column per pupil at most (a split: one per week).
    x = np.zeros(len(pupil) + len(gated))
    seen: set[tuple[int, int]] = set()
    for i in np.flatnonzero(match):
        key = (int(pupil[i]), int(family[i] == SPLIT2))
        if key not in seen:
            seen.add(key)
            x[i] = 1.0
    if len(gated):
        x[len(pupil):] = (pair_counts(instance, allocation)[gated] > 0).astype(np.float64)
    return x


def territory_search(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
                     allocation: np.ndarray, settings: Territory, deadline: Deadline,
                     step: Callable[[int, int], None] | None = None,
                     priority_first: bool = True) -> tuple[np.ndarray, TerritoryStats]:
    """Neighbourhoods around the pupils not placed for both weeks who reach at least one
    allowed offer (priority pupils first unless `priority_first` is false, e.g. when they are
    all at their bound; each pupil once: a pupil freed by an earlier neighbourhood is not a
    centre again), up to `settings.neighbourhoods`; the safety-net `deadline` is checked
    between waves.

    The neighbourhoods are known before any is solved (a centre no earlier neighbourhood
    frees keeps its placement). They are solved in order, in waves of up to
    `settings.concurrent` that share no freed pupil and no offer (`_Built.units`): each of a
    wave is built from the allocation before the wave and solved on its own thread, then
    their results are applied in order, each kept only if strictly better, as one by one.
    Which neighbourhoods form a wave follows from the data alone, never from the cores."""
    st, fixed = instance.students, instance.fixed
    stats = TerritoryStats()
    movable = st.to_place & (fixed < 0).any(axis=1)
    movable_idx = np.flatnonzero(movable)
    if not len(movable_idx):
        return allocation, stats
    lat0 = float(np.mean(st.lat))
    x, y = st.lon * 111.32 * np.cos(np.radians(lat0)), st.lat * 110.57
    options = pair_options(instance, reach, allowed) if instance.pairs.n else None
    covered = np.zeros(st.n, dtype=bool)
    # A pupil with no allowed reachable offer cannot be helped by any exchange.
    has_option = np.bincount(reach.student_of_pair()[allowed], minlength=st.n) > 0
    missing = movable & (allocation < 0).any(axis=1) & has_option
    centres = st.priority_first(missing) if priority_first else np.flatnonzero(missing)
    plans: list[np.ndarray] = []
    for centre in centres:
        if len(plans) >= settings.neighbourhoods:
            break
        if covered[centre]:
            continue
        d2 = (x[movable_idx] - x[centre]) ** 2 + (y[movable_idx] - y[centre]) ** 2
        nearest = movable_idx[np.argsort(d2, kind="stable")[: settings.pupils]]
        covered[nearest] = True
        plans.append(nearest)
    width = max(1, settings.concurrent)
    pending = list(range(len(plans)))
    with ThreadPoolExecutor(max_workers=width) as pool:
        while pending and not deadline.passed("search"):
            chosen, wave = _wave(instance, roles, reach, allowed, allocation, settings, options,
                                 plans, pending[:settings.lookahead], width)
            pending = [k for k in pending if k not in chosen]
            runs = [None if b is None else pool.submit(_run, b, settings, deadline)
                    for b in wave]
            for built, run in zip(wave, runs, strict=True):
                info: dict[str, Any] = {"columns": 0, "optimal": 1, "improved": 0}
                if built is not None and run is not None:
                    allocation, info = _apply(instance, allocation, built, *run.result())
                stats.neighbourhoods += 1
                stats.improved += info["improved"]
                stats.optimal += info["optimal"]
                stats.columns += info["columns"]
                if step is not None:
                    step(stats.neighbourhoods, settings.neighbourhoods)
            stats.waves += 1
    return allocation, stats


def _wave(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
          allocation: np.ndarray, settings: Territory, options: PairOption | None,
          plans: list[np.ndarray], candidates: list[int], width: int
          ) -> tuple[list[int], list[_Built | None]]:
    """The next wave: the first of `candidates` (plans' indices, in order), then each next
    one that shares no freed pupil and no offer with those taken, up to `width`; the indices
    taken and their models, built from `allocation`."""
    chosen: list[int] = []
    wave: list[_Built | None] = []
    pupils_in = np.zeros(0, dtype=np.int64)
    units_in = np.zeros(0, dtype=np.int64)
    for k in candidates:
        if len(chosen) == width:
            break
        if chosen and np.intersect1d(pupils_in, plans[k]).size:
            continue
        free = np.zeros(instance.students.n, dtype=bool)
        free[plans[k]] = True
        built = _build(instance, roles, reach, allowed, allocation, free, settings, options)
        if chosen and built is not None and np.intersect1d(units_in, built.units).size:
            continue
        chosen.append(k)
        wave.append(built)
        pupils_in = np.union1d(pupils_in, plans[k])
        if built is not None:
            units_in = np.union1d(units_in, built.units)
    return chosen, wave
