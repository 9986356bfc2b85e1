"""No school (or territory) left behind: the max-min level of the objective (`[equity]`).

The rule maximises the lowest placement rate among groups of pupils (schools, or the EPCI or
département of their homes), then the next lowest, and so on (leximin); a group's rate is its
pupils placed for both weeks over its pupils to place.

How: the pupils who hold a two-week seat alone (singles; not signed, not in a pair, not split)
and the pupils not yet placed for both weeks are re-matched to the two-week seats those
singles hold or leave free, by one min-cost flow

    source -> group g (its k-th pupil placed costs (2 (b_g + k) - 1) / n_g) -> pupil -> offer
           -> sink

where `b_g` counts the group's pupils placed otherwise (signed, splits, pairs, priority
singles) and `n_g` its pupils to place. A placement also earns a bonus larger than any such
cost, so the flow first places as many pupils as possible (never fewer than before), then
minimises the sum over groups of x_g^2 / n_g. The placements reachable this way are the bases
of a polymatroid (a transversal structure), and on a polymatroid that sum is minimised exactly
by the lexicographically optimal (leximin) rate vector (Fujishige, 1980); costs are rounded to
integers, so rates within 1e-5 of each other may tie.

Two consequences, reported in the summary: within this family of placements the max-min
rule costs no placement at all (a maximum matching can always be levelled), so
`max_min_level = "before_total"` and `"after_total"` give the same allocation here; and the
exchanges it makes never unplace a priority pupil (they keep a seat) and never touch a
signed week, a pair or a split.
"""

from __future__ import annotations

import weakref

import numpy as np
from ortools.graph.python import min_cost_flow

from affectation.domain.allocation import FULL_KINDS, classify, seats_used
from affectation.domain.instance import Instance
from affectation.domain.territory import pupil_groups
from affectation.engine.candidates import Candidates, OfferRoles

# Cost units of one marginal rate step: (2x - 1) / n is scaled by this before rounding.
RATE_SCALE = 100_000


def group_index(instance: Instance, grouping: str) -> tuple[np.ndarray, np.ndarray]:
    """Each pupil's group (index into the sorted labels) and the labels, for `grouping`
    ("school", "epci" or "department")."""
    if grouping == "school":
        labels = instance.students.school.astype(str)
    else:
        labels = pupil_groups(instance)[grouping].astype(str)
    names, index = np.unique(labels, return_inverse=True)
    return index.astype(np.int64), names


_GROUPS: weakref.WeakKeyDictionary[Instance, tuple[np.ndarray, np.ndarray]] = (
    weakref.WeakKeyDictionary())


