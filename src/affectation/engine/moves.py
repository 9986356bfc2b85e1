"""Chains of moves that place one more pupil, keeping every placed pupil placed.

A pupil not placed for both weeks takes an offer whose seat is freed by a chain of moves:
each holder along the chain moves to another offer of the same kind (two weeks at one offer,
or a one-week stay of the same week) within their reach, the last one to a free seat
(`chains.move_chains`: fewest moves first, up to `chains.MAX_MOVES`). With `convert`, the
last holder of a chain of singles may instead turn into a split (on stays freed by chains of
their own) or join an open mutualised pair with a seat in both of its weeks. Nobody loses a
week, signed weeks and pairs never move. Used by `repair` (step 3, pupils displaced by the
changes first) and by `solve` after the polish, for the exchanges longer than one move that
the flows and the neighbourhoods miss.

Chains are searched on the allocation of the moment and re-checked before use (moves made
for a pupil may make another's chain stale); a pupil whose chains all went stale waits for
the next pass, which searches again. The number of passes is a work budget, not a clock:
the result never depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from affectation.domain.allocation import pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.budget import Deadline
from affectation.engine.candidates import OfferRoles, PairOption, allowed_pairs, pair_options
from affectation.engine.chains import (
    BOTH,
    WEEK1,
    WEEK2,
    Chains,
    Layer,
    LayerOptions,
    layer_options,
    layer_state,
    move_chains,
)
from affectation.travel.reach import Reach

# Offers (fewest moves first) whose chains are checked for one pupil before waiting for a
# fresh search.
TRIED_OFFERS = 20
# The singles' chains that may also end at an offer freed by a holder turning into a split.
CONVERT = "convert"

# A step of a plan: (pupil, layer, offer the pupil takes in the layer's weeks, moves first).
Step = tuple[int, str, int, tuple[tuple[int, int], ...]]


class _MoveState:
    """Layers and chains of the allocation being improved, recomputed only when needed: the
    chains may be stale (computed before some moves), so each is checked before use."""

    def __init__(self, instance: Instance, reach: Reach, roles: OfferRoles,
                 allocation: np.ndarray) -> None:
        self.instance, self.reach, self.roles, self.allocation = instance, reach, roles, allocation
        self.states: dict[str, Layer] = {}
        self.chains: dict[str, Chains] = {}
        # Each layer's holders at the start, with their options (read once): pupils placed
        # by this step do not move again.
        self.options: dict[str, LayerOptions] = {}
        self._stay_pairs: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._convertible: np.ndarray | None = None
        self._pair_options: PairOption | None = None
        self._joinable: np.ndarray | None = None

    def state(self, layer: str) -> Layer:
        key = BOTH if layer == CONVERT else layer  # the same layer, other chains
        if key not in self.states:
            self.states[key] = layer_state(self.instance, self.roles, self.allocation, key)
        return self.states[key]

    def chain_set(self, layer: str) -> Chains:
        key = BOTH if layer == CONVERT else layer
        if key not in self.options:
            state = self.state(key)
            self.options[key] = layer_options(self.reach, state, state.movable)
        if layer not in self.chains:
            extra = self.convertible() if layer == CONVERT else None
            self.chains[layer] = move_chains(self.instance, self.reach, self.roles, self.allocation,
                                             key, options=self.options[key], extra_free=extra)
        return self.chains[layer]

    def convertible(self) -> np.ndarray:
        """Per offer: no seat free in both weeks, but a holder whose single could become a
        split on a week-1 and a week-2 stay that chains of each week's layer free (an upper
        estimate: `conversion` checks the chains)."""
        if self._convertible is not None:  # once per pass (`searched_again`)
            return self._convertible
        both = self.state(BOTH)
        if self._stay_pairs is None:
            # The allowed pairs of the singles at the start to each week's stays, read once
            # (the roles are disjoint: a stay is never the single's own offer).
            pupil_of = self.reach.student_of_pair()
            allowed = allowed_pairs(self.instance, self.reach) & both.movable[pupil_of]
            self._stay_pairs = []
            for role in (self.roles.week1, self.roles.week2):
                idx = np.flatnonzero(allowed & role[self.reach.offer])
                self._stay_pairs.append((pupil_of[idx], self.reach.offer[idx]))
        n = self.instance.students.n
        can = both.movable.copy()
        for layer, (pupil, offer) in zip((WEEK1, WEEK2), self._stay_pairs, strict=True):
            dist = self.chain_set(layer).dist
            can &= np.bincount(pupil[dist[offer] >= 0], minlength=n) > 0
        options = self.pair_options()
        joins = np.flatnonzero(self.joinable() & both.movable[options.student])
        can[options.student[joins]] = True
        out = np.zeros(self.instance.offers.n, dtype=bool)
        out[both.holds[can]] = True
        self._convertible = out & ~both.free
        return self._convertible

    def pair_options(self) -> PairOption:
        """Every pupil's (pair, direction) options, by pupil (read once)."""
        if self._pair_options is None:
            self._pair_options = pair_options(self.instance, self.reach,
                                              allowed_pairs(self.instance, self.reach))
        return self._pair_options

    def joinable(self) -> np.ndarray:
        """Per pair option: a seat free in both of its weeks, and the pair, with one more
        pupil, at its minimum group (under the allocation when the pass began: `may_join`
        checks the allocation of now)."""
        if self._joinable is None:
            options, pairs = self.pair_options(), self.instance.pairs
            left = seats_left(self.instance, self.allocation)
            first = pairs.offers[options.pair, options.direction]
            second = pairs.offers[options.pair, 1 - options.direction]
            count = pair_counts(self.instance, self.allocation)
            self._joinable = ((left[first, 0] > 0) & (left[second, 1] > 0)
                              & (count[options.pair] + 1 >= pairs.min_group[options.pair]))
        return self._joinable

    def conversion(self, offer: int) -> list[Step] | None:
        """Steps turning a holder of `offer` (a single) into a split on stays freed by valid
        chains, or into a member of a pair with a seat free in both of its weeks, which frees
        a seat at `offer` in both weeks; None when no holder can."""
        both = self.state(BOTH)
        holders = np.flatnonzero(both.movable & (both.holds == offer))
        for h in holders:
            plan, _ = self.plan(int(h), [WEEK1, WEEK2])
            if plan is not None and plan[0][2] != plan[1][2]:
                return plan
        options, pairs = self.pair_options(), self.instance.pairs
        for h in holders:
            lo, hi = np.searchsorted(options.student, [h, h + 1])
            for i in lo + np.flatnonzero(self.joinable()[lo:hi]):
                k, d = int(options.pair[i]), int(options.direction[i])
                if self.may_join(k, d):
                    return [(int(h), WEEK1, int(pairs.offers[k, d]), ()),
                            (int(h), WEEK2, int(pairs.offers[k, 1 - d]), ())]
        return None

    def may_join(self, k: int, d: int) -> bool:
        """Pair `k` has a seat free in both weeks of direction `d`, and one more pupil keeps
        it at its minimum group, under the allocation of now."""
        pairs, seats, allocation = self.instance.pairs, self.instance.offers.seats, self.allocation
        a, b = int(pairs.offers[k, 0]), int(pairs.offers[k, 1])
        first, second = (a, b) if d == 0 else (b, a)
        members = int(np.count_nonzero(((allocation[:, 0] == a) & (allocation[:, 1] == b))
                                       | ((allocation[:, 0] == b) & (allocation[:, 1] == a))))
        return bool(seats[first, 0] > np.count_nonzero(allocation[:, 0] == first)
                    and seats[second, 1] > np.count_nonzero(allocation[:, 1] == second)
                    and members + 1 >= pairs.min_group[k])

    def best(self, u: int, layer: str
             ) -> tuple[int, tuple[tuple[int, int], ...], bool, list[Step]]:
        """Pupil `u`'s offer of the layer needing the fewest moves (nearest first) whose chain
        is still valid, with the moves; offer -1 when none. The flag says whether some chain
        was stale (a fresh search may then find one). For `CONVERT`, a chain ending at an
        offer without a free seat needs a holder's valid conversion: its steps come last."""
        state = self.state(layer)
        lo, hi = self.reach.indptr[u], self.reach.indptr[u + 1]
        row = self.reach.offer[lo:hi].astype(np.int64)
        other = (-1 if layer in (BOTH, CONVERT)
                 else int(self.allocation[u, 1 if layer == WEEK1 else 0]))
        # `allowed_pairs` of u's row: the offers u may use (`usable`).
        usable_row = allowed_pairs(self.instance, self.reach)[lo:hi]
        row = row[state.role[row] & (row != other) & usable_row]
        if not len(row):
            return -1, (), False, []
        chains = self.chain_set(layer)
        dist = chains.dist[row]
        ok = np.flatnonzero(dist >= 0)
        stale = False
        for i in ok[np.argsort(dist[ok], kind="stable")][:TRIED_OFFERS]:
            offer = int(row[i])
            chain = self.valid_chain(layer, offer, chains)
            if chain is None:
                stale = True
                continue
            before: list[Step] | None = []
            end = chain[-1][1] if chain else offer
            if layer == CONVERT and not self.state(BOTH).free[end]:
                before = self.conversion(end)
            if before is None:
                # Searching the conversions of other offers costs more than it finds: the
                # pupil waits for the next pass's fresh search.
                return -1, (), True, []
            return offer, chain, stale, before
        return -1, (), stale, []

    def valid_chain(self, layer: str, target: int, chains: Chains
                    ) -> tuple[tuple[int, int], ...] | None:
        """The moves of `chains` (`Chains.chain`) that free `target`, when they still do under
        the current allocation; None when some move is stale."""
        state = self.state(layer)
        moves = []
        o = target
        while chains.dist[o] > 0:
            p, nxt = int(chains.holder[o]), int(chains.next_offer[o])
            if not state.movable[p] or state.holds[p] != o:
                return None
            moves.append((p, nxt))
            o = nxt
        end_ok = state.free[o] or (layer == CONVERT and self.convertible()[o])
        return tuple(moves) if end_ok else None

    def plan(self, u: int, layers: list[str]) -> tuple[list[Step] | None, bool]:
        """For each layer, `u`'s best offer and its moves, all valid now (None when a layer
        has none), and whether some chain was stale. A `CONVERT` chain ending at an offer
        with no free seat is preceded by the steps of its holder's conversion."""
        plan: list[Step] = []
        any_stale = False
        for layer in layers:
            offer, chain, stale, before = self.best(u, layer)
            any_stale |= stale
            if offer < 0:
                return None, any_stale
            plan += before
            plan.append((u, BOTH if layer == CONVERT else layer, offer, chain))
        return plan, any_stale

    def changed(self) -> None:
        self.states.clear()

    def searched_again(self) -> None:
        """A new pass: every chain is searched again on the allocation of then."""
        self.chains.clear()
        self._convertible = None
        self._joinable = None


