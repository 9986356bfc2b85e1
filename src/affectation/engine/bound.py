"""Proven upper bounds on the pupils that can be placed for both weeks.

Two relaxations, each a maximum flow; the smaller value is the bound.

*Three-layer bound* (any rules): source -> (offer, week 1) -> pupil -> (offer, week 2) -> sink,
with an arc for every offer the pupil may use that week (reserved offers only for priority
pupils; a signed week has the signed offer as its only arc, since conventions never move).
Every valid allocation is such a flow. It relaxes that a two-week offer keeps its pupil both
weeks, the pairs' rules and their minimum group.

*Role bound* (when two-week offers may not be split, so that offers have disjoint roles): a
pupil placed for both weeks is a `single` at a two-week offer, a `split` over two one-week
offers, or in a pair; pupils with one signed week complete it at the signed offer or with a
one-week stay. Each family is bounded by its own maximum flow, and the bound is their sum.

Every bound leaves out the pairs that can never reach their minimum group
(`closed_pair_offers`): on Normandy they are 29 of 195 pairs, and the bound drops by 48.

A region has tens of millions of reachable pairs, too many for a fast max-flow. Each flow is
first computed on every pupil's nearest arcs; a minimum cut of that network is then checked
against every omitted arc: when none crosses the cut, the cut (whose capacity equals the flow)
is also a cut of the full network, so the value is proven for the full network. Otherwise the
crossing arcs are added and the flow solved again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import max_flow

from affectation.domain.instance import Instance
from affectation.engine.candidates import (
    OfferRoles,
    allowed_pairs,
    extensions,
    offer_roles,
    pair_options,
    rank_within_student,
)
from affectation.travel.reach import Reach

INITIAL_ARCS_PER_PUPIL = 24
# With a seed (the arcs of a related flow) far fewer nearest arcs are needed to start.
SEEDED_ARCS_PER_PUPIL = 8
MAX_ROUNDS = 30
ARCS_ADDED_PER_ROUND = 4


@dataclass(frozen=True)
class Bound:
    """A proven upper bound, and the size of the flows that proved it."""

    value: int
    rounds: int
    arcs: int


@dataclass(frozen=True, eq=False)
class FlowArcs:
    """Reachable pairs (indices into `Reach`) that carried a proven maximum flow, per role.

    They are what the solver's candidates must contain for the flow's value to be reachable.
    """

    single: np.ndarray
    week1: np.ndarray
    week2: np.ndarray


@dataclass(frozen=True, eq=False)
class _Network:
    """Fixed arcs, plus optional pupil arcs (capacity 1) of which a subset is loaded first."""

    n_nodes: int
    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    opt_tails: np.ndarray
    opt_heads: np.ndarray
    opt_rank: np.ndarray
    opt_pupil: np.ndarray  # pupil of each optional arc (arcs sorted by pupil)


def _certified_max_flow(net: _Network, source: int = 0, sink: int = 1,
                        seed: np.ndarray | None = None) -> tuple[Bound, np.ndarray]:
    """The max flow of the full network, proven by a cut; also the optional arcs it loaded.

    `seed` marks optional arcs to load from the start (arcs of a related flow)."""
    if seed is None:
        chosen = net.opt_rank < INITIAL_ARCS_PER_PUPIL
    else:
        chosen = (net.opt_rank < SEEDED_ARCS_PER_PUPIL) | seed
    rounds = 0
    while True:
        rounds += 1
        flow = max_flow.SimpleMaxFlow()
        t = np.concatenate([net.tails, net.opt_tails[chosen]])
        h = np.concatenate([net.heads, net.opt_heads[chosen]])
        c = np.concatenate([net.caps, np.ones(int(chosen.sum()), dtype=np.int64)])
        flow.add_arcs_with_capacity(t, h, c)
        status = flow.solve(source, sink)
        if status != flow.OPTIMAL:
            raise RuntimeError(f"max flow failed with status {status}")
        value = int(flow.optimal_flow())
        side = np.zeros(net.n_nodes, dtype=bool)
        side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
        crossing = ~chosen & side[net.opt_tails] & ~side[net.opt_heads]
        if not crossing.any():
            return Bound(value=value, rounds=rounds, arcs=len(t)), chosen
        if rounds >= MAX_ROUNDS:
            chosen = np.ones_like(chosen)
            continue
        # Add each pupil's few nearest crossing arcs only: enough to move the cut, while the
        # network stays small (adding every crossing arc makes it several times larger).
        idx = np.flatnonzero(crossing)
        rank = rank_within_student(net.opt_pupil[idx])
        chosen[idx[rank < ARCS_ADDED_PER_ROUND]] = True


def _pupil_arcs(reach: Reach, mask: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(student, offer, rank by travel within the student, reach index) of masked pairs."""
    idx = np.flatnonzero(mask)
    student = reach.student_of_pair()[idx].astype(np.int64)
    return student, reach.offer[idx].astype(np.int64), rank_within_student(student), idx


