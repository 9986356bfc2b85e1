"""Proven upper bounds on the pupils that can be placed for both weeks.

Two relaxations, each a maximum flow; the smaller value is the bound.

*Three-layer bound* (any rules): source -> (offer, week 1) -> pupil -> (offer, week 2) -> sink,
with an arc for every offer the pupil may use that week (reserved offers only for priority
pupils; a signed week has the signed offer as its only arc, since conventions never move).
Every valid allocation is such a flow. It relaxes that a two-week offer keeps its pupil both
weeks, the pairs' rules and their minimum group.

*Shared-pupil bound* (when two-week offers may not be split, so that offers have disjoint
roles): a pupil placed for both weeks is a `single` at a two-week offer, a `split` over two
one-week offers, or in a pair; one flow carries all three families through each pupil's unit
(`shared_pupil_bound`), once with each week as the entry.

Every bound leaves out the pairs that can never reach their minimum group
(`closed_pair_offers`): on Normandy they are 29 of 195 pairs, and the bound drops by 48.

A region has tens of millions of reachable pairs, too many for a fast max-flow. Each flow is
first computed on every pupil's nearest arcs; a minimum cut of that network is then checked
against every omitted arc: when none crosses the cut, the cut (whose capacity equals the flow)
is also a cut of the full network, so the value is proven for the full network. Otherwise
each pupil's nearest crossing arcs are added (4, then 8, 16...: `ARCS_GROWTH`) and the flow
solved again.

A reach may itself be capped (`travel.reach.nearest_reach`: each pupil's nearest offers only,
for the densest territories, where every reachable pair would not fit in memory). The cut is
then also checked against the pairs the rows leave out (`_Beyond`): they are computed again
from the positions, only between the pupils and the offers on the two sides of the cut that
an arc could cross (`travel.reach.pairs_beyond`), and the crossing ones are added: each
pupil's 32 nearest at a flow's first such check, twice as many at each check after it (up to
256), so that a dense territory needs a few checks (Ile-de-France at scale 1, measured before
the ceiling: 9, then 2 for the bound's second flow). A capped row is short already: it is
loaded whole from the start. The two flows of the shared-pupil bound share what the checks
found (`_Beyond.found`): the second starts from the first's pairs beyond the rows.
Where the rows may miss a pupil's mutualised pairs, the bounds give the pupil every pair one
of whose offers it reaches (more arcs: still a bound), and never close a pair such a pupil
might join.

Length: the relaxations, the closed pairs and the two cut checks (against the pairs in
memory, and against the pairs a capped reach leaves out) share one network machinery; apart,
each would rebuild it and the proof would be spread over several files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
from ortools.graph.python import max_flow

from affectation.domain.instance import Instance
from affectation.engine.candidates import (
    OfferRoles,
    PairOption,
    allowed_pairs,
    extensions,
    offer_roles,
    pair_options,
    rank_within_student,
    usable,
)
from affectation.travel.reach import Reach, pairs_beyond, sorted_unique

INITIAL_ARCS_PER_PUPIL = 24
# With a seed (the arcs of a related flow) far fewer nearest arcs are needed to start.
SEEDED_ARCS_PER_PUPIL = 8
MAX_ROUNDS = 30
ARCS_ADDED_PER_ROUND = 4
# Each round adds this many times more crossing arcs per pupil than the round before: the cut
# moves in O(log(row length)) rounds instead of O(row length / 4), and the network loads only
# what the cut needs (a profile with large offers in towns needed 31 rounds ending on every
# arc with a constant 4: 11 rounds and 1.1 M arcs instead).
ARCS_GROWTH = 2
# Pairs beyond a capped reach's rows added per pupil at the first round that checks them
# (nearest first), times `ARCS_GROWTH` at each such round after it: a dense capped block
# (Ile-de-France at national scale 1: 25 M pairs beyond its rows crossed a cut) otherwise takes
# many checks of 32, each enumerating the pairs again and solving a flow of 40-60 M arcs.
ARCS_BEYOND_PER_ROUND = 32
# ... up to this many, so that one check never adds thousands of arcs a pupil. (The national
# bound at scale 1 ends at 135 M arcs with it, 142 M without; 17.1 against 17.4 GB: those arcs
# are what its cut needs.)
ARCS_BEYOND_MAX_PER_ROUND = 256


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


@dataclass(frozen=True, eq=False)
class _Family:
    """Arcs of a network that a capped reach may leave out: pupil `s` reaching offer `o`
    beyond its row gives the arc `pupil_node[s] -> offer_node[o]` (`offer_node[o] ->
    pupil_node[s]` when `into_pupil`); -1 where a pupil or an offer has no such arc."""

    pupil_node: np.ndarray
    offer_node: np.ndarray
    into_pupil: bool
    # What the arcs are ("single", "week0", "week1", "pair0", "pair1"), the same in every
    # network of a bound: the pairs one flow found beyond the rows are loaded from the start
    # of the next flow of the same `_Beyond` ("": never shared).
    kind: str = ""


@dataclass(frozen=True, eq=False)
class _Beyond:
    """The reachable pairs a capped reach leaves out, as the bounds check their cuts against
    them: usable by the pupil, and not at an offer of a pair that never opens (`closed`)."""

    instance: Instance
    reach: Reach
    closed: np.ndarray
    # Pairs (pupil, offer) found crossing a cut so far, by family kind (see `_Family`).
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def known(self, families: tuple[_Family, ...], n_nodes: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """The arcs of `families` (a network of `n_nodes`) for the pairs earlier flows found
        beyond the rows (each a real arc of the network: a reachable pair, usable, at an
        open offer)."""
        tails, heads = [], []
        for fam in families:
            for s, o in self.found.get(fam.kind, []) if fam.kind else []:
                pn, on = fam.pupil_node[s], fam.offer_node[o]
                ok = (pn >= 0) & (on >= 0)
                pn, on = pn[ok], on[ok]
                tails.append(on if fam.into_pupil else pn)
                heads.append(pn if fam.into_pupil else on)
        if not tails:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        # One arc per (tail, head): the flows of a bound may have found the same pair.
        key = sorted_unique(np.concatenate(tails) * n_nodes + np.concatenate(heads))
        return key // n_nodes, key % n_nodes

    def crossing(self, families: tuple[_Family, ...], side: np.ndarray,
                 added: _Loaded, per_pupil: int = ARCS_BEYOND_PER_ROUND
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Arcs of `families` from the source side (`side`) to the sink side that are not
        among `added`, each pupil's `per_pupil` nearest per family."""
        tails, heads = [], []
        for fam in families:
            has_p, has_o = fam.pupil_node >= 0, fam.offer_node >= 0
            if has_p.any() and has_o.any() \
                    and fam.pupil_node[has_p].min() <= fam.offer_node[has_o].max():
                raise ValueError("pupil nodes must come after offer nodes (see _Loaded)")
            p_side = side[np.maximum(fam.pupil_node, 0)]
            o_side = side[np.maximum(fam.offer_node, 0)]
            if fam.into_pupil:
                pupils, offers = has_p & ~p_side, has_o & o_side
            else:
                pupils, offers = has_p & p_side, has_o & ~o_side
            if not pupils.any() or not offers.any():
                continue
            def wanted(s: np.ndarray, o: np.ndarray, fam: _Family = fam) -> np.ndarray:
                ok = usable(self.instance, s, o) & ~self.closed[o]
                idx = np.flatnonzero(ok)
                fresh = np.empty(len(idx), dtype=bool)
                _not_loaded(fam.pupil_node[s[idx]], fam.offer_node[o[idx]], added.indptr,
                            added.offer, fresh)
                ok[idx] = fresh
                return ok

            s, o, _ = pairs_beyond(self.instance, self.reach, pupils, offers,
                                   per_pupil=per_pupil, keep=wanted)
            if fam.kind and len(s):
                # int32: the national bound keeps over 100 M of them for its second flow.
                self.found.setdefault(fam.kind, []).append((s.astype(np.int32),
                                                            o.astype(np.int32)))
            pn, on = fam.pupil_node[s], fam.offer_node[o]
            tails.append(on if fam.into_pupil else pn)
            heads.append(pn if fam.into_pupil else on)
        if not tails:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(tails), np.concatenate(heads)


