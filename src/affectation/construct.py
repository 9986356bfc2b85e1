"""A fast, valid starting allocation built from network flows.

Pupils are placed in stages, each a weighted min-cost flow (priority pupils weigh more than
all others together, then shorter travel breaks ties):

1. singles: pupils to two-week offers (both weeks at once);
2. the rest to a week-1 offer and a week-2 offer through the three-layer network
   (offer-week -> pupil -> offer-week), where a path is a `split` when it joins two one-week
   stays and `mutualised` when it joins the two offers of a pair in a valid direction; mixed
   paths are refused. Pupils with one signed week get their other week here;
3. pairs under their minimum group are emptied, and a greedy pass gives every pupil still
   missing a week the nearest option left (partial placements included).

When two-week offers may be split, stages 1 and 2 are one flow, since every path is then valid.
Singles go first otherwise, and among equally good single matchings the flow prefers pupils with
no split option, leaving the others to splits. The result is valid; CP-SAT then improves it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from affectation.candidates import Candidates, OfferRoles
from affectation.inputs import Instance
from affectation.travel import Reach

# Travel minutes of one path are at most this (tie-break level of the flows' costs).
_MAX_PATH_MINUTES = 1 << 11
ALTERNATIONS = 2


@dataclass(frozen=True, eq=False)
class Problem:
    """What the construction needs: the data, the offers' roles and the candidate options."""

    instance: Instance
    roles: OfferRoles
    candidates: Candidates


@dataclass
class _Arcs:
    tails: list[np.ndarray]
    heads: list[np.ndarray]
    caps: list[np.ndarray]
    costs: list[np.ndarray]

    def add(self, t: np.ndarray, h: np.ndarray, cap: np.ndarray | int, cost: np.ndarray | int) -> None:
        t = np.asarray(t, dtype=np.int64)
        self.tails.append(t)
        self.heads.append(np.asarray(h, dtype=np.int64))
        self.caps.append(np.broadcast_to(np.asarray(cap, dtype=np.int64), t.shape))
        self.costs.append(np.broadcast_to(np.asarray(cost, dtype=np.int64), t.shape))


def initial_allocation(problem: Problem) -> np.ndarray:
    """A valid (students, 2) week array: conventions, then flows, then greedy completion."""
    inst = problem.instance
    st, of = inst.students, inst.offers
    week = inst.fixed.copy()
    rem = of.capacity[:, None] * of.open_week
    np.subtract.at(rem, (inst.conventions.offer, inst.conventions.week - 1), 1)
    to_place = st.to_place
    if inst.scenario.rules.split_two_week_offers:
        for _ in range(2):
            pending = to_place & (week < 0).any(axis=1)
            if pending.any():
                _three_layer(problem, pending, week, rem, with_singles=True)
    else:
        # Pupils placed for both weeks are singles (two-week offers) or use one-week offers
        # and pairs; the two families compete only for pupils. Alternate the two exact family
        # flows, each avoiding the pupils the other one wants, then commit singles first.
        free = to_place & (week < 0).all(axis=1)
        wants_stays = _stays_family(problem, free, week, rem, avoid=None)
        wants_single = np.zeros(st.n, dtype=bool)
        for _ in range(ALTERNATIONS):
            wants_single = _singles(problem, free, week, rem, wants_stays, accept=False)
            wants_stays = _stays_family(problem, free, week, rem, avoid=wants_single)
        _singles(problem, free, week, rem, wants_stays & ~wants_single)
        for _ in range(2):
            pending = to_place & (week < 0).any(axis=1)
            if pending.any():
                _three_layer(problem, pending, week, rem, False)
            free = to_place & (week < 0).all(axis=1)
            if free.any():
                _singles(problem, free, week, rem, np.zeros(st.n, dtype=bool))
    _close_small_pairs(problem, week, rem)
    order = np.r_[np.flatnonzero(st.priority & to_place), np.flatnonzero(~st.priority & to_place)]
    _open_pairs(problem, week, rem)
    _greedy(problem, order, week, rem)
    return week


