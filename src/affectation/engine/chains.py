"""Chains of moves: the fewest moves of placed pupils that free a seat at each offer.

A reverse breadth-first search, compiled, from the offers with a free seat over the graph
"offer -> offer a holder of it could move to", one layer at a time (`both`: pupils holding a
two-week offer alone; `week1`/`week2`: one-week stays). Every moved pupil stays placed, with
the same kind, within their own travel limit and rules (`candidates.usable`); signed weeks
and pairs never move. Used by the move stage of `solve` and `repair` (`moves`) and by
`suggest` to count the moves each offer needs."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from affectation.domain.allocation import seats_left
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, usable
from affectation.travel.reach import Reach

BOTH, WEEK1, WEEK2 = "both", "week1", "week2"
# Longest chain searched: an offer that needs more moves is reported as not freed.
MAX_MOVES = 4


@dataclass(frozen=True, eq=False)
class Chains:
    """Per offer: fewest moves to free a seat (-1: none), and the first move of that chain."""

    dist: np.ndarray
    holder: np.ndarray
    next_offer: np.ndarray

    def chain(self, offer: int) -> tuple[tuple[int, int], ...]:
        moves = []
        o = offer
        while self.dist[o] > 0:
            moves.append((int(self.holder[o]), int(self.next_offer[o])))
            o = int(self.next_offer[o])
        return tuple(moves)


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer of moves under an allocation: the offers' role, which have a free seat, the
    offer each pupil holds in the layer (-1 none), the pupil's other-week offer (an option
    must differ from it) and who may move."""

    role: np.ndarray
    free: np.ndarray
    holds: np.ndarray
    other: np.ndarray
    movable: np.ndarray


def layer_state(instance: Instance, roles: OfferRoles, allocation: np.ndarray, layer: str) -> Layer:
    """`both`: singles (both weeks at one unpaired offer, nothing signed) and offers with a
    seat free in both weeks; `week1`/`week2`: that week's one-week stays (unsigned, unpaired,
    the other week elsewhere) and offers with a seat free that week."""
    st, of, fixed = instance.students, instance.offers, instance.fixed
    left = seats_left(instance, allocation)
    a, b = allocation[:, 0], allocation[:, 1]
    if layer == BOTH:
        role = roles.single
        movable = (st.to_place & (fixed < 0).all(axis=1) & (a >= 0) & (a == b)
                   & role[np.maximum(a, 0)])
        return Layer(role, role & (left[:, 0] > 0) & (left[:, 1] > 0), a.copy(),
                     np.full(st.n, -1, dtype=np.int64), movable)
    w = 0 if layer == WEEK1 else 1
    role = roles.week[w]
    holds, other = allocation[:, w].copy(), allocation[:, 1 - w].copy()
    o = np.maximum(holds, 0)
    movable = (st.to_place & (fixed[:, w] < 0) & (holds >= 0) & role[o] & (of.pair[o] < 0)
               & (holds != other))
    return Layer(role, role & (left[:, w] > 0), holds, other, movable)


def move_chains(instance: Instance, reach: Reach, roles: OfferRoles, allocation: np.ndarray,
                layer: str, targets: np.ndarray | None = None,
                max_moves: int = MAX_MOVES,
                options: LayerOptions | None = None,
                extra_free: np.ndarray | None = None) -> Chains:
    """Fewest moves of one layer's holders (`both`: singles; `week1`/`week2`: one-week stays)
    that free a seat at each offer, by reverse breadth-first search from the free seats.

    Stops once every offer of `targets` (indices; None: all) is labelled, nothing changes, or
    chains reach `max_moves` moves. `options` (from `layer_options`, for repeated searches
    as the allocation changes) saves reading the holders' rows again; pupils absent from it
    do not move. An offer labelled at a level takes the first option (in the order of
    `options`) of a holder of it that moves to an offer labelled at the level before.
    `extra_free` (mask over offers) marks offers whose seat is freed by other means, as if
    free (`moves` frees them by turning a holder's single into a split).
    """
    n_o = instance.offers.n
    state = layer_state(instance, roles, allocation, layer)
    free, holds, other, movable = state.free, state.holds, state.other, state.movable
    if extra_free is not None:
        free = free | extra_free
    dist = np.full(n_o, -1, dtype=np.int64)
    holder = np.full(n_o, -1, dtype=np.int64)
    next_offer = np.full(n_o, -1, dtype=np.int64)
    dist[free] = 0
    chains = Chains(dist, holder, next_offer)
    pending = np.zeros(n_o, dtype=bool)
    if targets is not None:
        pending[targets] = True
        pending &= dist < 0
        if not pending.any():
            return chains
    # Every reachable pair of a movable holder whose offer is full, to an offer of the
    # layer's role, grouped by offer with whether the pupil may use it.
    if options is None:
        options = layer_options(reach, state, movable & (dist[np.maximum(holds, 0)] < 0))
    ptr, idx, student, allowed = options.by_offer(instance)
    _search(ptr, idx, student, allowed, holds, other, movable, np.flatnonzero(free), dist,
            holder, next_offer, pending, targets is not None, max_moves)
    return chains