def three_layer_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                      student_mask: np.ndarray) -> tuple[Bound, FlowArcs]:
    """Max flow of the three-layer network (see the module docstring), and its arcs.

    Nodes are only the masked pupils and the offers they have an arc to (the others carry no
    flow), so that the flow of a small group of pupils stays small.
    """
    of = instance.offers
    fixed = instance.fixed
    pair_student = reach.student_of_pair()
    open_w = of.open_week
    pupils = np.flatnonzero(student_mask)
    signed = [np.flatnonzero((fixed[:, w] >= 0) & student_mask) for w in (0, 1)]
    pupil_arcs = []
    used = np.zeros(of.n, dtype=bool)
    for w in (0, 1):
        mask = allowed & open_w[reach.offer, w] & student_mask[pair_student]
        mask &= fixed[pair_student, w] < 0
        pupil_arcs.append(_pupil_arcs(reach, mask))
        used[pupil_arcs[w][1]] = True
        used[fixed[signed[w], w]] = True
    offers = np.flatnonzero(used)
    n_o, n_p = len(offers), len(pupils)
    # Compact node of each used offer and masked pupil.
    offer_node = np.cumsum(used) - 1
    pupil_node = np.cumsum(student_mask) - 1
    o1, o2, p_in, p_out = 2, 2 + n_o, 2 + 2 * n_o, 2 + 2 * n_o + n_p
    tails, heads, caps = [], [], []
    tails += [np.zeros(n_o, dtype=np.int64), o2 + np.arange(n_o), p_in + np.arange(n_p)]
    heads += [o1 + np.arange(n_o), np.ones(n_o, dtype=np.int64), p_out + np.arange(n_p)]
    caps += [of.seats[offers, 0], of.seats[offers, 1], np.ones(n_p, dtype=np.int64)]
    for w in (0, 1):
        node = offer_node[fixed[signed[w], w]]
        if w == 0:
            tails.append(o1 + node)
            heads.append(p_in + pupil_node[signed[w]])
        else:
            tails.append(p_out + pupil_node[signed[w]])
            heads.append(o2 + node)
        caps.append(np.ones(len(signed[w]), dtype=np.int64))
    net, opt_i = _three_layer_network(2 + 2 * n_o + 2 * n_p, tails, heads, caps, pupil_arcs,
                                      (o1, o2, p_in, p_out), pupil_node, offer_node)
    bound, chosen = _certified_max_flow(net)
    n1 = len(opt_i[0])
    arcs = FlowArcs(single=np.zeros(0, dtype=np.int64), week1=opt_i[0][chosen[:n1]],
                    week2=opt_i[1][chosen[n1:]])
    return bound, arcs


