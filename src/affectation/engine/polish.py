"""Levels 5 and 6 of the objective (sector preference, then travel), levels 1-4 untouched.

Once it is decided which pupils are singles, which take one-week stays and which join pairs,
choosing *which* offer each of them gets is, family by family, a transportation problem: with
the roles of offers disjoint (two-week offers not split), singles only compete with singles for
two-week offers and week-1 stays with week-1 stays for week-1 offers. Each family is re-assigned
by a min-cost flow that keeps every pupil of the family placed in it (so no level above moves)
and minimises, lexicographically, the loss of sector preference then travel minutes. Signed
weeks, pairs and extensions of a signed week stay as they are.

With `[equity] short_trips_for_priority = w`, each minute of a priority pupil counts `w`
times in the travel level: priority pupils get the shorter trips of their family unless that
costs the others `w` times more minutes.

Before that, level 4 (fewer splits): a split pupil who can reach a two-week offer with a seat
free in both weeks moves there; and when two-week offers may be split (a two-week offer then
serves singles and one-week stays alike, so the families are not independent), week-2 stays
are re-assigned so that as many pupils as possible spend week 2 where they spend week 1,
sectors and travel breaking ties.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from affectation.domain.allocation import seats_used
from affectation.domain.instance import Instance
from affectation.engine.candidates import Candidates, OfferRoles, RoleArcs
from affectation.engine.objective import sector_score
from affectation.engine.seats import splits_to_free_singles
from affectation.travel.reach import Reach, exact_minutes


def polish(instance: Instance, roles: OfferRoles, cands: Candidates, reach: Reach,
           allocation: np.ndarray) -> np.ndarray:
    """Fewer splits where seats allow, then each family's best offers for sectors and travel."""
    allocation = splits_to_free_singles(instance, roles, reach, allocation)
    if instance.scenario.rules.split_two_week_offers:
        return _fewer_splits_by_week2(instance, roles, cands, allocation)
    fixed = instance.fixed
    of = instance.offers
    a, b = allocation[:, 0], allocation[:, 1]
    unsigned = (fixed < 0).all(axis=1)
    single = unsigned & (a >= 0) & (a == b) & roles.single[np.maximum(a, 0)]
    _reassign(instance, cands.single, single, allocation, weeks=(0, 1))
    for w in (0, 1):
        o = allocation[:, w]
        other = allocation[:, 1 - w]
        role = roles.week1 if w == 0 else roles.week2
        stay = (o >= 0) & (fixed[:, w] < 0) & role[np.maximum(o, 0)] & (o != other)
        stay &= of.pair[np.maximum(o, 0)] < 0
        _reassign(instance, cands.stays(w), stay, allocation, weeks=(w,))
    return allocation


def _fewer_splits_by_week2(instance: Instance, roles: OfferRoles, cands: Candidates,
                           allocation: np.ndarray) -> np.ndarray:
    """When two-week offers may be split: re-assign week-2 stays so that as many pupils as
    possible stay at their week-1 offer (a single), keeping everyone's week 1 and every
    offer's seats; then sectors and travel."""
    allocation = allocation.copy()
    of, fixed = instance.offers, instance.fixed
    a, b = allocation[:, 0], allocation[:, 1]
    members = ((fixed < 0).all(axis=1) & (a >= 0) & (b >= 0)
               & (of.pair[np.maximum(a, 0)] < 0) & (of.pair[np.maximum(b, 0)] < 0)
               & roles.week2[np.maximum(b, 0)])
    pupils = np.flatnonzero(members)
    own = allocation[pupils, 0]
    stays_home = roles.week2[own]
    extra = RoleArcs(student=pupils[stays_home], offer=own[stays_home],
                     deciminutes=np.full(int(stays_home.sum()), -1, dtype=np.int64))
    _reassign(instance, cands.week2, members, allocation, weeks=(1,), also=extra,
              split_from=allocation[:, 0].copy())
    return allocation


def _reassign(instance: Instance, arcs: RoleArcs, members: np.ndarray, allocation: np.ndarray,
              weeks: tuple[int, ...], also: RoleArcs | None = None,
              split_from: np.ndarray | None = None) -> None:
    """Min-cost re-assignment of `members` (each keeps exactly one offer) in place.

    `also` adds arcs (minutes -1: looked up); with `split_from` (each pupil's other-week
    offer), an offer other than that one costs more than any sector or travel difference.
    """
    pupils = np.flatnonzero(members)
    if len(pupils) == 0:
        return
    of = instance.offers
    current = allocation[pupils, weeks[0]]
    # Seats each offer has for the family: capacity minus what everyone else holds.
    left = of.seats - seats_used(instance, allocation, ~members)
    seats = left[:, list(weeks)].min(axis=1)
    sel = members[arcs.student]
    s = np.r_[arcs.student[sel], pupils]
    o = np.r_[arcs.offer[sel], current]
    d = np.r_[arcs.deciminutes[sel], np.full(len(pupils), -1)]
    if also is not None:
        s, o, d = np.r_[s, also.student], np.r_[o, also.offer], np.r_[d, also.deciminutes]
    # The current assignment is always an arc (its minutes looked up when it is a candidate).
    key = s * of.n + o
    order = np.lexsort((-d, key))
    key, s, o, d = key[order], s[order], o[order], d[order]
    first = np.r_[True, key[1:] != key[:-1]]
    s, o, d = s[first], o[first], d[first]
    missing = d < 0
    if missing.any():
        # A signed convention may have no timetable journey (inf minutes): the largest cost.
        minutes = np.minimum(exact_minutes(instance, s[missing], o[missing]), 6553.5)
        d[missing] = np.floor(minutes * 10).astype(np.int64)
    weight = instance.scenario.equity.short_trips_for_priority
    if weight != 1.0:
        # [equity] short_trips_for_priority: a priority pupil's minutes weigh more.
        d = np.where(instance.students.priority[s], np.round(d * weight), d).astype(np.int64)
    score = sector_score(instance, s, o)
    travel_total = int(d.max(initial=0)) * len(pupils) + 1
    cost = d - travel_total * score
    if split_from is not None:
        split_unit = (travel_total * 11 + 1) * len(pupils)
        cost = cost + split_unit * (o != split_from[s])
    offers = np.unique(o)
    n_p = len(pupils)
    p_index = np.full(instance.students.n, -1, dtype=np.int64)
    p_index[pupils] = np.arange(n_p)
    o_index = np.full(of.n, -1, dtype=np.int64)
    o_index[offers] = np.arange(len(offers))
    sink = n_p + len(offers)
    flow = min_cost_flow.SimpleMinCostFlow()
    tails = np.r_[p_index[s], n_p + np.arange(len(offers))]
    heads = np.r_[n_p + o_index[o], np.full(len(offers), sink)]
    caps = np.r_[np.ones(len(s), dtype=np.int64), np.maximum(seats[offers], 0)]
    costs = np.r_[cost, np.zeros(len(offers), dtype=np.int64)]
    ids = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.r_[np.ones(n_p, dtype=np.int64), np.zeros(len(offers), dtype=np.int64), -n_p]
    flow.set_nodes_supplies(np.arange(sink + 1), supplies)
    if flow.solve() != flow.OPTIMAL:
        return
    used = flow.flows(ids)[: len(s)] > 0
    for w in weeks:
        allocation[s[used], w] = o[used]
