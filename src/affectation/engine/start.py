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

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from affectation.domain.allocation import (
    lexicographic_score,
    pair_counts,
    pair_of_pupil,
    seats_left,
    seats_used,
)
from affectation.domain.instance import Instance
from affectation.engine.candidates import Candidates, OfferRoles, allowed_pairs
from affectation.engine.seats import (
    assign_seats,
    fill_free_seats,
    first_free,
    join_pair,
    splits_to_free_singles,
)
from affectation.errors import InputError, Problem
from affectation.travel.reach import Reach

# Travel minutes of one path are at most this (tie-break level of the flows' costs).
_MAX_PATH_MINUTES = 1 << 8
EXCHANGE_ROUNDS = 3


@dataclass(frozen=True, eq=False)
class StartInputs:
    """What the construction needs: the data, the offers' roles and the candidate options."""

    instance: Instance
    roles: OfferRoles
    candidates: Candidates
    reach: Reach
    # Shorter travel as the flows' last level (see `_pupil_costs`): `repair` keeps it (it
    # polishes nothing), `solve` leaves travel to its polish.
    travel_ties: bool = True


@dataclass
class _Arcs:
    tails: list[np.ndarray]
    heads: list[np.ndarray]
    caps: list[np.ndarray]
    costs: list[np.ndarray]

    def add(self, t: np.ndarray, h: np.ndarray, cap: np.ndarray | int,
            cost: np.ndarray | int) -> None:
        t = np.asarray(t, dtype=np.int64)
        self.tails.append(t)
        self.heads.append(np.asarray(h, dtype=np.int64))
        self.caps.append(np.broadcast_to(np.asarray(cap, dtype=np.int64), t.shape))
        self.costs.append(np.broadcast_to(np.asarray(cost, dtype=np.int64), t.shape))


def initial_allocation(problem: StartInputs) -> np.ndarray:
    """A valid (students, 2) week array: conventions, then flows, then greedy completion."""
    inst = problem.instance
    st = inst.students
    allocation = inst.fixed.copy()
    rem = inst.seats_left_by_conventions()
    to_place = st.to_place
    if inst.offers.n == 0 or not to_place.any():
        return allocation
    _fill_signed_pairs(problem, allocation, rem)
    # Two families of placements compete only for pupils: the layered one (one-week stays:
    # splits, and singles when two-week offers may be split) and the bipartite one (pairs, and
    # singles otherwise). Each is an exact flow; alternate them, each preferring pupils the
    # other does not want, then commit the layered family first.
    _families(problem, to_place, allocation, rem)
    _rescue_priority(problem, allocation, rem)
    _close_small_pairs(problem, allocation, rem)
    _open_pairs(problem, allocation, rem)
    order = np.r_[np.flatnonzero(st.priority & to_place), np.flatnonzero(~st.priority & to_place)]
    _greedy(problem, order, allocation, rem)
    # Once every pupil has had the seats left, splits that can become singles on two-week
    # seats still free give their one-week seats back, and a last layered flow hands those
    # to pupils still missing a week.
    moved = splits_to_free_singles(inst, problem.roles, problem.reach, allocation)
    if (moved != allocation).any():
        allocation[:] = moved
        rem[:] = seats_left(inst, allocation)
        _layered(problem, to_place, allocation, rem, None)
        _rescue_priority(problem, allocation, rem)
        _close_small_pairs(problem, allocation, rem)
        _greedy(problem, order, allocation, rem)
    for _ in range(EXCHANGE_ROUNDS):
        _make_room_by_splitting(problem, allocation, rem)
        _reflow_stays(problem, allocation, rem)
        _greedy(problem, order, allocation, rem)
    return allocation