def _three_layer_network(n_nodes: int, tails: list[np.ndarray], heads: list[np.ndarray],
                         caps: list[np.ndarray],
                         arcs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                         layers: tuple[int, int, int, int],
                         pupil_node: np.ndarray | None = None,
                         offer_node: np.ndarray | None = None) -> tuple[_Network, list[np.ndarray]]:
    """A three-layer network: its fixed arcs, and the pupils' option arcs of each week
    (`_pupil_arcs`), week 1 as offer -> pupil-in and week 2 as pupil-out -> offer. `layers`
    gives the first node of (week-1 offers, week-2 offers, pupils in, pupils out);
    `pupil_node`, `offer_node` map pupils and offers to their rank in those layers (identity
    when None). Returns the network and each week's reach indices, in option order."""
    o1, o2, p_in, p_out = layers
    opt_t, opt_h, opt_r, opt_s, opt_i = [], [], [], [], []
    for w in (0, 1):
        s, o, r, i = arcs[w]
        p = s if pupil_node is None else pupil_node[s]
        k = o if offer_node is None else offer_node[o]
        opt_s.append(s)
        opt_t.append(o1 + k if w == 0 else p_out + p)
        opt_h.append(p_in + p if w == 0 else o2 + k)
        opt_r.append(r)
        opt_i.append(i)
    net = _Network(n_nodes, np.concatenate(tails), np.concatenate(heads), np.concatenate(caps),
                   np.concatenate(opt_t), np.concatenate(opt_h), np.concatenate(opt_r),
                   np.concatenate(opt_s))
    return net, opt_i


def role_bound(instance: Instance, reach: Reach, allowed: np.ndarray, roles: OfferRoles,
               student_mask: np.ndarray) -> tuple[Bound, FlowArcs]:
    """Sum of per-family maximum flows, valid when offers' roles are disjoint; their arcs."""
    st, of = instance.students, instance.offers
    fixed = instance.fixed
    n_s, n_o = st.n, of.n
    pair_student = reach.student_of_pair()
    free_both, signed_both, half = instance.signed_groups(student_mask)
    rem = instance.seats_left_by_conventions()
    rounds = arcs = 0

    # Singles: free pupils -> two-week offers, seats = the fewer left over the two weeks.
    o_node, p_node = 2, 2 + n_o
    s, o, r, single_idx = _pupil_arcs(
        reach, allowed & roles.single[reach.offer] & free_both[pair_student])
    pupils = np.flatnonzero(free_both)
    net = _Network(
        2 + n_o + n_s,
        np.r_[np.zeros(len(pupils), dtype=np.int64), o_node + np.arange(n_o)],
        np.r_[p_node + pupils, np.ones(n_o, dtype=np.int64)],
        np.r_[np.ones(len(pupils), dtype=np.int64), np.maximum(rem.min(axis=1), 0)],
        p_node + s, o_node + o, r, s,
    )
    singles, single_chosen = _certified_max_flow(net)

    # Splits, and pupils with one signed week completing it by a one-week stay.
    o1, o2, p_in, p_out = 2, 2 + n_o, 2 + 2 * n_o, 2 + 2 * n_o + n_s
    pupils = np.flatnonzero(free_both | half)
    t = [np.zeros(n_o, dtype=np.int64), o2 + np.arange(n_o), p_in + pupils]
    h = [o1 + np.arange(n_o), np.ones(n_o, dtype=np.int64), p_out + pupils]
    c = [np.maximum(rem[:, 0], 0), np.maximum(rem[:, 1], 0), np.ones(len(pupils), dtype=np.int64)]
    signed1 = np.flatnonzero(half & (fixed[:, 0] >= 0))
    signed2 = np.flatnonzero(half & (fixed[:, 1] >= 0))
    t += [np.zeros(len(signed1), dtype=np.int64), p_out + signed2]
    h += [p_in + signed1, np.ones(len(signed2), dtype=np.int64)]
    c += [np.ones(len(signed1), dtype=np.int64), np.ones(len(signed2), dtype=np.int64)]
    stay_arcs = []
    for w, role in ((0, roles.week1), (1, roles.week2)):
        needs = (free_both | half) & (fixed[:, w] < 0)
        stay_arcs.append(_pupil_arcs(reach, allowed & role[reach.offer] & needs[pair_student]))
    net, opt_i = _three_layer_network(2 + 2 * n_o + 2 * n_s, t, h, c, stay_arcs,
                                      (o1, o2, p_in, p_out))
    splits, stay_chosen = _certified_max_flow(net)
    n1 = len(opt_i[0])

    # Pairs: the three-layer network on paired offers only (pair options are few: no pruning).
    options = pair_options(instance, reach, allowed)
    keep = free_both[options.student]
    ps, pk, pd = options.student[keep], options.pair[keep], options.direction[keep]
    x = instance.pairs.offers[pk, pd]
    y = instance.pairs.offers[pk, 1 - pd]
    pupils = np.unique(ps)
    net = _Network(
        2 + 2 * n_o + 2 * n_s,
        np.r_[np.zeros(n_o, dtype=np.int64), o2 + np.arange(n_o), p_in + pupils, o1 + x,
              p_out + ps],
        np.r_[o1 + np.arange(n_o), np.ones(n_o, dtype=np.int64), p_out + pupils, p_in + ps, o2 + y],
        np.r_[np.maximum(rem[:, 0], 0), np.maximum(rem[:, 1], 0),
              np.ones(len(pupils) + 2 * len(ps), dtype=np.int64)],
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
    )
    paired, _ = _certified_max_flow(net)

    # Pupils with one signed week who could extend it to the other week.
    extendable = int((half & (extensions(instance, reach) >= 0)).sum())
    value = int(signed_both.sum()) + singles.value + splits.value + paired.value + extendable
    for b in (singles, splits, paired):
        rounds += b.rounds
        arcs += b.arcs
    flow_arcs = FlowArcs(single=single_idx[single_chosen], week1=opt_i[0][stay_chosen[:n1]],
                         week2=opt_i[1][stay_chosen[n1:]])
    return Bound(value=value, rounds=rounds, arcs=arcs), flow_arcs