@numba.njit(cache=True)
def _search(ptr: np.ndarray, idx: np.ndarray, student: np.ndarray, allowed: np.ndarray,
            holds: np.ndarray, other: np.ndarray, movable: np.ndarray, frontier: np.ndarray,
            dist: np.ndarray, holder: np.ndarray, next_offer: np.ndarray, pending: np.ndarray,
            use_targets: bool, max_moves: int) -> None:
    """The breadth-first search of `move_chains`, from the offers of `frontier` (labelled 0),
    on the options grouped by offer (`LayerOptions.by_offer`).

    At each level, the options to a frontier offer of holders whose offer is unlabelled (and
    movable, not to their other-week offer, usable) label the holders' offers; an offer takes
    its option of smallest index (`best`), whichever frontier offer it goes to."""
    none = len(idx)
    best = np.full(len(dist), none, dtype=np.int64)
    best_to = np.full(len(dist), -1, dtype=np.int64)
    best_holder = np.full(len(dist), -1, dtype=np.int64)
    level = 0
    while len(frontier) and level < max_moves:
        touched = np.empty(len(dist), dtype=np.int64)
        n_touched = 0
        for f in frontier:
            for k in range(ptr[f], ptr[f + 1]):
                h = student[k]
                ho = holds[h]
                if ho < 0 or not movable[h] or dist[ho] >= 0:
                    continue
                if f == other[h] or not allowed[k]:
                    continue
                if best[ho] == none:
                    touched[n_touched] = ho
                    n_touched += 1
                if idx[k] < best[ho]:
                    best[ho] = idx[k]
                    best_to[ho] = f
                    best_holder[ho] = h
        if n_touched == 0:
            break
        level += 1
        frontier = touched[:n_touched].copy()
        for ho in frontier:
            holder[ho] = best_holder[ho]
            next_offer[ho] = best_to[ho]
            dist[ho] = level
            best[ho] = none
        if use_targets:
            left = False
            for ho in frontier:
                pending[ho] = False
            for o in range(len(pending)):
                if pending[o]:
                    left = True
                    break
            if not left:
                break


@numba.njit(cache=True)
def _group_by_offer(o2: np.ndarray, n_offers: int) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of the options by offer: (ptr, idx), each offer's options in order."""
    ptr = np.zeros(n_offers + 1, dtype=np.int64)
    for o in o2:
        ptr[o + 1] += 1
    for o in range(n_offers):
        ptr[o + 1] += ptr[o]
    fill = ptr[:-1].copy()
    idx = np.empty(len(o2), dtype=np.int64)
    for i in range(len(o2)):
        o = o2[i]
        idx[fill[o]] = i
        fill[o] += 1
    return ptr, idx


@dataclass(frozen=True, eq=False)
class LayerOptions:
    """The reachable pairs (pupil `student[i]`, offer `offer[i]`) a layer's search may use."""

    student: np.ndarray
    offer: np.ndarray

    def by_offer(self, instance: Instance
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ptr, idx, student, allowed), the options grouped by offer: options `idx[k]`,
        k in `ptr[o]:ptr[o + 1]`, go to offer o (in order), their pupil is `student[k]` and
        `allowed[k]` says it may use the offer (`usable`). Computed once."""
        cached = self.__dict__.get("_by_offer")
        if cached is None or cached[0] is not instance:
            ptr, idx = _group_by_offer(self.offer, instance.offers.n)
            student = self.student[idx]
            cached = (instance, (ptr, idx, student, usable(instance, student, self.offer[idx])))
            self.__dict__["_by_offer"] = cached
        result: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = cached[1]
        return result


def layer_options(reach: Reach, state: Layer, holders: np.ndarray) -> LayerOptions:
    """The reachable pairs (pupil, offer) of the `holders` (mask) to offers of the layer's
    role: what a breadth-first search may use."""
    hs, o2 = _rows(reach, np.flatnonzero(holders).astype(np.int32))
    keep = state.role[o2]
    return LayerOptions(hs[keep], o2[keep])


def _rows(reach: Reach, students: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reachable pairs of `students`: (student, offer) arrays, row after row."""
    start = reach.indptr[students]
    lengths = reach.indptr[students + 1] - start
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    idx = np.repeat(start - offsets, lengths) + np.arange(total)
    return np.repeat(students, lengths), reach.offer[idx]


def released(instance: Instance, allocation: np.ndarray, s: int) -> np.ndarray:
    """The allocation with pupil `s`'s unsigned weeks freed."""
    out = allocation.copy()
    unsigned = instance.fixed[s] < 0
    out[s, unsigned] = -1
    return out