def _pupil_costs(inst: Instance, students: np.ndarray,
                 preferred: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Costs of the pupil arcs, and the multiplier of travel minutes on offer arcs.

    Lexicographic levels: priority pupils placed, pupils placed, then either preferred pupils
    (when `preferred` is given; travel is then ignored to keep costs within 64 bits) or shorter
    travel. Each unit outweighs everything the levels below can add up to.
    """
    n = len(students) + 1
    if preferred is None:
        travel, pref_unit = 1, 0
        count_unit = n * _MAX_PATH_MINUTES + 1
    else:
        travel, pref_unit = 0, 1
        count_unit = n + 1
    priority_unit = n * count_unit + 1
    prio = inst.students.priority[students].astype(np.int64)
    costs = -(count_unit + priority_unit * prio)
    if preferred is not None:
        costs = costs - pref_unit * preferred[students].astype(np.int64)
    return costs, travel


def _solve(arcs: _Arcs, n_nodes: int, source: int, sink: int, units: int) -> tuple[np.ndarray, ...]:
    """Min-cost flow of `units` from source to sink with a free bypass (weighted max flow)."""
    t = np.concatenate(arcs.tails + [np.array([source])])
    h = np.concatenate(arcs.heads + [np.array([sink])])
    c = np.concatenate(arcs.caps + [np.array([units])])
    k = np.concatenate(arcs.costs + [np.array([0])])
    flow = min_cost_flow.SimpleMinCostFlow()
    ids = flow.add_arcs_with_capacity_and_unit_cost(t, h, c, k)
    supplies = np.zeros(n_nodes, dtype=np.int64)
    supplies[source], supplies[sink] = units, -units
    flow.set_nodes_supplies(np.arange(n_nodes), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min cost flow failed with status {status}")
    return t, h, flow.flows(ids)


def _stays_family(problem: Problem, free: np.ndarray, week: np.ndarray, rem: np.ndarray,
                  avoid: np.ndarray | None) -> np.ndarray:
    """Pupils the one-week-offers-and-pairs flow places, preferring pupils not in `avoid`."""
    pending = free | (problem.instance.students.to_place & (week < 0).any(axis=1))
    bonus = None if avoid is None else ~avoid
    got = _three_layer(problem, pending, week, rem, False, accept=False, bonus=bonus)
    return free & (got >= 0).all(axis=1)


def _singles(problem: Problem, pending: np.ndarray, week: np.ndarray, rem: np.ndarray,
             penalised: np.ndarray, accept: bool = True) -> np.ndarray:
    """A weighted maximum matching of pupils to two-week offers; `penalised` pupils last.

    Returns the matched pupils; assigns them (and takes their seats) when `accept`.
    """
    inst, cands = problem.instance, problem.candidates
    n_o, n_s = inst.offers.n, inst.students.n
    arcs_in = cands.single
    sel = pending[arcs_in.student] & (np.minimum(rem[arcs_in.offer, 0], rem[arcs_in.offer, 1]) > 0)
    s, o, d = arcs_in.student[sel], arcs_in.offer[sel], arcs_in.deciminutes[sel]
    students = np.unique(s)
    if not len(students):
        return np.zeros(n_s, dtype=bool)
    source, sink, o_node, p_node = 0, 1, 2, 2 + n_o
    arcs = _Arcs([], [], [], [])
    costs, travel = _pupil_costs(inst, students, ~penalised if penalised.any() else None)
    arcs.add(np.full(len(students), source), p_node + students, 1, costs)
    arcs.add(p_node + s, o_node + o, 1, travel * (d // 10))
    offers = np.unique(o)
    arcs.add(o_node + offers, np.full(len(offers), sink), np.minimum(rem[offers, 0], rem[offers, 1]), 0)
    t, h, f = _solve(arcs, 2 + n_o + n_s, source, sink, len(students))
    used = (f > 0) & (t >= p_node) & (h >= o_node) & (h < p_node)
    ps, po = t[used] - p_node, h[used] - o_node
    matched = np.zeros(n_s, dtype=bool)
    matched[ps] = True
    if not accept:
        return matched
    week[ps, 0] = po
    week[ps, 1] = po
    for w in (0, 1):
        np.subtract.at(rem[:, w], po, 1)
    return matched


def _three_layer(problem: Problem, pending: np.ndarray, week: np.ndarray, rem: np.ndarray,
                 with_singles: bool, accept: bool = True,
                 bonus: np.ndarray | None = None) -> np.ndarray:
    """Weighted flow offer-week -> pupil -> offer-week; accept valid paths when `accept`.

    Returns each pupil's (week-1, week-2) ends of its path (-1 where none). `bonus` pupils are
    preferred among equally many placed.
    """
    inst, roles, cands = problem.instance, problem.roles, problem.candidates
    n_o, n_s = inst.offers.n, inst.students.n
    free_both = pending & (week[:, 0] < 0) & (week[:, 1] < 0)
    need = [pending & (week[:, 0] < 0) & (week[:, 1] >= 0),
            pending & (week[:, 1] < 0) & (week[:, 0] >= 0)]
    source, sink = 0, 1
    o1, o2, p_in, p_out = 2, 2 + n_o, 2 + 2 * n_o, 2 + 2 * n_o + n_s
    arcs = _Arcs([], [], [], [])
    offers = np.arange(n_o)
    arcs.add(np.full(n_o, source), o1 + offers, rem[:, 0], 0)
    arcs.add(o2 + offers, np.full(n_o, sink), rem[:, 1], 0)
    students = np.flatnonzero(pending)
    costs, travel = _pupil_costs(inst, students, bonus)
    arcs.add(p_in + students, p_out + students, 1, costs)

    def side(w: int, s: np.ndarray, o: np.ndarray, d: np.ndarray) -> None:
        keep = rem[o, w] > 0
        s, o, d = s[keep], o[keep], travel * (d[keep] // 10)
        if w == 0:
            arcs.add(o1 + o, p_in + s, 1, d)
        else:
            arcs.add(p_out + s, o2 + o, 1, d)

    for w in (0, 1):
        role_lists = [cands.stays(w)] + ([cands.single] if with_singles else [])
        for a in role_lists:
            sel = free_both[a.student]
            side(w, a.student[sel], a.offer[sel], a.deciminutes[sel])
    po = cands.pairs
    sel = free_both[po.student]
    if sel.any():
        x = inst.pairs.offers[po.pair[sel], po.direction[sel]]
        y = inst.pairs.offers[po.pair[sel], 1 - po.direction[sel]]
        half = po.deciminutes[sel] // 2
        side(0, po.student[sel], x, half)
        side(1, po.student[sel], y, po.deciminutes[sel] - half)
    for w in (0, 1):
        s_need = np.flatnonzero(need[w])
        if not len(s_need):
            continue
        if w == 0:  # week 2 signed: the path ends at the sink directly
            arcs.add(p_out + s_need, np.full(len(s_need), sink), 1, 0)
        else:
            arcs.add(np.full(len(s_need), source), p_in + s_need, 1, 0)
        a = cands.stays(w)
        sel = need[w][a.student]
        ext = cands.extension[s_need]
        has = ext >= 0
        side(w, np.r_[a.student[sel], s_need[has]], np.r_[a.offer[sel], ext[has]],
             np.r_[a.deciminutes[sel], np.zeros(int(has.sum()), dtype=np.int64)])

    t, h, f = _solve(arcs, 2 + 2 * n_o + 2 * n_s, source, sink, len(students))
    used = f > 0
    into = used & (h >= p_in) & (h < p_out) & (t >= o1) & (t < o2)
    outof = used & (t >= p_out) & (h >= o2) & (h < p_in)
    got = np.full((n_s, 2), -1, dtype=np.int64)
    got[h[into] - p_in, 0] = t[into] - o1
    got[t[outof] - p_out, 1] = h[outof] - o2
    if not accept:
        return got
    a, b = got[:, 0], got[:, 1]
    a0, b0 = np.maximum(a, 0), np.maximum(b, 0)
    of_pair = inst.offers.pair
    both = free_both & (a >= 0) & (b >= 0)
    single = both & (a == b) & roles.single[a0]
    split = both & (a != b) & (of_pair[a0] < 0) & (of_pair[b0] < 0)
    mutual = both & (a != b) & (of_pair[a0] >= 0) & (of_pair[a0] == of_pair[b0])
    ok = single | split | mutual | (need[0] & (a >= 0)) | (need[1] & (b >= 0))
    for w in (0, 1):
        take = ok & (got[:, w] >= 0) & (week[:, w] < 0)
        week[take, w] = got[take, w]
        np.subtract.at(rem[:, w], got[take, w], 1)
    return got


def _close_small_pairs(problem: Problem, week: np.ndarray, rem: np.ndarray) -> None:
    """Release the pupils of pairs below their minimum group (unless a convention opens it)."""
    inst = problem.instance
    pairs = inst.pairs
    if pairs.n == 0:
        return
    count = _pair_counts(inst, week)
    signed = np.zeros(pairs.n, dtype=bool)
    signed_pair = inst.offers.pair[inst.conventions.offer]
    signed[signed_pair[signed_pair >= 0]] = True
    too_small = (count > 0) & (count < pairs.min_group) & ~signed
    if not too_small.any():
        return
    in_pair = _pair_of_pupil(inst, week)
    drop = (in_pair >= 0) & too_small[np.maximum(in_pair, 0)]
    for w in (0, 1):
        np.add.at(rem[:, w], week[drop, w], 1)
        week[drop, w] = -1


def _open_pairs(problem: Problem, week: np.ndarray, rem: np.ndarray) -> None:
    """Open closed pairs when enough unplaced pupils can fill them to their minimum group."""
    inst, options = problem.instance, problem.candidates.pairs
    pairs, st = inst.pairs, inst.students
    if pairs.n == 0 or len(options.student) == 0:
        return
    count = _pair_counts(inst, week)
    for k in np.flatnonzero(count == 0):
        sel = (options.pair == k) & (week[options.student] < 0).all(axis=1)
        if not sel.any():
            continue
        s, d = options.student[sel], options.direction[sel]
        order = np.lexsort((s, ~st.priority[s]))
        chosen: list[tuple[int, int, int]] = []
        left = rem.copy()
        taken: set[int] = set()
        for i in order:
            if int(s[i]) in taken:
                continue
            x, y = pairs.offers[k, d[i]], pairs.offers[k, 1 - d[i]]
            if left[x, 0] > 0 and left[y, 1] > 0:
                left[x, 0] -= 1
                left[y, 1] -= 1
                taken.add(int(s[i]))
                chosen.append((int(s[i]), int(x), int(y)))
        if len(chosen) >= max(int(pairs.min_group[k]), 1):
            for pupil, x, y in chosen:
                _assign(week, rem, pupil, (x, y))


def _pair_of_pupil(inst: Instance, week: np.ndarray) -> np.ndarray:
    w1 = week[:, 0]
    return np.where(w1 >= 0, inst.offers.pair[np.maximum(w1, 0)], -1)


def _pair_counts(inst: Instance, week: np.ndarray) -> np.ndarray:
    in_pair = _pair_of_pupil(inst, week)
    return np.bincount(in_pair[in_pair >= 0], minlength=inst.pairs.n)


def _greedy(problem: Problem, order: np.ndarray, week: np.ndarray, rem: np.ndarray) -> None:
    """Give each pupil still missing a week the nearest option left, in `order`."""
    inst, cands = problem.instance, problem.candidates
    pairs = inst.pairs
    pair_count = _pair_counts(inst, week)
    n = inst.students.n
    idx_single = _row_index(cands.single.student, n)
    idx_stay = [_row_index(cands.week1.student, n), _row_index(cands.week2.student, n)]
    idx_pair = _row_index(cands.pairs.student, n)
    for s in order[((week[order] < 0).sum(axis=1) > 0)]:
        a, b = week[s]
        if a < 0 and b < 0:
            o = _first_free(cands.single.offer[_sl(idx_single, s)], rem, both=True)
            if o >= 0:
                _assign(week, rem, s, (o, o))
                continue
            sl = _sl(idx_pair, s)
            placed = False
            for i in range(sl.start, sl.stop):
                k, d = cands.pairs.pair[i], cands.pairs.direction[i]
                # Joining a closed pair would leave it under its minimum group.
                if pair_count[k] < pairs.min_group[k] - 1 or (pair_count[k] == 0 and pairs.min_group[k] > 1):
                    continue
                x, y = pairs.offers[k, d], pairs.offers[k, 1 - d]
                if rem[x, 0] > 0 and rem[y, 1] > 0:
                    _assign(week, rem, s, (x, y))
                    pair_count[k] += 1
                    placed = True
                    break
            if placed:
                continue
            x = _first_free(cands.week1.offer[_sl(idx_stay[0], s)], rem, week_index=0)
            y = _first_free(cands.week2.offer[_sl(idx_stay[1], s)], rem, week_index=1, avoid=x)
            _assign(week, rem, s, (x, y))
            continue
        w = 0 if a < 0 else 1
        ext = cands.extension[s]
        if ext >= 0 and rem[ext, w] > 0:
            o = ext
        else:
            o = _first_free(cands.stays(w).offer[_sl(idx_stay[w], s)], rem, week_index=w)
        if o >= 0:
            week[s, w] = o
            rem[o, w] -= 1


def _row_index(student: np.ndarray, n: int) -> np.ndarray:
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(student, minlength=n), out=indptr[1:])
    return indptr


def _sl(indptr: np.ndarray, s: int) -> slice:
    return slice(int(indptr[s]), int(indptr[s + 1]))


def _first_free(offers: np.ndarray, rem: np.ndarray, both: bool = False, week_index: int = 0,
                avoid: int = -1) -> int:
    ok = (rem[offers, 0] > 0) & (rem[offers, 1] > 0) if both else rem[offers, week_index] > 0
    if avoid >= 0:
        ok &= offers != avoid
    hit = np.flatnonzero(ok)
    return int(offers[hit[0]]) if len(hit) else -1


def _assign(week: np.ndarray, rem: np.ndarray, s: int, offers: tuple[int, int]) -> None:
    for w, o in enumerate(offers):
        if o >= 0:
            week[s, w] = o
            rem[o, w] -= 1


def fill_free_seats(instance: Instance, roles: OfferRoles, reach: Reach,
                    extension: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Give every pupil still missing a week any free seat within reach (never leave one empty).

    Looks at every reachable offer, not only the candidates the solver kept, so that no pupil
    stays unplaced or partial while a seat they could take is free. Priority pupils first.
    """
    st, of = instance.students, instance.offers
    week = week.copy()
    rem = of.capacity[:, None] * of.open_week
    for w in (0, 1):
        o = week[:, w]
        np.subtract.at(rem[:, w], o[o >= 0], 1)
    pairs = instance.pairs
    pair_count = _pair_counts(instance, week)
    missing = st.to_place & (week < 0).any(axis=1)
    order = np.r_[np.flatnonzero(missing & st.priority), np.flatnonzero(missing & ~st.priority)]
    for s in order:
        offers, _ = reach.row(s)
        offers = offers[~of.reserved[offers] | st.priority[s]].astype(np.int64)
        a, b = week[s]
        if a < 0 and b < 0:
            o = _first_free(offers[roles.single[offers]], rem, both=True)
            if o >= 0:
                _assign(week, rem, s, (o, o))
                continue
            placed = False
            for k in np.unique(of.pair[offers[of.pair[offers] >= 0]]):
                x, y = pairs.offers[k]
                if not (np.isin(x, offers) and np.isin(y, offers)):
                    continue
                if pair_count[k] == 0 and pairs.min_group[k] > 1:
                    continue
                for p, q in ((x, y), (y, x)):
                    if rem[p, 0] > 0 and rem[q, 1] > 0:
                        _assign(week, rem, s, (p, q))
                        pair_count[k] += 1
                        placed = True
                        break
                if placed:
                    break
            if placed:
                continue
            x = _first_free(offers[roles.week1[offers]], rem, week_index=0)
            y = _first_free(offers[roles.week2[offers]], rem, week_index=1, avoid=x)
            _assign(week, rem, s, (x, y))
            continue
        w = 0 if a < 0 else 1
        if instance.fixed[s, w] >= 0:
            continue
        role = roles.week1 if w == 0 else roles.week2
        ext = extension[s]
        o = ext if ext >= 0 and rem[ext, w] > 0 else _first_free(offers[role[offers]], rem,
                                                                   week_index=w)
        if o >= 0:
            week[s, w] = o
            rem[o, w] -= 1
    return week