def shared_pupil_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                       roles: OfferRoles, student_mask: np.ndarray,
                       seed: FlowArcs | None = None,
                       entry_week: int = 0) -> tuple[Bound, FlowArcs]:
    """One flow in which the families share each pupil's unit (roles disjoint).

    source -> stay offer of the entry week -> pupil -> stay offer of the other week -> sink
    carries splits; source -> pupil -> two-week offer, or pair direction -> sink carries
    singles and pairs. Every allocation is such a flow (a pupil is in one family at most), so
    its maximum bounds `placed_full`; unlike the role bound, no pupil counts twice. Its only
    slack is a pupil entering as a single and leaving through a one-week stay of the exit week:
    computed with either week as the entry, the smaller value is the tighter bound.
    """
    a, b = entry_week, 1 - entry_week
    st, of = instance.students, instance.offers
    fixed = instance.fixed
    pairs = instance.pairs
    n_s, n_o = st.n, of.n
    pair_student = reach.student_of_pair()
    free_both, signed_both, half = instance.signed_groups(student_mask)
    rem = instance.seats_left_by_conventions()
    rem = np.maximum(rem, 0)
    # Nodes: source 0, sink 1, week-1 offers, week-2 offers, singles offers, pair directions,
    # pupils in, pupils out.
    o1, o2, o0 = 2, 2 + n_o, 2 + 2 * n_o
    dn = 2 + 3 * n_o
    p_in = dn + 2 * pairs.n
    p_out = p_in + n_s
    offers = np.arange(n_o)
    pupils = np.flatnonzero(free_both | half)
    t = [np.zeros(n_o, dtype=np.int64), o2 + offers, o0 + offers, p_in + pupils]
    h = [o1 + offers, np.ones(n_o, dtype=np.int64), np.ones(n_o, dtype=np.int64), p_out + pupils]
    c = [rem[:, a], rem[:, b], rem.min(axis=1), np.ones(len(pupils), dtype=np.int64)]
    if pairs.n:
        k = np.repeat(np.arange(pairs.n), 2)
        d = np.tile([0, 1], pairs.n)
        first, second = pairs.offers[k, d], pairs.offers[k, 1 - d]
        t.append(dn + 2 * k + d)
        h.append(np.ones(len(k), dtype=np.int64))
        c.append(np.minimum(rem[first, 0], rem[second, 1]))
    # Entry without a week-1 stay: pupils free for both weeks (singles, pairs) and pupils whose
    # week 1 is signed; exit without a week-2 stay: pupils whose week 2 is signed.
    # A pupil with no single or pair option could only use that entry to end on a one-week
    # stay, which no allocation does: leaving it out keeps the bound valid and tighter.
    options = pair_options(instance, reach, allowed)
    single_mask = allowed & roles.single[reach.offer] & free_both[pair_student]
    has_bipartite = np.zeros(n_s, dtype=bool)
    has_bipartite[pair_student[single_mask]] = True
    has_bipartite[options.student] = True
    entry = np.flatnonzero((free_both & has_bipartite) | (half & (fixed[:, a] >= 0)))
    leave = np.flatnonzero(half & (fixed[:, b] >= 0))
    t += [np.zeros(len(entry), dtype=np.int64), p_out + leave]
    h += [p_in + entry, np.ones(len(leave), dtype=np.int64)]
    c += [np.ones(len(entry), dtype=np.int64), np.ones(len(leave), dtype=np.int64)]
    ext = extensions(instance, reach)
    has_ext = np.flatnonzero(half & (ext >= 0))
    for pupil in (has_ext,):
        exit_missing = fixed[pupil, a] >= 0
        # The signed offer extended to the missing week: a one-week seat of that week.
        t.append(np.where(exit_missing, p_out + pupil, o1 + ext[pupil]))
        h.append(np.where(exit_missing, o2 + ext[pupil], p_in + pupil))
        c.append(np.ones(len(pupil), dtype=np.int64))
    keep = free_both[options.student]
    t.append(p_out + options.student[keep])
    h.append(dn + 2 * options.pair[keep] + options.direction[keep])
    c.append(np.ones(int(keep.sum()), dtype=np.int64))
    opt_t, opt_h, opt_r, opt_i, opt_s = [], [], [], [], []
    s_, o_, r_, i_ = _pupil_arcs(reach, single_mask)
    opt_t.append(p_out + s_)
    opt_h.append(o0 + o_)
    opt_r.append(r_)
    opt_i.append(i_)
    opt_s.append(s_)
    for w in (a, b):
        role = roles.week1 if w == 0 else roles.week2
        needs = (free_both | half) & (fixed[:, w] < 0)
        s_, o_, r_, i_ = _pupil_arcs(reach, allowed & role[reach.offer] & needs[pair_student])
        opt_t.append(o1 + o_ if w == a else p_out + s_)
        opt_h.append(p_in + s_ if w == a else o2 + o_)
        opt_r.append(r_)
        opt_i.append(i_)
        opt_s.append(s_)
    lengths = [len(x) for x in opt_i]
    net = _Network(p_out + n_s, np.concatenate(t), np.concatenate(h), np.concatenate(c),
                   np.concatenate(opt_t), np.concatenate(opt_h), np.concatenate(opt_r),
                   np.concatenate(opt_s))
    seed_mask = None
    if seed is not None:
        marked = np.zeros(reach.n_pairs, dtype=bool)
        marked[np.concatenate([seed.single, seed.week1, seed.week2])] = True
        seed_mask = marked[np.concatenate(opt_i)]
    bound, chosen = _certified_max_flow(net, seed=seed_mask)
    parts = np.split(chosen, np.cumsum(lengths)[:-1])
    stays = {a: opt_i[1][parts[1]], b: opt_i[2][parts[2]]}
    arcs = FlowArcs(single=opt_i[0][parts[0]], week1=stays[0], week2=stays[1])
    value = bound.value + int(signed_both.sum())
    return Bound(value=value, rounds=bound.rounds, arcs=bound.arcs), arcs


