"""The three-layer bound of one group of pupils, its network built from the reach's rows.

`bound.three_layer_bound` on `travel.reach.restrict_reach(reach, pupils, lengths)` gives the
maximum flow of the three-layer network (see `bound`) of `pupils` on each pupil's first
`lengths` pairs; but it builds an array entry for every one of those pairs, each a few times,
before its certified flow loads each pupil's nearest ones only. For a large group (an EPCI of
3,600 pupils: 6.6 M pairs, 10.9 M arcs of which 318,000 loaded) building took most of the
time of the fairness audit. Here compiled passes over the rows pick the arcs to load and,
after each flow, the omitted arcs that cross its minimum cut: nothing is built in the size
of the pairs.

The network and the certificate are those of `bound`: each pupil's `INITIAL_ARCS_PER_PUPIL`
nearest usable arcs of each week first; a minimum cut that no omitted arc crosses is a cut of
the whole network, so the flow is its maximum; else each pupil's nearest crossing arcs are
added (`ARCS_ADDED_PER_ROUND`, growing by `ARCS_GROWTH`), and after `MAX_ROUNDS` every arc.
A flow that places every pupil needs no cut: no flow exceeds the pupils. The maximum flow's
value is unique, so it is the value `three_layer_bound` finds, whatever arcs were loaded.

Most groups of the fairness audit can be placed whole, and then no maximum flow is needed:
`group_places_every_pupil` finds such a flow, as one matching of the pupils to the seats of
each week, from an allocation's placements by augmenting paths.
"""

from __future__ import annotations

import numba
import numpy as np

from affectation.domain.instance import Instance
from affectation.engine.bound import (
    ARCS_ADDED_PER_ROUND,
    ARCS_GROWTH,
    INITIAL_ARCS_PER_PUPIL,
    MAX_ROUNDS,
    max_flow_cut,
)
from affectation.travel.reach import Reach

# The alternating paths of `group_places_every_pupil` scan at most this many pairs per pupil
# of the group (then the maximum flow decides): a bound on their cost where they fail.
AUGMENT_PAIRS_PER_PUPIL = 2_000


