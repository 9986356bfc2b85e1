"""Seat fillers: the after-search steps that give free seats to pupils still missing a week,
turn splits back into two-week stays, and place a waiting pupil by moving one holder.

Used by the flow-based start (`start`), `solve`, `polish` and `repair`. Each keeps every
hard rule and never unplaces a pupil."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from affectation.domain.allocation import pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, usable
from affectation.travel.reach import Reach


def join_pair(inst: Instance, allocation: np.ndarray, rem: np.ndarray, pair_count: np.ndarray,
               s: int, options: Iterable[tuple[int, int]]) -> bool:
    """Place pupil `s` in the first (pair, direction) of `options` with seats in both weeks.

    A pair is joined only if it stays at or above its minimum group (it is already open, or
    its minimum is 1): joining a closed pair alone would break the rule.
    """
    pairs = inst.pairs
    for k, d in options:
        if pair_count[k] + 1 < pairs.min_group[k]:
            continue
        x, y = int(pairs.offers[k, d]), int(pairs.offers[k, 1 - d])
        if rem[x, 0] > 0 and rem[y, 1] > 0:
            assign_seats(allocation, rem, s, (x, y))
            pair_count[k] += 1
            return True
    return False


def first_free(offers: np.ndarray, rem: np.ndarray, both: bool = False, week_index: int = 0,
                avoid: int = -1) -> int:
    ok = (rem[offers, 0] > 0) & (rem[offers, 1] > 0) if both else rem[offers, week_index] > 0
    if avoid >= 0:
        ok &= offers != avoid
    hit = np.flatnonzero(ok)
    return int(offers[hit[0]]) if len(hit) else -1


def assign_seats(allocation: np.ndarray, rem: np.ndarray, s: int, offers: tuple[int, int]) -> None:
    for w, o in enumerate(offers):
        if o >= 0:
            allocation[s, w] = o
            rem[o, w] -= 1


def splits_to_free_singles(instance: Instance, roles: OfferRoles, reach: Reach,
                            allocation: np.ndarray) -> np.ndarray:
    """A split pupil who can reach a two-week offer with a seat free in both weeks takes it.

    Level 4 (fewer splits) improves and no level above moves: the pupil stays placed.
    """
    st, of, fixed = instance.students, instance.offers, instance.fixed
    allocation = allocation.copy()
    a, b = allocation[:, 0], allocation[:, 1]
    split = ((fixed < 0).all(axis=1) & (a >= 0) & (b >= 0) & (a != b)
             & (of.pair[np.maximum(a, 0)] < 0) & (of.pair[np.maximum(b, 0)] < 0))
    if not split.any():
        return allocation
    free = seats_left(instance, allocation)
    order = st.priority_first(split)
    for s in (int(i) for i in order):
        offers, _ = reach.row(s)
        singles = offers[roles.single[offers] & usable(instance, s, offers)]
        hit = singles[(free[singles, 0] > 0) & (free[singles, 1] > 0)]
        if len(hit):
            o = int(hit[0])
            free[allocation[s, 0], 0] += 1
            free[allocation[s, 1], 1] += 1
            allocation[s] = o
            free[o] -= 1
    return allocation


def place_by_one_move(instance: Instance, roles: OfferRoles, reach: Reach,
                      allowed: np.ndarray, allocation: np.ndarray) -> np.ndarray:
    """An unplaced pupil takes a two-week seat whose holder moves to free seats in their own
    reach: a free two-week seat, or a free week-1 seat and a free week-2 seat (a split).

    The exchanges the flows miss once the search and the polish have moved seats around:
    each places one more pupil for both weeks and moves one other, who stays placed for
    both weeks (never a signed week, never a pair). Priority pupils are served first.
    `allowed` is `candidates.allowed_pairs` (the pairs each pupil may use).
    """
    st, fixed = instance.students, instance.fixed
    allocation = allocation.copy()
    a, b = allocation[:, 0], allocation[:, 1]
    waiting = st.to_place & (fixed < 0).all(axis=1) & (a < 0) & (b < 0)
    if not waiting.any():
        return allocation
    rem = seats_left(instance, allocation)
    holder = (fixed < 0).all(axis=1) & (a >= 0) & (a == b) & roles.single[np.maximum(a, 0)]
    # Who may move, by a count of free seats within reach (an upper bound: re-checked below).
    pupil_of = reach.student_of_pair()
    offer = reach.offer
    holders_pairs = allowed & holder[pupil_of]

    def free_count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pupil_of[holders_pairs & mask[offer]], minlength=st.n)

    single_free = free_count(roles.single & (rem.min(axis=1) > 0))
    w1_free = free_count(roles.week1 & (rem[:, 0] > 0))
    w2_free = free_count(roles.week2 & (rem[:, 1] > 0))
    mobile = holder & ((single_free > 0) | ((w1_free > 0) & (w2_free > 0)))
    by_offer: dict[int, list[int]] = {}
    for h in np.flatnonzero(mobile):
        by_offer.setdefault(int(a[h]), []).append(int(h))
    if not by_offer:
        return allocation
    movable_offer = np.zeros(instance.offers.n, dtype=bool)
    movable_offer[list(by_offer)] = True
    order = st.priority_first(waiting)
    for s in (int(i) for i in order):
        lo, hi = reach.indptr[s], reach.indptr[s + 1]
        offers = offer[lo:hi][allowed[lo:hi]]
        for x in (int(o) for o in offers[roles.single[offers] & movable_offer[offers]]):
            moved = _move_holder(instance, roles, reach, allowed, allocation, rem, by_offer[x])
            if moved is None:
                movable_offer[x] = bool(by_offer[x])
                continue
            allocation[s] = x
            rem[x] -= 1
            break
    return allocation


def _move_holder(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
                 allocation: np.ndarray, rem: np.ndarray, holders: list[int]) -> int | None:
    """Move the first of `holders` who can go to free seats in their reach; their seat is
    freed. Holders found unable to move are dropped from the list."""
    while holders:
        h = holders[0]
        lo, hi = reach.indptr[h], reach.indptr[h + 1]
        offers = reach.offer[lo:hi][allowed[lo:hi]]
        x = first_free(offers[roles.single[offers]], rem, both=True)
        if x >= 0:
            target = (x, x)
        else:
            y1 = first_free(offers[roles.week1[offers]], rem, week_index=0)
            y2 = first_free(offers[roles.week2[offers]], rem, week_index=1, avoid=y1)
            if y1 < 0 or y2 < 0:
                holders.pop(0)
                continue
            target = (y1, y2)
        old = int(allocation[h, 0])
        rem[old] += 1
        allocation[h] = target
        rem[target[0], 0] -= 1
        rem[target[1], 1] -= 1
        holders.pop(0)
        return h
    return None


def fill_free_seats(instance: Instance, roles: OfferRoles, reach: Reach,
                    extension: np.ndarray, allocation: np.ndarray,
                    order: np.ndarray | None = None) -> np.ndarray:
    """Give every pupil still missing a week any free seat within reach (never leave one empty).

    Looks at every reachable offer, not only the candidates the solver kept, so that no pupil
    stays unplaced or partial while a seat they could take is free. Priority pupils first,
    unless `order` gives the pupils to serve, in order (the first-come-first-served benchmark).
    """
    st, of = instance.students, instance.offers
    allocation = allocation.copy()
    rem = seats_left(instance, allocation)
    pairs = instance.pairs
    pair_count = pair_counts(instance, allocation)
    missing = st.to_place & (allocation < 0).any(axis=1)
    order = st.priority_first(missing) if order is None else order[missing[order]]
    for s in (int(i) for i in order):
        offers, _ = reach.row(s)
        offers = offers[usable(instance, s, offers)].astype(np.int64)
        a, b = (int(v) for v in allocation[s])
        if a < 0 and b < 0:
            o = first_free(offers[roles.single[offers]], rem, both=True)
            if o >= 0:
                assign_seats(allocation, rem, s, (o, o))
                continue
            # Pairs with both offers within reach (one mask over the offers, not a search
            # per pair).
            in_reach = np.zeros(of.n, dtype=bool)
            in_reach[offers] = True
            near = np.unique(of.pair[offers[of.pair[offers] >= 0]])
            reachable_pairs = near[in_reach[pairs.offers[near]].all(axis=1)]
            if join_pair(instance, allocation, rem, pair_count, s,
                          ((k, d) for k in reachable_pairs for d in (0, 1))):
                continue
            x1 = first_free(offers[roles.week1[offers]], rem, week_index=0)
            y2 = first_free(offers[roles.week2[offers]], rem, week_index=1, avoid=x1)
            assign_seats(allocation, rem, s, (x1, y2))
            continue
        w = 0 if a < 0 else 1
        if instance.fixed[s, w] >= 0:
            continue
        role = roles.week1 if w == 0 else roles.week2
        ext = int(extension[s])
        o = ext if ext >= 0 and rem[ext, w] > 0 else first_free(offers[role[offers]], rem,
                                                                   week_index=w)
        if o >= 0:
            allocation[s, w] = o
            rem[o, w] -= 1
    return allocation