def closed_pair_offers(instance: Instance, reach: Reach, allowed: np.ndarray) -> np.ndarray:
    """Per offer: it belongs to a pair that can never reach its minimum group.

    Such a pair hosts nobody in any valid allocation: at most the pupils who may join it (both
    offers reachable and usable) fit, within its seats in each direction, fewer than
    `min_group`. Pairs holding a signed week are left open (the conventions decide). Every
    bound may drop these offers, which the flows would otherwise count as seats.
    """
    pairs, of = instance.pairs, instance.offers
    closed = np.zeros(of.n, dtype=bool)
    if pairs.n == 0 or not (pairs.min_group > 0).any():
        return closed
    rem = np.maximum(instance.seats_left_by_conventions(), 0)
    a, b = pairs.offers[:, 0], pairs.offers[:, 1]
    seats = np.minimum(rem[a, 0], rem[b, 1]) + np.minimum(rem[b, 0], rem[a, 1])
    free_both, _, _ = instance.signed_groups(instance.students.to_place)
    options = pair_options(instance, reach, allowed)
    keep = free_both[options.student]
    joined = np.unique(options.pair[keep] * instance.students.n + options.student[keep])
    joiners = np.bincount(joined // instance.students.n, minlength=pairs.n)
    signed = np.zeros(pairs.n, dtype=bool)
    signed_pair = of.pair[instance.conventions.offer]
    signed[signed_pair[signed_pair >= 0]] = True
    dead = (pairs.min_group > 0) & (np.minimum(seats, joiners) < pairs.min_group) & ~signed
    closed[pairs.offers[dead].ravel()] = True
    return closed


def full_placement_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                         roles: OfferRoles, student_mask: np.ndarray | None = None,
                         three_layer: bool = False,
                         shared: bool = True) -> tuple[Bound, FlowArcs]:
    """The best proven upper bound on pupils (of `student_mask`) placed for both weeks.

    Also returns arcs that carried the flows, for the solver's candidates. With disjoint roles
    (two-week offers not split) the role bound is computed, the shared-pupil bound when
    `shared`, and the three-layer bound when `three_layer` (slower, sometimes tighter).
    """
    if student_mask is None:
        student_mask = instance.students.to_place
    allowed = allowed & ~closed_pair_offers(instance, reach, allowed)[reach.offer]
    if instance.scenario.rules.split_two_week_offers:
        bound, arcs = three_layer_bound(instance, reach, allowed, student_mask)
    else:
        bound, arcs = role_bound(instance, reach, allowed, roles, student_mask)
        others = []
        if shared:
            for entry_week in (0, 1):
                others.append(shared_pupil_bound(instance, reach, allowed, roles, student_mask,
                                                 arcs, entry_week)[0])
        if three_layer:
            others.append(three_layer_bound(instance, reach, allowed, student_mask)[0])
        for other in others:
            if other.value < bound.value:
                bound = other
    # The role bound may count a pupil in two families; no bound exceeds the pupils themselves.
    pupils = int(student_mask.sum())
    return Bound(value=min(bound.value, pupils), rounds=bound.rounds, arcs=bound.arcs), arcs


