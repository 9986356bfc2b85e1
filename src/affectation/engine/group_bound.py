"""The three-layer bound of one group of pupils, its network built from the reach's rows.

`bound.three_layer_bound` on `travel.reach.restrict_reach(reach, pupils, lengths)` gives the
maximum flow of the three-layer network (see `bound`) of `pupils` on each pupil's first
`lengths` pairs; but it builds an array entry for every one of those pairs, each a few times,
before its certified flow loads each pupil's nearest ones only. For a large group (an EPCI of
3,600 pupils: 10.8 M pairs, 317,000 of them loaded) building took most of the time of the
fairness audit. Here compiled passes over the rows pick the arcs to load and, after each flow,
the omitted arcs that cross its minimum cut: nothing is built in the size of the pairs.

The network and the certificate are those of `bound`: each pupil's `INITIAL_ARCS_PER_PUPIL`
nearest usable arcs of each week first; a minimum cut that no omitted arc crosses is a cut of
the whole network, so the flow is its maximum; else each pupil's nearest crossing arcs are
added (`ARCS_ADDED_PER_ROUND`, growing by `ARCS_GROWTH`), and after `MAX_ROUNDS` every arc.
A flow that places every pupil needs no cut: no flow exceeds the pupils. The maximum flow's
value is unique, so it is the value `three_layer_bound` finds, whatever arcs were loaded.
"""

from __future__ import annotations

import numba
import numpy as np
from ortools.graph.python import max_flow

from affectation.domain.instance import Instance
from affectation.engine.bound import (
    ARCS_ADDED_PER_ROUND,
    ARCS_GROWTH,
    INITIAL_ARCS_PER_PUPIL,
    MAX_ROUNDS,
)
from affectation.travel.reach import Reach


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
        flow = max_flow.SimpleMaxFlow()
        flow.add_arcs_with_capacity(t, h, c)
        status = flow.solve(0, 1)
        if status != flow.OPTIMAL:
            raise RuntimeError(f"max flow failed with status {status}")
        value = int(flow.optimal_flow())
        if value == n_p:
            return value
        side = np.zeros(n_nodes, dtype=np.bool_)
        side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
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
    """Whether a flow of the three-layer network of `pupils` (on their whole rows) that
    places every one of them is found greedily: a witness that the group's bound is its
    number of pupils, with no maximum flow to compute.

    `seed` (pupils, 2): the offers of a valid allocation for the pupils it places both weeks
    (-1 for the others), a flow of the network for those pupils alone; each other pupil then
    takes, in each week, its signed offer or else its nearest usable offer with a seat that
    the group has not taken yet. False when some pupil finds none (the group may still be
    placed whole: then only a maximum flow tells)."""
    of = instance.offers
    used = np.zeros((of.n, 2), dtype=np.int64)
    return bool(_greedy_places_all(reach.indptr, reach.offer, allowed,
                                   np.ascontiguousarray(of.open_week),
                                   np.ascontiguousarray(of.seats), instance.fixed[pupils],
                                   np.ascontiguousarray(seed, dtype=np.int64),
                                   np.asarray(pupils, dtype=np.int64), used))


@numba.njit(cache=True)
def _greedy_places_all(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                       open_w: np.ndarray, seats: np.ndarray, signed: np.ndarray,
                       seed: np.ndarray, pupils: np.ndarray, used: np.ndarray) -> bool:
    """See `group_places_every_pupil`; `used` (offers, 2) counts the group's seats taken."""
    for k in range(len(pupils)):
        if seed[k, 0] >= 0:
            for w in range(2):
                used[seed[k, w], w] += 1
                if used[seed[k, w], w] > seats[seed[k, w], w]:
                    return False
    for k in range(len(pupils)):
        if seed[k, 0] >= 0:
            continue
        for w in range(2):
            o = signed[k, w]
            if o < 0:
                for i in range(indptr[pupils[k]], indptr[pupils[k] + 1]):
                    j = offer[i]
                    if allowed[i] and open_w[j, w] and used[j, w] < seats[j, w]:
                        o = j
                        break
            if o < 0 or used[o, w] >= seats[o, w]:
                return False
            used[o, w] += 1
    return True


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