def place_by_moves(instance: Instance, reach: Reach, roles: OfferRoles, allocation: np.ndarray,
                   displaced: np.ndarray, move_level: str, max_passes: int,
                   convert: bool = False, deadline: Deadline | None = None,
                   step: Callable[[int, int], None] | None = None
                   ) -> tuple[np.ndarray, dict[int, int], bool]:
    """Pupils not placed for both weeks get seats freed by chains of moves (`displaced`
    pupils first after the priority pupils). With `convert` (when two-week offers are not
    split, so that the roles are disjoint), a chain of singles may also end at an offer
    whose holder turns into a split on stays freed by chains of their own: the exchange
    where one more pupil is placed and one single becomes a split (level 4 for level 2).

    Returns the allocation, {moved pupil: pupil it was moved for}, and whether the budget of
    `max_passes` passes stopped the search (some pupil's chains were still stale). The
    safety-net `deadline` is checked between passes; `step(pass, max_passes)` after each.
    """
    st = instance.students
    allocation = allocation.copy()
    moved_for: dict[int, int] = {}
    wanting = st.to_place & (allocation < 0).any(axis=1)
    if move_level == "after_priority":
        wanting &= st.priority
    order = np.flatnonzero(wanting)
    order = order[np.lexsort((order, ~displaced[order], ~st.priority[order]))]
    moves = _MoveState(instance, reach, roles, allocation)
    # Passes: a pupil whose chains all went stale (moves made for pupils before it) waits for
    # the next pass, which searches the chains again once on the allocation of then.
    pending = [int(x) for x in order]
    passes = 0
    while pending:
        if passes == max_passes:
            return allocation, moved_for, True
        if passes and deadline is not None and deadline.passed("moves"):
            return allocation, moved_for, True
        passes += 1
        if step is not None:
            step(passes, max_passes)
        stale_pupils = []
        for u in pending:
            stale = _place_one(moves, u, move_level, moved_for, convert)
            if stale:
                stale_pupils.append(u)
        if not stale_pupils:
            break
        moves.searched_again()
        pending = stale_pupils
    return allocation, moved_for, False