def complete_allocation(problem: StartInputs, allocation: np.ndarray,
                        groups: Iterable[np.ndarray]) -> np.ndarray:
    """Place pupils still missing a week on the seats `allocation` leaves free, moving nobody.

    For each group in turn (masks; e.g. pupils displaced by a change first, then everyone):
    the family flows (priority pupils first within the group), closed pairs opened when
    enough of the group can fill them, then the nearest seats left. Used by `repair`, where
    every placement of `allocation` is to be kept.
    """
    inst = problem.instance
    st = inst.students
    allocation = allocation.copy()
    rem = seats_left(inst, allocation)
    _fill_signed_pairs(problem, allocation, rem)
    for group in groups:
        group = group & st.to_place
        if not (group & (allocation < 0).any(axis=1)).any():
            continue
        _families(problem, group, allocation, rem)
        _close_small_pairs(problem, allocation, rem)
        _open_pairs(problem, allocation, rem)
        order = st.priority_first(group)
        _greedy(problem, order, allocation, rem)
    return allocation


def _reflow_stays(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """Solve the one-week stays again over their holders and the pupils still missing a week.

    The layered flows placed pupils missing a week around the stays already given; releasing
    those (unsigned, unpaired) lets the flow re-route them, so that chains of moves place more
    pupils. Priority pupils still weigh more than all others; nobody else moves.
    """
    inst, roles = problem.instance, problem.roles
    st, of, fixed = inst.students, inst.offers, inst.fixed
    missing = st.to_place & (allocation < 0).any(axis=1)
    stays = np.zeros_like(allocation, dtype=bool)
    for w, role in ((0, roles.week1), (1, roles.week2)):
        o = allocation[:, w]
        other = allocation[:, 1 - w]
        stays[:, w] = ((o >= 0) & (fixed[:, w] < 0) & role[np.maximum(o, 0)] & (o != other)
                       & (of.pair[np.maximum(o, 0)] < 0))
    holders = st.to_place & stays.any(axis=1)
    group = holders | missing
    before = allocation.copy()
    for w in (0, 1):
        release = stays[:, w]
        np.add.at(rem[:, w], allocation[release, w], 1)
        allocation[release, w] = -1
    _layered(problem, group, allocation, rem, None)
    # Keep the re-flow only if it is at least as good on every placement level.
    if lexicographic_score(inst, allocation)[:2] < lexicographic_score(inst, before)[:2]:
        allocation[:] = before
        rem[:] = seats_left(inst, allocation)


def _make_room_by_splitting(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """An unplaced pupil takes a two-week seat whose holder moves to a split on free seats.

    The exchange the family flows cannot see: the holder stays placed (one more split, level 4)
    and one more pupil is placed (level 2). Priority pupils first; signed weeks never move.
    """
    inst, roles, reach = problem.instance, problem.roles, problem.reach
    st, of, fixed = inst.students, inst.offers, inst.fixed
    unsigned = (fixed < 0).all(axis=1)
    a, b = allocation[:, 0], allocation[:, 1]
    single = unsigned & (a >= 0) & (a == b) & roles.single[np.maximum(a, 0)]
    # Only holders who can reach a free week-1 stay and a free week-2 stay can make room.
    pair_student = reach.student_of_pair()
    may_use = allowed_pairs(inst, reach)
    can_split = np.ones(st.n, dtype=bool)
    for w, role in ((0, roles.week1), (1, roles.week2)):
        free_stay = may_use & role[reach.offer] & (rem[reach.offer, w] > 0)
        can_split &= np.bincount(pair_student[free_stay], minlength=st.n) > 0
    holders: dict[int, list[int]] = {}
    for s in np.flatnonzero(single & can_split):
        holders.setdefault(int(a[s]), []).append(int(s))
    if not holders:
        return
    held = np.zeros(of.n, dtype=bool)
    held[list(holders)] = True
    waiting = st.to_place & unsigned & (allocation < 0).all(axis=1)
    order = st.priority_first(waiting)
    for u in (int(i) for i in order):
        lo, hi = reach.indptr[u], reach.indptr[u + 1]
        offers = reach.offer[lo:hi]
        offers = offers[roles.single[offers] & held[offers] & may_use[lo:hi]]
        for o in (int(x) for x in offers):
            moved = False
            hs = holders.get(o, [])
            i = 0
            while i < len(hs):
                h = hs[i]
                lo, hi = reach.indptr[h], reach.indptr[h + 1]
                row = reach.offer[lo:hi][may_use[lo:hi]]
                stay1 = first_free(row[roles.week1[row] & (row != o)], rem, week_index=0)
                stay2 = first_free(row[roles.week2[row] & (row != o)], rem, week_index=1,
                                   avoid=stay1)
                if stay1 < 0 or stay2 < 0:
                    # Seats are only taken in this loop (`rem` never grows): a holder who
                    # cannot split now never will, so it is not tried again (same result,
                    # each holder fails at most once per call).
                    hs.pop(i)
                    held[o] = bool(hs)
                    continue
                i += 1
                allocation[h] = (stay1, stay2)
                rem[stay1, 0] -= 1
                rem[stay2, 1] -= 1
                allocation[u] = (o, o)
                hs.remove(h)
                hs.append(u)
                moved = True
                break
            if moved:
                break


def _families(problem: StartInputs, group: np.ndarray, allocation: np.ndarray,
              rem: np.ndarray) -> None:
    """Place `group` pupils by alternating the layered and bipartite family flows."""
    free = group & (allocation < 0).all(axis=1)
    # Each flow says which pupils it would place; the other one prefers the rest, then the
    # layered flow commits, and both run once more on the pupils left.
    wants_layered = _layered(problem, group, allocation, rem, preferred=None, accept=False)
    wants_bipartite = _bipartite(problem, free, allocation, rem, ~wants_layered, accept=False)
    _layered(problem, group, allocation, rem, ~wants_bipartite, accept=True)
    free = group & (allocation < 0).all(axis=1)
    if free.any():
        _bipartite(problem, free, allocation, rem, None)
    _layered(problem, group, allocation, rem, None)


def _rescue_priority(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """Place priority pupils still unplaced on seats other pupils hold, evicting those.

    Level 1 of the objective outweighs level 2: a priority pupil who can only be placed where a
    non-priority pupil sits takes the seat; the evicted pupils are placed again afterwards if
    they can be (greedy pass).
    """
    inst = problem.instance
    st, fixed = inst.students, inst.fixed
    missing = st.to_place & st.priority & (allocation < 0).any(axis=1)
    if not missing.any():
        return
    # Pupils in pairs are never evicted: their pair could fall under its minimum group.
    in_pair = (inst.offers.pair[np.maximum(allocation, 0)] >= 0) & (allocation >= 0)
    evictable = st.to_place & ~st.priority & ~in_pair.any(axis=1)
    unsigned_week = allocation.copy()
    unsigned_week[fixed >= 0] = -1
    held = seats_used(inst, unsigned_week, evictable)
    trial_week, trial_rem = allocation.copy(), rem + held
    _families(problem, missing, trial_week, trial_rem)
    placed = missing & (trial_week >= 0).all(axis=1)
    if not placed.any():
        return
    for w in (0, 1):
        allocation[placed, w] = trial_week[placed, w]
        np.subtract.at(rem[:, w], allocation[placed, w], 1)
    # Evict non-priority pupils from over-full offer-weeks, last in input order first.
    for o, w in np.argwhere(rem < 0):
        for q in np.flatnonzero(evictable & (allocation[:, w] == o) & (fixed[:, w] < 0))[::-1]:
            if rem[o, w] >= 0:
                break
            for ww in (0, 1):
                if fixed[q, ww] < 0 and allocation[q, ww] >= 0:
                    rem[allocation[q, ww], ww] += 1
                    allocation[q, ww] = -1


def _pupil_costs(problem: StartInputs, students: np.ndarray,
                 preferred: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Costs of the pupil arcs, and the multiplier of travel minutes on offer arcs.

    Lexicographic levels: priority pupils placed, pupils placed, then either preferred pupils
    (when `preferred` is given; travel is then ignored) or, with `travel_ties`, shorter
    travel. In one flow network, the priority level needs no more weight than one pupil: the
    difference of two integral flows splits into augmenting paths and exchange cycles; an
    augmenting path for a flow of most priority pupils would give it one more pupil, so such a
    flow already places the most pupils, and among flows placing the most pupils, costs of -2
    (priority) and -1 (others) make every exchange favour priority pupils. Travel minutes, as
    a last level, need a pupil to outweigh every pupil's minutes together (costs near 1e11,
    which makes the cost-scaling flows 2-3 times slower): without `travel_ties` travel is
    left to the polish (`polish`), which re-assigns each family for sectors and travel.
    """
    inst = problem.instance
    prio = inst.students.priority[students].astype(np.int64)
    if not problem.travel_ties or preferred is not None:
        # -(2 + 2 priority), minus one for a preferred pupil: priority > placed > preferred.
        pref = 0 if preferred is None else preferred[students].astype(np.int64)
        return -(2 + 2 * prio + pref) if preferred is not None else -(1 + prio), 0
    n = len(students) + 1
    count_unit = n * _MAX_PATH_MINUTES + 1
    priority_unit = n * count_unit + 1
    return -(count_unit + priority_unit * prio), 1


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


def _bipartite(problem: StartInputs, pending: np.ndarray, allocation: np.ndarray, rem: np.ndarray,
               preferred: np.ndarray | None, accept: bool = True) -> np.ndarray:
    """Pupils free for both weeks to singles (unless two-week offers may be split: then the
    layered family has them) and to pairs, as one weighted bipartite matching.

    A pair is two nodes, one per direction, each with the seats it has left in both of its
    weeks; so every matching is a valid set of placements (minimum groups aside). Returns the
    matched pupils, and assigns them when `accept`.
    """
    inst, cands = problem.instance, problem.candidates
    n_o, n_s = inst.offers.n, inst.students.n
    pairs = inst.pairs
    with_singles = not inst.scenario.rules.split_two_week_offers
    # Nodes: source, sink, offers (singles), pair directions, pupils.
    source, sink, o_node = 0, 1, 2
    d_node = 2 + n_o
    p_node = d_node + 2 * pairs.n
    s_list, t_list, d_list = [], [], []
    if with_singles:
        a = cands.single
        sel = pending[a.student] & (np.minimum(rem[a.offer, 0], rem[a.offer, 1]) > 0)
        s_list.append(a.student[sel])
        t_list.append(o_node + a.offer[sel])
        d_list.append(a.deciminutes[sel] // 10)
    po = cands.pairs
    x = pairs.offers[po.pair, po.direction]
    y = pairs.offers[po.pair, 1 - po.direction]
    sel = pending[po.student] & (rem[x, 0] > 0) & (rem[y, 1] > 0)
    s_list.append(po.student[sel])
    t_list.append(d_node + 2 * po.pair[sel] + po.direction[sel])
    d_list.append(po.deciminutes[sel] // 10)
    s = np.concatenate(s_list)
    t = np.concatenate(t_list)
    d = np.concatenate(d_list)
    students = np.unique(s)
    if not len(students):
        return np.zeros(n_s, dtype=bool)
    costs, travel = _pupil_costs(problem, students, preferred)
    arcs = _Arcs([], [], [], [])
    arcs.add(np.full(len(students), source), p_node + students, 1, costs)
    arcs.add(p_node + s, t, 1, travel * np.minimum(d, _MAX_PATH_MINUTES - 1))
    offers = np.arange(n_o)
    both_weeks = np.maximum(np.minimum(rem[:, 0], rem[:, 1]), 0)
    arcs.add(o_node + offers, np.full(n_o, sink), both_weeks, 0)
    if pairs.n:
        k = np.repeat(np.arange(pairs.n), 2)
        direction = np.tile([0, 1], pairs.n)
        first, second = pairs.offers[k, direction], pairs.offers[k, 1 - direction]
        seats = np.maximum(np.minimum(rem[first, 0], rem[second, 1]), 0)
        # The two directions share each offer's seats only across different weeks: exact.
        arcs.add(d_node + 2 * k + direction, np.full(len(k), sink), seats, 0)
    tails, heads, flows = _solve(arcs, p_node + n_s, source, sink, len(students))
    used = (flows > 0) & (tails >= p_node) & (heads >= o_node) & (heads < p_node)
    ps, target = tails[used] - p_node, heads[used]
    matched = np.zeros(n_s, dtype=bool)
    matched[ps] = True
    if not accept:
        return matched
    is_single = target < d_node
    for pupil, node, single in zip(ps, target, is_single, strict=True):
        if single:
            offer = node - o_node
            assign_seats(allocation, rem, int(pupil), (offer, offer))
        else:
            kk, dd = divmod(int(node - d_node), 2)
            assign_seats(allocation, rem, int(pupil),
                         (pairs.offers[kk, dd], pairs.offers[kk, 1 - dd]))
    return matched


def _layered(problem: StartInputs, group: np.ndarray, allocation: np.ndarray, rem: np.ndarray,
             preferred: np.ndarray | None, accept: bool = True) -> np.ndarray:
    """The layered family over `group` pupils still missing a week; returns who it places."""
    inst = problem.instance
    pending = group & (allocation < 0).any(axis=1)
    got = _three_layer(problem, pending, allocation, rem,
                       with_singles=inst.scenario.rules.split_two_week_offers,
                       accept=accept, bonus=preferred)
    return pending & (((got >= 0) | (allocation >= 0)).all(axis=1))


def _three_layer(problem: StartInputs, pending: np.ndarray, allocation: np.ndarray, rem: np.ndarray,
                 with_singles: bool, accept: bool = True,
                 bonus: np.ndarray | None = None) -> np.ndarray:
    """Weighted flow offer-week -> pupil -> offer-week; accept valid paths when `accept`.

    Returns each pupil's (week-1, week-2) ends of its path (-1 where none). `bonus` pupils are
    preferred among equally many placed.
    """
    inst, roles, cands = problem.instance, problem.roles, problem.candidates
    n_o, n_s = inst.offers.n, inst.students.n
    free_both = pending & (allocation[:, 0] < 0) & (allocation[:, 1] < 0)
    need = [pending & (allocation[:, 0] < 0) & (allocation[:, 1] >= 0),
            pending & (allocation[:, 1] < 0) & (allocation[:, 0] >= 0)]
    source, sink = 0, 1
    o1, o2, p_in, p_out = 2, 2 + n_o, 2 + 2 * n_o, 2 + 2 * n_o + n_s
    arcs = _Arcs([], [], [], [])
    offers = np.arange(n_o)
    arcs.add(np.full(n_o, source), o1 + offers, rem[:, 0], 0)
    arcs.add(o2 + offers, np.full(n_o, sink), rem[:, 1], 0)
    students = np.flatnonzero(pending)
    costs, travel = _pupil_costs(problem, students, bonus)
    arcs.add(p_in + students, p_out + students, 1, costs)

    def side(w: int, s: np.ndarray, o: np.ndarray, d: np.ndarray) -> None:
        keep = rem[o, w] > 0
        s, o, d = s[keep], o[keep], travel * np.minimum(d[keep] // 10, _MAX_PATH_MINUTES // 2 - 1)
        if w == 0:
            arcs.add(o1 + o, p_in + s, 1, d)
        else:
            arcs.add(p_out + s, o2 + o, 1, d)

    for w in (0, 1):
        role_lists = [cands.stays(w)] + ([cands.single] if with_singles else [])
        for role_arcs in role_lists:
            sel = free_both[role_arcs.student]
            side(w, role_arcs.student[sel], role_arcs.offer[sel], role_arcs.deciminutes[sel])
    for w in (0, 1):
        s_need = np.flatnonzero(need[w])
        if not len(s_need):
            continue
        if w == 0:  # week 2 signed: the path ends at the sink directly
            arcs.add(p_out + s_need, np.full(len(s_need), sink), 1, 0)
        else:
            arcs.add(np.full(len(s_need), source), p_in + s_need, 1, 0)
        stays = cands.stays(w)
        sel = need[w][stays.student]
        ext = cands.extension[s_need]
        has = ext >= 0
        side(w, np.r_[stays.student[sel], s_need[has]], np.r_[stays.offer[sel], ext[has]],
             np.r_[stays.deciminutes[sel], np.zeros(int(has.sum()), dtype=np.int64)])

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
        take = ok & (got[:, w] >= 0) & (allocation[:, w] < 0)
        allocation[take, w] = got[take, w]
        np.subtract.at(rem[:, w], got[take, w], 1)
    return got


def _close_small_pairs(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """Release the pupils of pairs below their minimum group (unless a convention opens it)."""
    inst = problem.instance
    pairs = inst.pairs
    if pairs.n == 0:
        return
    count = pair_counts(inst, allocation)
    signed = np.zeros(pairs.n, dtype=bool)
    signed_pair = inst.offers.pair[inst.conventions.offer]
    signed[signed_pair[signed_pair >= 0]] = True
    too_small = (count > 0) & (count < pairs.min_group) & ~signed
    if not too_small.any():
        return
    in_pair = pair_of_pupil(inst, allocation)
    drop = (in_pair >= 0) & too_small[np.maximum(in_pair, 0)]
    for w in (0, 1):
        np.add.at(rem[:, w], allocation[drop, w], 1)
        allocation[drop, w] = -1


def _fill_signed_pairs(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """Bring every pair holding a signed convention up to its minimum group, first of all.

    A signed convention opens its pair, and nothing signed may move, so the pair must reach
    `min_group` with other pupils: the nearest eligible ones, priority pupils first. When not
    enough pupils can join, the inputs cannot be satisfied: an input error names the pair.
    """
    inst = problem.instance
    pairs = inst.pairs
    if pairs.n == 0 or inst.conventions.n == 0:
        return
    count = pair_counts(inst, allocation)
    signed = np.unique(inst.offers.pair[inst.conventions.offer])
    for k in signed[signed >= 0]:
        need = int(pairs.min_group[k]) - int(count[k])
        if need <= 0:
            continue
        chosen = _pupils_for_pair(problem, k, allocation, rem, nearest_first=True, limit=need)
        for pupil, x, y in chosen:
            assign_seats(allocation, rem, pupil, (x, y))
        if len(chosen) < need:
            conv = inst.conventions
            in_pair = inst.offers.pair[conv.offer] == k
            lines = sorted({int(x) for x in conv.line[in_pair] if x})
            file = inst.scenario.inputs.conventions
            raise InputError([Problem(
                file.name if file is not None else "conventions.csv",
                f"une paire mutualisée ({pairs.ids[k]}) qui puisse atteindre son effectif "
                f"minimum {pairs.min_group[k]} : {count[k]} convention(s) signée(s) "
                f"(ligne(s) {', '.join(map(str, lines))}) et seulement {len(chosen)} autre(s) "
                "élève(s) à portée des deux offres avec des places libres ; signer le groupe "
                "ou baisser min_group",
                line=lines[0] if lines else None, column="offer_id",
                value=str(inst.offers.ids[conv.offer[in_pair][0]]) if in_pair.any() else None)])


def _open_pairs(problem: StartInputs, allocation: np.ndarray, rem: np.ndarray) -> None:
    """Open closed pairs when enough unplaced pupils can fill them to their minimum group."""
    inst, options = problem.instance, problem.candidates.pairs
    pairs = inst.pairs
    if pairs.n == 0 or len(options.student) == 0:
        return
    count = pair_counts(inst, allocation)
    for k in np.flatnonzero(count == 0):
        chosen = _pupils_for_pair(problem, int(k), allocation, rem, nearest_first=False)
        if len(chosen) >= max(int(pairs.min_group[k]), 1):
            for pupil, x, y in chosen:
                assign_seats(allocation, rem, pupil, (x, y))


def _pupils_for_pair(problem: StartInputs, k: int, allocation: np.ndarray, rem: np.ndarray,
                     nearest_first: bool, limit: int | None = None) -> list[tuple[int, int, int]]:
    """Unplaced pupils who could join pair `k` within its seats: (pupil, week-1, week-2 offer).

    Priority pupils first, then the nearest (`nearest_first`) or input order; `rem` unchanged.
    """
    inst, options = problem.instance, problem.candidates.pairs
    pairs, st = inst.pairs, inst.students
    sel = (options.pair == k) & (allocation[options.student] < 0).all(axis=1)
    s, d, m = options.student[sel], options.direction[sel], options.deciminutes[sel]
    order = (np.lexsort((s, m, ~st.priority[s])) if nearest_first
             else np.lexsort((s, ~st.priority[s])))
    left = rem.copy()
    chosen: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    for i in order:
        if limit is not None and len(chosen) == limit:
            break
        x, y = int(pairs.offers[k, d[i]]), int(pairs.offers[k, 1 - d[i]])
        if int(s[i]) in taken or left[x, 0] <= 0 or left[y, 1] <= 0:
            continue
        left[x, 0] -= 1
        left[y, 1] -= 1
        taken.add(int(s[i]))
        chosen.append((int(s[i]), x, y))
    return chosen


def _greedy(problem: StartInputs, order: np.ndarray, allocation: np.ndarray,
            rem: np.ndarray) -> None:
    """Give each pupil still missing a week the nearest option left, in `order`."""
    inst, cands = problem.instance, problem.candidates
    pair_count = pair_counts(inst, allocation)
    n = inst.students.n
    idx_single = _row_index(cands.single.student, n)
    idx_stay = [_row_index(cands.week1.student, n), _row_index(cands.week2.student, n)]
    idx_pair = _row_index(cands.pairs.student, n)
    for s in order[((allocation[order] < 0).sum(axis=1) > 0)]:
        a, b = allocation[s]
        if a < 0 and b < 0:
            o = first_free(cands.single.offer[_sl(idx_single, s)], rem, both=True)
            if o >= 0:
                assign_seats(allocation, rem, s, (o, o))
                continue
            sl = _sl(idx_pair, s)
            options = zip(cands.pairs.pair[sl], cands.pairs.direction[sl], strict=True)
            if join_pair(inst, allocation, rem, pair_count, s, options):
                continue
            x = first_free(cands.week1.offer[_sl(idx_stay[0], s)], rem, week_index=0)
            y = first_free(cands.week2.offer[_sl(idx_stay[1], s)], rem, week_index=1, avoid=x)
            assign_seats(allocation, rem, s, (x, y))
            continue
        w = 0 if a < 0 else 1
        ext = cands.extension[s]
        if ext >= 0 and rem[ext, w] > 0:
            o = ext
        else:
            o = first_free(cands.stays(w).offer[_sl(idx_stay[w], s)], rem, week_index=w)
        if o >= 0:
            allocation[s, w] = o
            rem[o, w] -= 1


def _row_index(student: np.ndarray, n: int) -> np.ndarray:
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(student, minlength=n), out=indptr[1:])
    return indptr


def _sl(indptr: np.ndarray, s: int) -> slice:
    return slice(int(indptr[s]), int(indptr[s + 1]))


def greedy_allocation(problem: StartInputs, order: np.ndarray | None = None) -> np.ndarray:
    """The quick allocation used when time is short: signed weeks, signed pairs filled to
    their minimum group, then the nearest free seats pupil by pupil, priority pupils first
    (or the pupils of `order`, in that order; see `fill_free_seats`)."""
    inst = problem.instance
    allocation = inst.fixed.copy()
    rem = inst.seats_left_by_conventions()
    _fill_signed_pairs(problem, allocation, rem)
    return fill_free_seats(inst, problem.roles, problem.reach, problem.candidates.extension,
                           allocation, order)