def group_three_layer_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                            pupils: np.ndarray, lengths: np.ndarray) -> int:
    """The maximum flow of the three-layer network of `pupils` (sorted indices) on each
    pupil's first `lengths` pairs of `reach`, `allowed` being the usable pairs: the value of
    `three_layer_bound` on that restricted reach. The rows must be whole (no capped reach:
    the pairs a row leaves out are not looked for)."""
    if reach.capped is not None and bool(reach.capped[pupils].any()):
        raise ValueError("group_three_layer_bound needs whole rows (a capped reach)")
    of = instance.offers
    pupils = np.asarray(pupils, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n_p = len(pupils)
    if n_p == 0:
        return 0
    signed = instance.fixed[pupils]
    free = signed < 0
    open_w = np.ascontiguousarray(of.open_week)
    base = np.zeros(n_p + 1, dtype=np.int64)
    np.cumsum(lengths, out=base[1:])
    # Which of the group's slots (pupil, position in its row, week) are loaded.
    loaded = np.zeros((int(base[-1]), 2), dtype=np.bool_)
    used = np.zeros(of.n, dtype=np.bool_)
    _usable_offers(reach.indptr, reach.offer, allowed, open_w, free, pupils, lengths, used)
    for w in (0, 1):
        used[signed[~free[:, w], w]] = True
    offers = np.flatnonzero(used)
    n_o = len(offers)
    offer_node = np.cumsum(used) - 1
    o1, o2, p_in, p_out = 2, 2 + n_o, 2 + 2 * n_o, 2 + 2 * n_o + n_p
    n_nodes = p_out + n_p
    own = np.arange(n_p, dtype=np.int64)
    s1, s2 = np.flatnonzero(~free[:, 0]), np.flatnonzero(~free[:, 1])
    tails = [np.zeros(n_o, dtype=np.int64), o2 + np.arange(n_o), p_in + own,
             o1 + offer_node[signed[s1, 0]], p_out + s2]
    heads = [o1 + np.arange(n_o), np.ones(n_o, dtype=np.int64), p_out + own,
             p_in + s1, o2 + offer_node[signed[s2, 1]]]
    caps = [of.seats[offers, 0], of.seats[offers, 1], np.ones(n_p + len(s1) + len(s2),
                                                              dtype=np.int64)]

    def arcs(k: np.ndarray, o: np.ndarray, w: np.ndarray) -> None:
        """Append the pupil arcs (group pupil `k`, offer `o`, week `w`)."""
        node = offer_node[o]
        tails.append(np.where(w == 0, o1 + node, p_out + k))
        heads.append(np.where(w == 0, p_in + k, o2 + node))

    arcs(*_first_arcs(reach.indptr, reach.offer, allowed, open_w, free, pupils, lengths, base,
                      INITIAL_ARCS_PER_PUPIL, loaded))
    rounds = 0
    added = ARCS_ADDED_PER_ROUND
    while True:
        rounds += 1
        t, h = np.concatenate(tails), np.concatenate(heads)
        c = np.concatenate([*caps, np.ones(len(t) - sum(len(x) for x in caps), dtype=np.int64)])
        value, side = max_flow_cut(t, h, c, n_nodes)
        if value == n_p:
            return value
        side_offer = np.zeros((of.n, 2), dtype=np.bool_)
        side_offer[offers, 0] = side[o1:o2]
        side_offer[offers, 1] = side[o2:p_in]
        if rounds >= MAX_ROUNDS:
            new = _first_arcs(reach.indptr, reach.offer, allowed, open_w, free, pupils, lengths,
                              base, int(lengths.max()), loaded)
        else:
            new = _crossing_arcs(reach.indptr, reach.offer, allowed, open_w, free, pupils,
                                 lengths, base, side_offer, side[p_in:p_out], side[p_out:],
                                 added, loaded)
        if not len(new[0]):
            return value
        arcs(*new)
        added *= ARCS_GROWTH


def group_places_every_pupil(instance: Instance, reach: Reach, allowed: np.ndarray,
                             pupils: np.ndarray, seed: np.ndarray) -> bool:
    """Whether the three-layer network of `pupils` (on their whole rows) has a flow that
    places every one of them, when found by augmenting paths (see below): a witness that the
    group's bound is its number of pupils, with no maximum flow to compute.

    Such a flow is a placement of every pupil in week 1 and one in week 2, each week's seats
    respected, and the two weeks are independent: each is a bipartite matching of the pupils
    to the seats of that week (a signed week has its signed offer as only arc). `seed`
    (pupils, 2): the offers of a valid allocation for the pupils it places both weeks (-1 for
    the others), the matchings' start; each other pupil takes its nearest seat left, else an
    alternating path (breadth-first over the rows: pupils move to other seats of theirs to
    free one). When a matching covering every pupil exists such a path always exists, so the
    answer is False only when no flow places every pupil, or when the paths have scanned more
    than `AUGMENT_PAIRS_PER_PUPIL` pairs per pupil of the group (then the flow decides)."""
    of = instance.offers
    pupils = np.asarray(pupils, dtype=np.int64)
    budget = AUGMENT_PAIRS_PER_PUPIL * max(1, len(pupils))
    return bool(_place_every_pupil(reach.indptr, reach.offer, allowed,
                                   np.ascontiguousarray(of.open_week),
                                   np.ascontiguousarray(of.seats), instance.fixed[pupils],
                                   np.ascontiguousarray(seed, dtype=np.int64), pupils, budget))


@numba.njit(cache=True)
def _place_every_pupil(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                       open_w: np.ndarray, seats: np.ndarray, signed: np.ndarray,
                       seed: np.ndarray, pupils: np.ndarray, budget: int) -> bool:
    """See `group_places_every_pupil`: each week's matching, from the seed, then the nearest
    seat left, then alternating paths; False as soon as a pupil cannot be matched."""
    n_p, n_o = len(pupils), len(seats)
    assign = np.full(n_p, -1, dtype=np.int64)
    used = np.zeros(n_o, dtype=np.int64)
    # The pupils matched to each offer: a doubly linked list per offer.
    head = np.full(n_o, -1, dtype=np.int64)
    nxt = np.full(n_p, -1, dtype=np.int64)
    prv = np.full(n_p, -1, dtype=np.int64)
    # Breadth-first search state, stamped per search instead of cleared.
    seen_offer = np.zeros(n_o, dtype=np.int64)
    seen_pupil = np.zeros(n_p, dtype=np.int64)
    from_pupil = np.zeros(n_o, dtype=np.int64)  # the pupil whose row reached the offer
    queue = np.empty(n_p, dtype=np.int64)
    stamp = 0
    for w in range(2):
        head[:] = -1
        used[:] = 0
        assign[:] = -1
        for k in range(n_p):
            if seed[k, 0] >= 0:
                _match(k, seed[k, w], assign, used, head, nxt, prv)
                if used[seed[k, w]] > seats[seed[k, w], w]:
                    return False
        for k in range(n_p):
            if assign[k] >= 0:
                continue
            o = signed[k, w]
            if o < 0:
                for i in range(indptr[pupils[k]], indptr[pupils[k] + 1]):
                    j = offer[i]
                    if allowed[i] and open_w[j, w] and used[j] < seats[j, w]:
                        o = j
                        break
            if o >= 0 and used[o] < seats[o, w]:
                _match(k, o, assign, used, head, nxt, prv)
        for u in range(n_p):
            if assign[u] >= 0:
                continue
            stamp += 1
            queue[0], seen_pupil[u] = u, stamp
            size, pos, free = 1, 0, -1
            while pos < size and free < 0:
                v = queue[pos]
                pos += 1
                lo, hi = indptr[pupils[v]], indptr[pupils[v] + 1]
                if signed[v, w] >= 0:
                    lo, hi = 0, 1  # the signed offer only (read below, not from the row)
                for i in range(lo, hi):
                    budget -= 1
                    if budget < 0:
                        return False
                    j = signed[v, w]
                    if j < 0:
                        j = offer[i]
                        if not (allowed[i] and open_w[j, w]):
                            continue
                    if seen_offer[j] == stamp:
                        continue
                    seen_offer[j], from_pupil[j] = stamp, v
                    if used[j] < seats[j, w]:
                        free = j
                        break
                    x = head[j]
                    while x >= 0:
                        if seen_pupil[x] != stamp:
                            seen_pupil[x] = stamp
                            queue[size] = x
                            size += 1
                        x = nxt[x]
            if free < 0:
                return False
            # Each pupil on the path moves to the offer its row reached; the last one, u,
            # joins; the seat taken is the free one.
            j = free
            while True:
                v = from_pupil[j]
                before = assign[v]
                _match(v, j, assign, used, head, nxt, prv)
                if v == u:
                    break
                j = before
    return True


@numba.njit(cache=True)
def _match(k: int, o: int, assign: np.ndarray, used: np.ndarray, head: np.ndarray,
           nxt: np.ndarray, prv: np.ndarray) -> None:
    """Match pupil `k` to offer `o`, leaving the offer it had (if any)."""
    before = assign[k]
    if before >= 0:
        used[before] -= 1
        if prv[k] >= 0:
            nxt[prv[k]] = nxt[k]
        else:
            head[before] = nxt[k]
        if nxt[k] >= 0:
            prv[nxt[k]] = prv[k]
    assign[k] = o
    used[o] += 1
    prv[k], nxt[k] = -1, head[o]
    if head[o] >= 0:
        prv[head[o]] = k
    head[o] = k


@numba.njit(cache=True)
def _usable_offers(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                   open_w: np.ndarray, free: np.ndarray, pupils: np.ndarray,
                   lengths: np.ndarray, used: np.ndarray) -> None:
    """Mark the offers of the group's arcs: allowed pairs of a pupil's first `lengths` pairs,
    in a week the offer runs and the pupil has no signed convention."""
    for k in range(len(pupils)):
        lo = indptr[pupils[k]]
        for i in range(lo, lo + lengths[k]):
            if allowed[i]:
                o = offer[i]
                if (free[k, 0] and open_w[o, 0]) or (free[k, 1] and open_w[o, 1]):
                    used[o] = True


@numba.njit(cache=True)
def _first_arcs(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                open_w: np.ndarray, free: np.ndarray, pupils: np.ndarray, lengths: np.ndarray,
                base: np.ndarray, first: int, loaded: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load each pupil's `first` nearest arcs of each week not loaded yet; (pupil, offer,
    week) of the arcs loaded."""
    out = np.empty((max(16, 2 * len(pupils)), 3), dtype=np.int64)
    n = 0
    for k in range(len(pupils)):
        lo = indptr[pupils[k]]
        for w in range(2):
            if not free[k, w]:
                continue
            count = 0
            for j in range(lengths[k]):
                if count >= first:
                    break
                o = offer[lo + j]
                if allowed[lo + j] and open_w[o, w]:
                    count += 1
                    if not loaded[base[k] + j, w]:
                        loaded[base[k] + j, w] = True
                        out, n = _push(out, n, k, o, w)
    return out[:n, 0].copy(), out[:n, 1].copy(), out[:n, 2].copy()


@numba.njit(cache=True)
def _crossing_arcs(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                   open_w: np.ndarray, free: np.ndarray, pupils: np.ndarray,
                   lengths: np.ndarray, base: np.ndarray, side_offer: np.ndarray,
                   side_in: np.ndarray, side_out: np.ndarray, added: int, loaded: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load each pupil's `added` nearest omitted arcs of each week that cross the cut (from
    the source side to the sink side); (pupil, offer, week) of the arcs loaded."""
    out = np.empty((max(16, 2 * len(pupils)), 3), dtype=np.int64)
    n = 0
    for k in range(len(pupils)):
        lo = indptr[pupils[k]]
        for w in range(2):
            # Week 1 arcs run offer -> pupil: they cross when the pupil is on the sink side;
            # week 2 arcs run pupil -> offer: when the pupil is on the source side.
            if not free[k, w] or (side_in[k] if w == 0 else not side_out[k]):
                continue
            count = 0
            for j in range(lengths[k]):
                if count >= added:
                    break
                o = offer[lo + j]
                if (loaded[base[k] + j, w] or not allowed[lo + j] or not open_w[o, w]
                        or side_offer[o, w] != (w == 0)):
                    continue
                loaded[base[k] + j, w] = True
                out, n = _push(out, n, k, o, w)
                count += 1
    return out[:n, 0].copy(), out[:n, 1].copy(), out[:n, 2].copy()


@numba.njit(cache=True)
def _push(out: np.ndarray, n: int, k: int, o: int, w: int) -> tuple[np.ndarray, int]:
    """Append the row (k, o, w) at `n`, doubling `out` when full."""
    if n == len(out):
        grown = np.empty((2 * len(out), 3), dtype=np.int64)
        grown[:n] = out
        out = grown
    out[n, 0], out[n, 1], out[n, 2] = k, o, w
    return out, n + 1