def _place_one(moves: _MoveState, u: int, move_level: str, moved_for: dict[int, int],
               convert: bool = False) -> bool:
    """Place pupil `u` by the first plan whose chains are all valid: both weeks at one offer,
    else a week-1 and a week-2 stay, else (`convert`) both weeks at one offer freed by a
    holder turning into a split, else (`after_partial` only) one more week. Returns True
    when nothing was placed but some chain was stale."""
    allocation, fixed = moves.allocation, moves.instance.fixed
    missing = [w for w in (0, 1) if allocation[u, w] < 0 and fixed[u, w] < 0]
    if not missing:
        return False
    if len(missing) == 2:
        plans = [[BOTH], [WEEK1, WEEK2]]
        if convert:
            plans.append([CONVERT])
        if move_level == "after_partial":
            plans += [[WEEK1], [WEEK2]]
    else:
        plans = [[(WEEK1, WEEK2)[missing[0]]]]
    becomes_full = len(missing) == 1
    any_stale = False
    for layers in plans:
        plan, stale = moves.plan(u, layers)
        any_stale |= stale
        if plan is None:
            continue
        # Moves are worth a full placement; a partial one only with `after_partial`.
        full = layers in ([BOTH], [CONVERT]) or len(layers) == 2 or becomes_full
        if not full and move_level != "after_partial" and any(c for _, _, _, c in plan):
            continue
        for pupil, layer, o, c in plan:
            weeks = [0, 1] if layer == BOTH else [0] if layer == WEEK1 else [1]
            for p, target in c:
                allocation[p, weeks] = target
                moved_for.setdefault(p, u)
            if pupil != u:
                moved_for.setdefault(pupil, u)
            allocation[pupil, weeks] = o
            moves.changed()
        return False
    return any_stale