@dataclass(frozen=True, eq=False)
class _Loaded:
    """The arcs beyond the rows loaded so far, by pupil node (a CSR over the nodes): the offer
    nodes of pupil node p are `offer[indptr[p]:indptr[p + 1]]`, sorted.

    Every such arc joins a pupil node and an offer node, and the pupil layers come after
    every offer layer in each network of this module: the larger end is the pupil. A check
    asks, for each pair it enumerates, whether its arc is loaded: a binary search within the
    pupil's few loaded arcs (a search in one sorted array of 100 M keys, the national bound's,
    took 100 s of its checks in cache misses)."""

    indptr: np.ndarray
    offer: np.ndarray


def _loaded_by_pupil(tails: np.ndarray, heads: np.ndarray, n_nodes: int) -> _Loaded:
    key = np.maximum(tails, heads).astype(np.int64)
    key *= n_nodes
    key += np.minimum(tails, heads)
    key.sort()
    indptr = np.searchsorted(key, np.arange(n_nodes + 1, dtype=np.int64) * n_nodes)
    return _Loaded(indptr=indptr.astype(np.int64), offer=(key % n_nodes).astype(np.int32))


@numba.njit(cache=True)
def _not_loaded(pupil: np.ndarray, offer: np.ndarray, indptr: np.ndarray,
                loaded: np.ndarray, out: np.ndarray) -> None:
    """out[i]: the arc between pupil node `pupil[i]` and offer node `offer[i]` is not among
    the loaded ones (`_Loaded`)."""
    for i in range(len(pupil)):
        end = indptr[pupil[i] + 1]
        lo, hi = indptr[pupil[i]], end
        x = offer[i]
        while lo < hi:
            mid = (lo + hi) >> 1
            if loaded[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        out[i] = not (lo < end and loaded[lo] == x)


def _beyond(instance: Instance, reach: Reach, closed: np.ndarray | None = None
            ) -> _Beyond | None:
    """The omitted pairs of a capped reach (None when every row is whole)."""
    if not reach.any_capped:
        return None
    if closed is None:
        closed = np.zeros(instance.offers.n, dtype=bool)
    return _Beyond(instance, reach, closed)


def _nodes(mask: np.ndarray, first: int | np.ndarray) -> np.ndarray:
    """Node `first + i` of each masked index i (or `first[i]` when an array), else -1."""
    if isinstance(first, np.ndarray):
        node = first
    else:
        node = int(first) + np.arange(len(mask), dtype=np.int64)
    return np.where(mask, node, -1).astype(np.int64)


# Node indices as OR-Tools takes them: int64 arrays would be copied to int32 at every flow, and
# the national bound's arcs (135 M at scale 1) take half the memory as int32.
NODE = np.int32


def max_flow_cut(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, n_nodes: int,
                  source: int = 0, sink: int = 1) -> tuple[int, np.ndarray]:
    """The max flow's value and its minimum cut's source side (a mask over the nodes).

    The solver object (about 63 bytes an arc once solved) is freed on return, before the
    caller checks the cut against the omitted arcs or builds the next network: holding it
    through both put the national bound over 16 GB at scale 1, beside a block's solve."""
    if n_nodes >= np.iinfo(NODE).max:
        raise ValueError(f"too many nodes for a max flow: {n_nodes}")
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(np.asarray(tails, dtype=NODE), np.asarray(heads, dtype=NODE),
                                np.asarray(caps, dtype=np.int64))
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:
        raise RuntimeError(f"max flow failed with status {status}")
    side = np.zeros(n_nodes, dtype=bool)
    side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
    side[source] = True  # also when no arc leaves it (OR-Tools then knows no such node)
    return int(flow.optimal_flow()), side


def _certified_max_flow(net: _Network, source: int = 0, sink: int = 1,
                        seed: np.ndarray | None = None, beyond: _Beyond | None = None,
                        families: tuple[_Family, ...] = ()) -> tuple[Bound, np.ndarray]:
    """The max flow of the full network, proven by a cut; also the optional arcs it loaded.

    `seed` marks optional arcs to load from the start (arcs of a related flow). With
    `beyond`, the arcs of `families` that a capped reach left out are checked too (and added
    when they cross the cut)."""
    if seed is None:
        chosen = net.opt_rank < INITIAL_ARCS_PER_PUPIL
    else:
        chosen = (net.opt_rank < SEEDED_ARCS_PER_PUPIL) | seed
    rounds = checks = 0
    added = ARCS_ADDED_PER_ROUND
    extra_t = extra_h = np.zeros(0, dtype=NODE)
    while True:
        rounds += 1
        t = np.concatenate([net.tails, net.opt_tails[chosen], extra_t]).astype(NODE)
        h = np.concatenate([net.heads, net.opt_heads[chosen], extra_h]).astype(NODE)
        c = np.concatenate([net.caps, np.ones(int(chosen.sum()) + len(extra_t),
                                              dtype=np.int64)])
        value, side = max_flow_cut(t, h, c, net.n_nodes, source, sink)
        n_arcs = len(t)
        del t, h, c
        crossing = ~chosen & side[net.opt_tails] & ~side[net.opt_heads]
        if not crossing.any():
            bt, bh = _crossing_beyond(beyond, families, side, extra_t, extra_h, net.n_nodes,
                                      checks)
            checks += 1
            if len(bt):
                extra_t = np.concatenate([extra_t, bt.astype(NODE)])
                extra_h = np.concatenate([extra_h, bh.astype(NODE)])
                continue
            return Bound(value=value, rounds=rounds, arcs=n_arcs), chosen
        if rounds >= MAX_ROUNDS:
            chosen = np.ones_like(chosen)
            continue
        # Add each pupil's few nearest crossing arcs only: enough to move the cut, while the
        # network stays small (adding every crossing arc makes it several times larger).
        idx = np.flatnonzero(crossing)
        rank = rank_within_student(net.opt_pupil[idx])
        chosen[idx[rank < added]] = True
        added *= ARCS_GROWTH


def _crossing_beyond(beyond: _Beyond | None, families: tuple[_Family, ...], side: np.ndarray,
                     extra_t: np.ndarray, extra_h: np.ndarray, n_nodes: int,
                     checks: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The arcs a capped reach left out that cross the cut `side` and are not loaded yet
    (`extra_t`, `extra_h`), each pupil's nearest `ARCS_BEYOND_PER_ROUND * ARCS_GROWTH **
    checks` per family (`checks`: how many such checks came before), at most
    `ARCS_BEYOND_MAX_PER_ROUND`; empty when the reach is whole."""
    if beyond is None or not families:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    per_pupil = min(ARCS_BEYOND_PER_ROUND * ARCS_GROWTH ** checks, ARCS_BEYOND_MAX_PER_ROUND)
    return beyond.crossing(families, side, _loaded_by_pupil(extra_t, extra_h, n_nodes),
                           per_pupil)


def _pupil_arcs(reach: Reach, mask: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(student, offer, rank by travel within the student, reach index) of masked pairs."""
    idx = np.flatnonzero(mask)
    student = reach.student_of_pair()[idx].astype(np.int64)
    return student, reach.offer[idx].astype(np.int64), rank_within_student(student), idx


def three_layer_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                      student_mask: np.ndarray, beyond: _Beyond | None = None
                      ) -> tuple[Bound, FlowArcs]:
    """Max flow of the three-layer network (see the module docstring), and its arcs.

    Nodes are only the masked pupils and the offers they have an arc to (the others carry no
    flow), so that the flow of a small group of pupils stays small; with a capped reach
    (`beyond`: by default every usable pair left out of the rows), every open offer.
    """
    if beyond is None:
        beyond = _beyond(instance, reach)
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
    capped = beyond is not None and bool((reach.capped & student_mask).any())
    if capped:
        used |= open_w.any(axis=1)
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
    families: tuple[_Family, ...] = ()
    if capped:
        families = tuple(
            _Family(_nodes(student_mask & (fixed[:, w] < 0), (p_in if w == 0 else p_out)
                           + pupil_node),
                    _nodes(used & open_w[:, w], (o1 if w == 0 else o2) + offer_node),
                    into_pupil=w == 0)
            for w in (0, 1))
    bound, chosen = _certified_max_flow(net, beyond=beyond, families=families)
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


def _capped_paired_pairs(instance: Instance, reach: Reach, allowed: np.ndarray,
                         pupils: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(paired offer, pupil) of the allowed pairs in the rows of the masked pupils."""
    keep = allowed & pupils[reach.student_of_pair()] & (instance.offers.pair[reach.offer] >= 0)
    return (reach.offer[keep].astype(np.int64),
            reach.student_of_pair()[keep].astype(np.int64))


def shared_pupil_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                       roles: OfferRoles, student_mask: np.ndarray,
                       seed: np.ndarray | None = None, entry_week: int = 0,
                       beyond: _Beyond | None = None) -> tuple[Bound, FlowArcs, np.ndarray]:
    """One flow in which the families share each pupil's unit (roles disjoint).

    source -> stay offer of the entry week -> pupil -> stay offer of the other week -> sink
    carries splits; source -> pupil -> two-week offer, or pair direction -> sink carries
    singles and pairs. Every allocation is such a flow (a pupil is in one family at most), so
    its maximum bounds `placed_full`. Its only slack is a pupil entering as a single and
    leaving through a one-week stay of the exit week: computed with either week as the
    entry, the smaller value is the tighter bound.

    The optional arcs (a pupil's reachable offers of each role) are the reachable pairs
    themselves, in the order of `reach` (`_PairRoles`); `seed` (a mask over the pairs, e.g. the
    arcs the other entry week loaded) is loaded from the start. Returns the bound, the arcs
    it loaded by role, and that mask. `beyond`: the pairs a capped reach leaves out (see the
    module docstring).
    """
    a, b = entry_week, 1 - entry_week
    st, of = instance.students, instance.offers
    fixed = instance.fixed
    pairs = instance.pairs
    n_s, n_o = st.n, of.n
    free_both, signed_both, half = instance.signed_groups(student_mask)
    rem = np.maximum(instance.seats_left_by_conventions(), 0)
    info = _pair_roles(instance, reach, allowed, roles)
    # Nodes: source 0, sink 1, entry-week offers, exit-week offers, singles offers, pair
    # directions, pupils in, pupils out.
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
    options = info.options
    capped = (reach.capped & student_mask) if beyond is not None else np.zeros(n_s, bool)
    # A capped pupil may have single or pair options beyond its row.
    has_bipartite = info.has_bipartite | capped
    entry = np.flatnonzero((free_both & has_bipartite) | (half & (fixed[:, a] >= 0)))
    leave = np.flatnonzero(half & (fixed[:, b] >= 0))
    t += [np.zeros(len(entry), dtype=np.int64), p_out + leave]
    h += [p_in + entry, np.ones(len(leave), dtype=np.int64)]
    c += [np.ones(len(entry), dtype=np.int64), np.ones(len(leave), dtype=np.int64)]
    ext = info.extension
    pupil = np.flatnonzero(half & (ext >= 0))
    exit_missing = fixed[pupil, a] >= 0
    # The signed offer extended to the missing week: a one-week seat of that week.
    t.append(np.where(exit_missing, p_out + pupil, o1 + ext[pupil]))
    h.append(np.where(exit_missing, o2 + ext[pupil], p_in + pupil))
    c.append(np.ones(len(pupil), dtype=np.int64))
    keep = free_both[options.student] & ~capped[options.student]
    t.append(p_out + options.student[keep])
    h.append(dn + 2 * options.pair[keep] + options.direction[keep])
    c.append(np.ones(int(keep.sum()), dtype=np.int64))
    # A capped pupil: both directions of every pair one of whose offers it reaches.
    cx, cs = _capped_paired_pairs(instance, reach, allowed, free_both & capped)
    cpair = sorted_unique(cs * max(pairs.n, 1) + of.pair[cx]) if len(cx) else cx
    for direction in (0, 1):
        t.append(p_out + cpair // max(pairs.n, 1))
        h.append(dn + 2 * (cpair % max(pairs.n, 1)) + direction)
        c.append(np.ones(len(cpair), dtype=np.int64))
    # Optional arcs by role (1 single, 2 week-1 stay, 3 week-2 stay): tail and head are
    # base + pupil or base + offer (`_RoleNodes`).
    on_pupil = np.array([False, True, a == 1, a == 0])
    t_base = np.array([0, p_out, p_out if a == 1 else o1, p_out if a == 0 else o1])
    h_base = np.array([0, o0, o2 if a == 1 else p_in, o2 if a == 0 else p_in])
    nodes = _RoleNodes(on_pupil, t_base, h_base)
    fixed_net = (np.concatenate(t), np.concatenate(h), np.concatenate(c))
    families: tuple[_Family, ...] = ()
    if capped.any():
        offers_all = np.arange(n_o, dtype=np.int64)
        paired_offer = of.pair >= 0
        families = (
            _Family(_nodes(free_both & capped, p_out), _nodes(roles.single, o0),
                    into_pupil=False, kind="single"),
            _Family(_nodes((free_both | half) & (fixed[:, a] < 0) & capped, p_in),
                    _nodes(roles.week[a], o1), into_pupil=True, kind=f"week{a}"),
            _Family(_nodes((free_both | half) & (fixed[:, b] < 0) & capped, p_out),
                    _nodes(roles.week[b], o2), into_pupil=False, kind=f"week{b}"),
            *(_Family(_nodes(free_both & capped, p_out),
                      _nodes(paired_offer, dn + 2 * of.pair[offers_all] + direction),
                      into_pupil=False, kind=f"pair{direction}") for direction in (0, 1)),
        )
    bound, chosen = _certified_role_flow(info, reach, nodes, fixed_net, p_out + n_s,
                                         student_mask, seed, beyond, families)
    arcs = FlowArcs(*(np.flatnonzero(chosen & (info.role == r)) for r in (1, 2, 3)))
    value = bound.value + int(signed_both.sum())
    return Bound(value=value, rounds=bound.rounds, arcs=bound.arcs), arcs, chosen


@dataclass(frozen=True, eq=False)
class _RoleNodes:
    """Where the optional arc of a pair of role r goes: tail = t_base[r] + (pupil if
    on_pupil[r] else offer), head = h_base[r] + (offer if on_pupil[r] else pupil)."""

    on_pupil: np.ndarray
    t_base: np.ndarray
    h_base: np.ndarray

    def ends(self, pupil: np.ndarray, offer: np.ndarray, role: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        on = self.on_pupil[role]
        tails = self.t_base[role] + np.where(on, pupil, offer)
        heads = self.h_base[role] + np.where(on, offer, pupil)
        return tails, heads


@dataclass(frozen=True, eq=False)
class _PairRoles:
    """Per reachable pair, the role the pupil could use it in (0 none, 1 single, 2 week-1
    stay, 3 week-2 stay; roles are disjoint when two-week offers are not split) and its rank
    among the pupil's pairs of that role (by travel); plus the pupils' pair options, whether
    they have a single or pair option, and the extensions of a signed week."""

    role: np.ndarray
    rank: np.ndarray
    options: PairOption
    has_bipartite: np.ndarray
    extension: np.ndarray


def _pair_roles(instance: Instance, reach: Reach, allowed: np.ndarray,
                roles: OfferRoles) -> _PairRoles:
    """`_PairRoles` of the pupils to place, computed once per `allowed` mask (cached on it)."""
    key = id(allowed)
    cached = reach.__dict__.get("_pair_roles")
    if cached is not None and cached[0] == key and cached[1] is allowed:
        result: _PairRoles = cached[2]
        return result
    st = instance.students
    fixed = instance.fixed
    free_both, _, half = instance.signed_groups(st.to_place)
    needs = [(free_both | half) & (fixed[:, w] < 0) for w in (0, 1)]
    code = (roles.single.astype(np.int8) + 2 * roles.week1.astype(np.int8)
            + 3 * roles.week2.astype(np.int8))
    # The pupil conditions of each role, per pupil: a lookup [role, pupil] -> usable.
    pupil_ok = np.stack([np.zeros(st.n, dtype=bool), free_both, needs[0], needs[1]])
    role = np.zeros(reach.n_pairs, dtype=np.int8)
    _roles_of_pairs(reach.indptr, reach.offer, allowed, code, pupil_ok, role)
    rank = _rank_in_role(reach.indptr, role)
    options = pair_options(instance, reach, allowed)
    has_bipartite = np.zeros(st.n, dtype=bool)
    _any_role(reach.indptr, role, 1, has_bipartite)
    has_bipartite[options.student] = True
    info = _PairRoles(role, rank, options, has_bipartite, extensions(instance, reach))
    reach.__dict__["_pair_roles"] = (key, allowed, info)
    return info


@numba.njit(cache=True)
def _roles_of_pairs(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                    code: np.ndarray, pupil_ok: np.ndarray, out: np.ndarray) -> None:
    for p in range(len(indptr) - 1):
        for i in range(indptr[p], indptr[p + 1]):
            if allowed[i]:
                r = code[offer[i]]
                if r > 0 and pupil_ok[r, p]:
                    out[i] = r


@numba.njit(cache=True)
def _rank_in_role(indptr: np.ndarray, role: np.ndarray) -> np.ndarray:
    rank = np.zeros(len(role), dtype=np.int32)
    seen = np.zeros(4, dtype=np.int32)
    for p in range(len(indptr) - 1):
        seen[:] = 0
        for i in range(indptr[p], indptr[p + 1]):
            r = role[i]
            rank[i] = seen[r]
            seen[r] += 1
    return rank


@numba.njit(cache=True)
def _any_role(indptr: np.ndarray, role: np.ndarray, r: int, out: np.ndarray) -> None:
    for p in range(len(indptr) - 1):
        for i in range(indptr[p], indptr[p + 1]):
            if role[i] == r:
                out[p] = True
                break


@numba.njit(cache=True)
def _first_arcs(indptr: np.ndarray, role: np.ndarray, rank: np.ndarray, mask: np.ndarray,
                limit: int, chosen: np.ndarray) -> None:
    """Loads each masked pupil's `limit` nearest pairs of each role."""
    for p in range(len(indptr) - 1):
        if mask[p]:
            for i in range(indptr[p], indptr[p + 1]):
                if role[i] > 0 and rank[i] < limit:
                    chosen[i] = True


@numba.njit(cache=True)
def _add_crossing(indptr: np.ndarray, offer: np.ndarray, role: np.ndarray, mask: np.ndarray,
                  on_pupil: np.ndarray, t_base: np.ndarray, h_base: np.ndarray,
                  side: np.ndarray, added: int, chosen: np.ndarray) -> int:
    """Loads each masked pupil's `added` nearest optional arcs that cross the cut `side`
    (tail on the source side, head not); returns how many were loaded (0: the cut is
    certified for the full network)."""
    total = 0
    for p in range(len(indptr) - 1):
        if not mask[p]:
            continue
        taken = 0
        for i in range(indptr[p], indptr[p + 1]):
            r = role[i]
            if r == 0 or chosen[i]:
                continue
            if on_pupil[r]:
                t, h = t_base[r] + p, h_base[r] + offer[i]
            else:
                t, h = t_base[r] + offer[i], h_base[r] + p
            if side[t] and not side[h]:
                chosen[i] = True
                taken += 1
                total += 1
                if taken >= added:
                    break
    return total


def _certified_role_flow(info: _PairRoles, reach: Reach, nodes: _RoleNodes,
                         fixed_net: tuple[np.ndarray, np.ndarray, np.ndarray], n_nodes: int,
                         mask: np.ndarray, seed: np.ndarray | None,
                         beyond: _Beyond | None = None, families: tuple[_Family, ...] = ()
                         ) -> tuple[Bound, np.ndarray]:
    """`_certified_max_flow` whose optional arcs are reachable pairs by role (compiled
    selection over the pairs, no per-arc arrays); returns the bound and the loaded pairs.
    With `beyond`, the arcs of `families` that a capped reach left out are checked too (and
    added when they cross the cut)."""
    chosen = np.zeros(reach.n_pairs, dtype=bool) if seed is None else seed.copy()
    limit = INITIAL_ARCS_PER_PUPIL if seed is None else SEEDED_ARCS_PER_PUPIL
    if beyond is not None and families:
        # Capped rows are short already (a pupil's nearest offers): loading them whole costs
        # one larger flow where growing them took up to `MAX_ROUNDS` (Ile-de-France at
        # national scale 1: 28 rounds of 3-5 s each, then every arc at round 30 anyway).
        limit = reach.n_pairs
    mask = np.ascontiguousarray(mask)
    _first_arcs(reach.indptr, info.role, info.rank, mask, limit, chosen)
    pupil_of = reach.student_of_pair()
    ft, fh, fc = fixed_net
    rounds = checks = 0
    added = ARCS_ADDED_PER_ROUND
    # The loaded arcs' ends, extended each round by the arcs just loaded only.
    t_all, h_all = ft.astype(NODE), fh.astype(NODE)
    loaded = np.zeros(reach.n_pairs, dtype=bool)
    # Arcs beyond a capped reach's rows, loaded once they crossed a cut (of this flow, or of
    # an earlier flow of the same bound).
    extra_t = extra_h = np.zeros(0, dtype=NODE)
    if beyond is not None and families:
        known_t, known_h = beyond.known(families, n_nodes)
        extra_t, extra_h = known_t.astype(NODE), known_h.astype(NODE)
    beyond_t, beyond_h = extra_t, extra_h
    while True:
        rounds += 1
        new_idx = np.flatnonzero(chosen & ~loaded)
        loaded |= chosen
        t_new, h_new = nodes.ends(pupil_of[new_idx].astype(np.int64),
                                  reach.offer[new_idx].astype(np.int64), info.role[new_idx])
        t_all = np.concatenate([t_all, t_new.astype(NODE), beyond_t])
        h_all = np.concatenate([h_all, h_new.astype(NODE), beyond_h])
        del t_new, h_new
        beyond_t = beyond_h = extra_t[:0]
        value, side = max_flow_cut(
            t_all, h_all, np.r_[fc, np.ones(len(t_all) - len(fc), dtype=np.int64)], n_nodes)
        new = _add_crossing(reach.indptr, reach.offer, info.role, mask, nodes.on_pupil,
                            nodes.t_base, nodes.h_base, side, added, chosen)
        if new == 0:
            beyond_t, beyond_h = _crossing_beyond(beyond, families, side, extra_t, extra_h,
                                                  n_nodes, checks)
            checks += 1
            if len(beyond_t):
                beyond_t, beyond_h = beyond_t.astype(NODE), beyond_h.astype(NODE)
                extra_t = np.concatenate([extra_t, beyond_t])
                extra_h = np.concatenate([extra_h, beyond_h])
                continue
            return Bound(value=value, rounds=rounds, arcs=len(t_all)), chosen
        if rounds >= MAX_ROUNDS:  # every arc: the next round is the last
            _first_arcs(reach.indptr, info.role, info.rank, mask, reach.n_pairs, chosen)
        added *= ARCS_GROWTH


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
    n_s = instance.students.n
    joined = options.pair[keep] * n_s + options.student[keep]
    capped = free_both & reach.capped if reach.capped is not None else None
    if capped is not None and capped.any():
        # A capped pupil might join any pair one of whose offers it reaches (in its row, or
        # beyond it: asked only for the pairs that would close otherwise).
        cx, cs = _capped_paired_pairs(instance, reach, allowed, capped)
        joined = np.r_[joined, of.pair[cx] * n_s + cs]
        dead = _dead_pairs(instance, seats, sorted_unique(joined))
        if dead.any():
            at_dead = np.zeros(of.n, dtype=bool)
            at_dead[pairs.offers[dead].ravel()] = True
            bs, bo, _ = pairs_beyond(instance, reach, capped, at_dead)
            ok = usable(instance, bs, bo)
            joined = np.r_[joined, of.pair[bo[ok]] * n_s + bs[ok]]
    dead = _dead_pairs(instance, seats, sorted_unique(joined))
    closed[pairs.offers[dead].ravel()] = True
    return closed


def _dead_pairs(instance: Instance, seats: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """Pairs with a minimum group that their seats or their possible joiners (`joined`:
    unique `pair * students + pupil`) cannot reach, and no signed week."""
    pairs, of = instance.pairs, instance.offers
    joiners = np.bincount(joined // instance.students.n, minlength=pairs.n)
    signed = np.zeros(pairs.n, dtype=bool)
    signed_pair = of.pair[instance.conventions.offer]
    signed[signed_pair[signed_pair >= 0]] = True
    return (pairs.min_group > 0) & (np.minimum(seats, joiners) < pairs.min_group) & ~signed


def open_allowed(instance: Instance, reach: Reach, allowed: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """`allowed` without the offers of pairs that never open (`closed_pair_offers`), and
    those offers, computed once per mask (cached on `reach`, read-only), so that the flows of
    every bound share them."""
    hit = reach.__dict__.get("_open_allowed")
    if hit is not None and hit[0] is allowed and hit[1] is instance:
        found: tuple[np.ndarray, np.ndarray] = hit[2]
        return found
    closed = closed_pair_offers(instance, reach, allowed)
    closed.setflags(write=False)
    out = allowed
    if closed.any():
        out = allowed & ~closed[reach.offer]
        out.setflags(write=False)
    reach.__dict__["_open_allowed"] = (allowed, instance, (out, closed))
    return out, closed


def full_placement_bound(instance: Instance, reach: Reach, allowed: np.ndarray,
                         roles: OfferRoles, student_mask: np.ndarray | None = None,
                         three_layer: bool = False) -> tuple[Bound, FlowArcs]:
    """The best proven upper bound on pupils (of `student_mask`) placed for both weeks.

    Also returns the arcs the flows loaded, for the solver's candidates. With disjoint roles
    (two-week offers not split): the shared-pupil bound with either week as the entry (the
    second flow starts from the arcs the first loaded), and the three-layer bound when
    `three_layer` (slower, rarely tighter). The family-by-family bound computed before
    (a sum of three flows, each pupil counted in every family) never beat the shared-pupil
    bound on any instance profile measured, and cost three more flows: it is gone.
    """
    if student_mask is None:
        student_mask = instance.students.to_place
    allowed, closed = open_allowed(instance, reach, allowed)
    beyond = _beyond(instance, reach, closed)
    if instance.scenario.rules.split_two_week_offers:
        bound, arcs = three_layer_bound(instance, reach, allowed, student_mask, beyond)
    else:
        first, _, loaded = shared_pupil_bound(instance, reach, allowed, roles, student_mask,
                                              None, 0, beyond)
        second, _, loaded = shared_pupil_bound(instance, reach, allowed, roles, student_mask,
                                               loaded, 1, beyond)
        info = _pair_roles(instance, reach, allowed, roles)
        # The second flow loaded the first's arcs too: its arcs are their union.
        arcs = FlowArcs(*(np.flatnonzero(loaded & (info.role == r)) for r in (1, 2, 3)))
        bound = first if first.value <= second.value else second
        bound = Bound(bound.value, first.rounds + second.rounds, max(first.arcs, second.arcs))
        if three_layer:
            other = three_layer_bound(instance, reach, allowed, student_mask, beyond)[0]
            if other.value < bound.value:
                bound = Bound(other.value, bound.rounds + other.rounds, bound.arcs)
    # No bound exceeds the pupils themselves.
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
    # One compiled pass over the pupils' rows (no arrays of the reachable pairs' size).
    single = np.zeros(st.n, dtype=bool)
    stay = np.zeros((st.n, 2), dtype=bool)
    _usable_roles(reach.indptr, reach.offer, allowed, roles.single & rem.all(axis=1),
                  roles.week[0] & rem[:, 0], roles.week[1] & rem[:, 1], single, stay)
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
    can = (signed_both | (free_both & (single | stay.all(axis=1) | paired))
           | (half & completes))
    if reach.capped is not None:
        # A capped pupil reaches more than its row shows: counted as placeable (a superset).
        can |= reach.capped & st.to_place
    return can


@numba.njit(cache=True)
def _usable_roles(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                  single_ok: np.ndarray, week1_ok: np.ndarray, week2_ok: np.ndarray,
                  single: np.ndarray, stay: np.ndarray) -> None:
    """Per pupil: some allowed pair of its row at an offer of each role (single, week-1 stay,
    week-2 stay) with a seat left. A row is read until all three are found (most pupils find
    them among their nearest offers)."""
    for p in range(len(indptr) - 1):
        for i in range(indptr[p], indptr[p + 1]):
            if allowed[i]:
                o = offer[i]
                if single_ok[o]:
                    single[p] = True
                if week1_ok[o]:
                    stay[p, 0] = True
                if week2_ok[o]:
                    stay[p, 1] = True
                if single[p] and stay[p, 0] and stay[p, 1]:
                    break


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