def cached_groups(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """The max-min rule's group of each pupil and the groups' labels (computed once per
    instance: territories need the nearest commune of every home)."""
    if instance not in _GROUPS:
        _GROUPS[instance] = group_index(instance, instance.scenario.equity.max_min_groups)
    return _GROUPS[instance]


def group_rates(instance: Instance, allocation: np.ndarray, group: np.ndarray, n_groups: int
                ) -> np.ndarray:
    """Placement rate (both weeks) of each group over its pupils to place; nan when none."""
    st = instance.students
    full = np.isin(classify(instance, allocation), FULL_KINDS)
    to_place = np.bincount(group[st.to_place], minlength=n_groups)
    placed = np.bincount(group[full & st.to_place], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(to_place > 0, placed / np.maximum(to_place, 1), np.nan)


def level_groups(instance: Instance, roles: OfferRoles, cands: Candidates, allocation: np.ndarray
                 ) -> np.ndarray:
    """The allocation with the singles re-matched for the leximin rates of the scenario's
    max-min groups; every other placement, and the number of pupils placed, unchanged or
    better."""
    st, of, fixed = instance.students, instance.offers, instance.fixed
    group, names = cached_groups(instance)
    n_groups = len(names)
    a, b = allocation[:, 0], allocation[:, 1]
    unsigned = (fixed < 0).all(axis=1) & st.to_place
    single = unsigned & (a >= 0) & (a == b) & roles.single[np.maximum(a, 0)]
    full = (a >= 0) & (b >= 0)
    waiting = unsigned & ~full & ~st.priority
    forced = single & st.priority
    members = single | waiting
    if not waiting.any():
        return allocation

    # Seats the family may use: what every non-member leaves, in both weeks.
    left = of.seats - seats_used(instance, allocation, ~single)
    seats = np.where(roles.single, np.maximum(left.min(axis=1), 0), 0)

    arcs = cands.single
    sel = members[arcs.student]
    s = np.r_[arcs.student[sel], np.flatnonzero(single)]
    o = np.r_[arcs.offer[sel], a[single]]
    key = np.unique(s * of.n + o)
    s, o = key // of.n, key % of.n
    keep = seats[o] > 0
    s, o = s[keep], o[keep]

    to_place = np.bincount(group[st.to_place], minlength=n_groups)
    base = np.bincount(group[st.to_place & full & ~members], minlength=n_groups)
    base += np.bincount(group[forced], minlength=n_groups)
    free_pupils = np.flatnonzero(members & ~forced)
    forced_pupils = np.flatnonzero(forced)

    # Nodes: 0 source, 1 sink, groups, pupils, offers.
    pupils = np.r_[free_pupils, forced_pupils]
    offers = np.unique(o)
    g0, p0 = 2, 2 + n_groups
    o0 = p0 + len(pupils)
    p_node = np.full(st.n, -1, dtype=np.int64)
    p_node[pupils] = p0 + np.arange(len(pupils))
    o_node = np.full(of.n, -1, dtype=np.int64)
    o_node[offers] = o0 + np.arange(len(offers))

    # The k-th free member of a group placed: marginal cost of x^2 / n at x = base + k.
    g_of_free = group[free_pupils]
    order = np.argsort(g_of_free, kind="stable")
    counts = np.bincount(g_of_free, minlength=n_groups)
    k = np.arange(len(free_pupils)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    g_units = g_of_free[order]
    x = base[g_units] + k
    marginal = np.round(RATE_SCALE * (2 * x - 1) / to_place[g_units]).astype(np.int64)
    bonus = int(marginal.max(initial=0)) * (len(pupils) + 1) + 1

    tails = np.r_[np.zeros(len(g_units), dtype=np.int64), g0 + g_of_free,
                  p_node[s], o_node[offers], 0]
    heads = np.r_[g0 + g_units, p_node[free_pupils], o_node[o],
                  np.ones(len(offers), dtype=np.int64), 1]
    caps = np.r_[np.ones(len(g_units) + len(free_pupils) + len(s), dtype=np.int64),
                 seats[offers], len(free_pupils)]
    costs = np.r_[marginal - bonus, np.zeros(len(free_pupils) + len(s) + len(offers) + 1,
                                             dtype=np.int64)]
    flow = min_cost_flow.SimpleMinCostFlow()
    ids = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(o0 + len(offers), dtype=np.int64)
    supplies[0] = len(free_pupils)
    supplies[p_node[forced_pupils]] = 1
    supplies[1] = -len(pupils)
    flow.set_nodes_supplies(np.arange(len(supplies)), supplies)
    if flow.solve() != flow.OPTIMAL:
        return allocation
    start = len(g_units) + len(free_pupils)
    used = flow.flows(ids)[start: start + len(s)] > 0
    new = allocation.copy()
    new[single] = -1
    new[s[used], 0] = o[used]
    new[s[used], 1] = o[used]
    before = group_rates(instance, allocation, group, n_groups)
    after = group_rates(instance, new, group, n_groups)
    if _leximin_key(after) < _leximin_key(before):
        return allocation
    return new


def _leximin_key(rates: np.ndarray) -> tuple[float, ...]:
    return tuple(np.sort(rates[~np.isnan(rates)]).tolist())


def levelling_summary(instance: Instance, before: np.ndarray, after: np.ndarray
                      ) -> dict[str, float | int | str]:
    """What the levelling changed: lowest group rate, pupils placed (its cost), and the pupils
    it placed or displaced (offers swapped among placed pupils are not counted: the polish
    re-assigns them for sectors and travel afterwards)."""
    group, names = cached_groups(instance)
    rates = [group_rates(instance, w, group, len(names)) for w in (before, after)]
    full_before, full_after = (np.isin(classify(instance, w), FULL_KINDS) for w in (before, after))
    full = [int(full_before.sum()), int(full_after.sum())]
    lowest = [int(np.nanargmin(r)) if not np.isnan(r).all() else -1 for r in rates]
    return {
        "groups": instance.scenario.equity.max_min_groups,
        "level": instance.scenario.equity.max_min_level,
        "lowest_rate_before": round(float(rates[0][lowest[0]]), 6) if lowest[0] >= 0 else 0.0,
        "lowest_group_before": str(names[lowest[0]]) if lowest[0] >= 0 else "",
        "lowest_rate_after": round(float(rates[1][lowest[1]]), 6) if lowest[1] >= 0 else 0.0,
        "lowest_group_after": str(names[lowest[1]]) if lowest[1] >= 0 else "",
        "placed_full_before": full[0],
        "placed_full_after": full[1],
        # Pupils the levelling placed for both weeks, and those it left with fewer weeks.
        "newly_placed_full": int((full_after & ~full_before).sum()),
        "no_longer_placed_full": int((full_before & ~full_after).sum()),
    }