def placeable(instance: Instance, reach: Reach, allowed: np.ndarray,
              roles: OfferRoles) -> np.ndarray:
    """Pupils with at least one way to be placed for both weeks, capacities of others aside.

    Signed both weeks; or a usable single offer, usable one-week stays in both weeks, or a
    usable pair direction, each with a seat left by the conventions; or, with one signed week,
    its extension or a usable stay in the other week. A necessary condition of `placed_full`.
    """
    st = instance.students
    fixed = instance.fixed
    free_both, signed_both, half = instance.signed_groups(st.to_place)
    rem = instance.seats_left_by_conventions() > 0
    student = reach.student_of_pair()
    offer = reach.offer
    single = np.zeros(st.n, dtype=bool)
    single[student[allowed & (roles.single & rem.all(axis=1))[offer]]] = True
    stay = np.zeros((st.n, 2), dtype=bool)
    for w, role in enumerate(roles.week):
        stay[student[allowed & (role & rem[:, w])[offer]], w] = True
    paired = np.zeros(st.n, dtype=bool)
    options = pair_options(instance, reach, allowed)
    if len(options.student):
        first = instance.pairs.offers[options.pair, options.direction]
        second = instance.pairs.offers[options.pair, 1 - options.direction]
        paired[options.student[rem[first, 0] & rem[second, 1]]] = True
    ext = extensions(instance, reach)
    other = np.where(fixed[:, 0] >= 0, 1, 0)
    extendable = (ext >= 0) & rem[np.maximum(ext, 0), other]
    completes = extendable | stay[np.arange(st.n), other]
    return (signed_both | (free_both & (single | stay.all(axis=1) | paired))
            | (half & completes))


def placeable_pupils(instance: Instance, reach: Reach) -> np.ndarray:
    """`placeable` with the instance's allowed pairs and roles, computed once per instance
    and reach (read-only: the repair's bound and the audit share it)."""
    cached = reach.__dict__.get("_placeable")
    if cached is None or cached[0] is not instance:
        can = placeable(instance, reach, allowed_pairs(instance, reach), offer_roles(instance))
        can.setflags(write=False)
        cached = (instance, can)
        reach.__dict__["_placeable"] = cached
    result: np.ndarray = cached[1]
    return result
