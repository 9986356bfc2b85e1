"""Candidate generation: which offer may host which pupil, and in what role.

An offer's role follows from its period, its pair and the `split_two_week_offers` rule:
a two-week offer hosts `single` stays; one-week stays (in a `split` or a `partial`) go to
offers of period 1 (week 1) or 2 (week 2), or to any offer open that week when the rule allows
splitting two-week offers; paired offers only host their pair's pupils. A pupil may use an
offer when it is within their travel limit and `usable` says so: a reserved offer only with
priority, an offer that is not accessible only when the pupil does not need accessibility, and
never an offer the pupil is excluded from (exclusions.csv).

The solver works on a pruned set: each pupil's nearest offers in each role. The pruning never
weakens the proven bound, which is computed on every reachable pair (see `bound`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from affectation.domain.instance import Instance
from affectation.travel.reach import Reach


@dataclass(frozen=True, eq=False)
class OfferRoles:
    """Per offer: may host a `single`, a week-1 stay, a week-2 stay (booleans)."""

    single: np.ndarray
    week1: np.ndarray
    week2: np.ndarray

    @property
    def week(self) -> tuple[np.ndarray, np.ndarray]:
        return self.week1, self.week2


def offer_roles(instance: Instance) -> OfferRoles:
    """What each offer may be used for under the scenario's rules."""
    of = instance.offers
    open_w = of.open_week
    free = of.pair < 0
    split_all = instance.scenario.rules.split_two_week_offers
    single = free & open_w[:, 0] & open_w[:, 1]
    week1 = free & open_w[:, 0] & ((of.period == 1) | split_all)
    week2 = free & open_w[:, 1] & ((of.period == 2) | split_all)
    return OfferRoles(single=single, week1=week1, week2=week2)


def usable(instance: Instance, students: np.ndarray | int, offers: np.ndarray | int
           ) -> np.ndarray:
    """Element-wise (broadcast): may pupil `students[i]` use offer `offers[i]`, travel aside?

    The one place of the rule: a reserved offer needs a priority pupil, a pupil who needs
    accessibility only gets accessible offers, and a pairing listed in exclusions.csv (declined
    by the pupil, the family or the firm) is never proposed.
    """
    st, of = instance.students, instance.offers
    ok = ((~of.reserved[offers] | st.priority[students])
          & (~st.needs_accessible[students] | of.accessible[offers]))
    if instance.exclusions.n:
        ok = ok & ~instance.exclusions.contains(students, offers)
    return ok


def allowed_pairs(instance: Instance, reach: Reach) -> np.ndarray:
    """Mask over `reach` pairs: the pupil may use the offer (see `usable`). Computed once per
    instance and reach (read-only: the bounds, the audit and the indicators share it)."""
    cached = reach.__dict__.get("_allowed_pairs")
    if cached is None or cached[0] is not instance:
        mask = usable(instance, reach.student_of_pair(), reach.offer)
        mask.setflags(write=False)
        cached = (instance, mask)
        reach.__dict__["_allowed_pairs"] = cached
    result: np.ndarray = cached[1]
    return result


@dataclass(frozen=True, eq=False)
class PairOption:
    """Pupil-pair options: pupil `student[i]` may join pair `pair[i]` in `direction[i]`.

    Direction 0: the pair's first offer in week 1 and second in week 2; direction 1: swapped.
    `minutes[i]` is the sum of both weeks' travel, in tenths of a minute.
    """

    student: np.ndarray
    pair: np.ndarray
    direction: np.ndarray
    deciminutes: np.ndarray


def pair_options(instance: Instance, reach: Reach, allowed: np.ndarray) -> PairOption:
    """Every (pupil, pair, direction) with both offers reachable and usable by the pupil
    (`allowed`: a mask over `reach`'s pairs). Computed once per instance, reach and mask
    (cached on `reach` while the mask lives; read-only)."""
    cache = reach.__dict__.setdefault("_pair_options", {})
    hit = cache.get(id(allowed))
    if hit is not None and hit[0] is allowed and hit[1] is instance:
        found: PairOption = hit[2]
        return found
    options = _pair_options(instance, reach, allowed)
    if len(cache) > 4:
        cache.clear()
    cache[id(allowed)] = (allowed, instance, options)
    return options


def _pair_options(instance: Instance, reach: Reach, allowed: np.ndarray) -> PairOption:
    pairs = instance.pairs
    of = instance.offers
    empty = np.zeros(0, dtype=np.int64)
    if pairs.n == 0:
        return PairOption(empty, empty, empty, empty)
    keep = allowed & (of.pair[reach.offer] >= 0)
    student = reach.student_of_pair()[keep].astype(np.int64)
    offer = reach.offer[keep].astype(np.int64)
    deci = reach.deciminutes[keep].astype(np.int64)
    pair = of.pair[offer]
    first = pairs.offers[pair, 0] == offer
    # Both offers of a pair must be reachable: group by (student, pair) and keep complete groups.
    key = student * pairs.n + pair
    order = np.lexsort((~first, key))
    key, first, deci = key[order], first[order], deci[order]
    student, pair = student[order], pair[order]
    both = np.flatnonzero((key[:-1] == key[1:]) & first[:-1]) if len(key) > 1 else empty
    s, k = student[both], pair[both]
    total = deci[both] + deci[both + 1]
    open_w = of.open_week
    a, b = pairs.offers[k, 0], pairs.offers[k, 1]
    out_s, out_k, out_d, out_m = [], [], [], []
    for direction, (w1_offer, w2_offer) in enumerate(((a, b), (b, a))):
        ok = open_w[w1_offer, 0] & open_w[w2_offer, 1]
        out_s.append(s[ok])
        out_k.append(k[ok])
        out_d.append(np.full(int(ok.sum()), direction, dtype=np.int64))
        out_m.append(total[ok])
    student = np.concatenate(out_s)
    order = np.lexsort((np.concatenate(out_d), np.concatenate(out_k), student))
    return PairOption(
        student=student[order],
        pair=np.concatenate(out_k)[order],
        direction=np.concatenate(out_d)[order],
        deciminutes=np.concatenate(out_m)[order],
    )


@dataclass(frozen=True, eq=False)
class RoleArcs:
    """Candidate (pupil, offer, deciminutes) triples for one role, sorted by pupil then time."""

    student: np.ndarray
    offer: np.ndarray
    deciminutes: np.ndarray

    @property
    def n(self) -> int:
        return len(self.student)


@dataclass(frozen=True, eq=False)
class Candidates:
    """The pruned options the model may choose from, per role."""

    single: RoleArcs
    week1: RoleArcs
    week2: RoleArcs
    pairs: PairOption
    # For a pupil with one signed week at a two-week offer: that offer, when the pupil may
    # also attend it in the other week (reachable, open, not paired); else -1.
    extension: np.ndarray

    def stays(self, w: int) -> RoleArcs:
        return self.week1 if w == 0 else self.week2


def rank_within_student(student: np.ndarray) -> np.ndarray:
    """0-based position of each element within its (contiguous, sorted) student run."""
    n = len(student)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(student[1:] != student[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def role_arcs(reach: Reach, usable: np.ndarray, limit: int | None,
              keep: np.ndarray | None = None) -> RoleArcs:
    """Each pupil's `limit` nearest usable offers, plus the pairs in `keep` (None: all).

    Nearest offers alone starve offers that are nobody's nearest (in towns every pupil has the
    same nearest offers): `keep` carries the arcs of the proven maximum flows, which reach them.
    """
    student = reach.student_of_pair()
    mask = usable.copy()
    if limit is not None:
        sub = np.flatnonzero(usable)
        rank = rank_within_student(student[sub])
        mask[sub[rank >= limit]] = False
        if keep is not None:
            mask |= keep & usable
    return RoleArcs(
        student=student[mask].astype(np.int64),
        offer=reach.offer[mask].astype(np.int64),
        deciminutes=reach.deciminutes[mask].astype(np.int64),
    )


@dataclass(frozen=True)
class Pruning:
    """How many of each pupil's nearest offers the solver considers, per role."""

    single: int | None = 8
    stay: int | None = 6
    # Pair options: each pupil's nearest, and each pair direction's nearest pupils.
    pair: int | None = 4
    pupils_per_pair: int | None = 80


# Every reachable option (small instances, tests).
NO_PRUNING = Pruning(single=None, stay=None, pair=None, pupils_per_pair=None)


def build_candidates(
    instance: Instance,
    reach: Reach,
    allowed: np.ndarray,
    roles: OfferRoles,
    pruning: Pruning = Pruning(),
    keep_week: np.ndarray | None = None,
    flow_arcs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Candidates:
    """Each pupil's options: nearest offers per role, those of `keep_week` (an allocation),
    and the reachable pairs in `flow_arcs` (reach indices for single, week-1 and week-2 roles:
    the arcs of a proven maximum flow, so that the candidates can achieve it)."""
    fixed = instance.fixed
    student = reach.student_of_pair()
    free_both = (fixed[:, 0] < 0) & (fixed[:, 1] < 0)
    keep = None
    if keep_week is not None:
        # A pupil keeps at most its two offers: each pair's offer against its pupil's (two
        # gathers over the pairs, no set membership over tens of millions of keys).
        keep = ((reach.offer == keep_week[student, 0]) | (reach.offer == keep_week[student, 1]))
    on_offer = reach.offer
    extra: list[np.ndarray | None] = [None, None, None]
    if flow_arcs is not None:
        extra = []
        for idx in flow_arcs:
            m = np.zeros(reach.n_pairs, dtype=bool)
            m[idx] = True
            extra.append(m if keep is None else m | keep)
    single = role_arcs(reach, allowed & roles.single[on_offer] & free_both[student],
                       pruning.single, extra[0] if flow_arcs is not None else keep)
    stays = []
    for w, role in ((0, roles.week1), (1, roles.week2)):
        # A pupil may take a one-week stay in week w when week w is not signed.
        usable = allowed & role[on_offer] & (fixed[student, w] < 0)
        stays.append(role_arcs(reach, usable, pruning.stay,
                               extra[1 + w] if flow_arcs is not None else keep))
    pairs = pair_options(instance, reach, allowed)
    pairs_free = free_both[pairs.student]
    pairs = PairOption(*(getattr(pairs, f)[pairs_free] for f in
                         ("student", "pair", "direction", "deciminutes")))
    if pruning.pair is not None:
        pairs = _prune_pair_options(pairs, pruning, keep_week, instance)
    return Candidates(single=single, week1=stays[0], week2=stays[1], pairs=pairs,
                      extension=extensions(instance, reach))


def _prune_pair_options(options: PairOption, pruning: Pruning, keep_week: np.ndarray | None,
                        instance: Instance) -> PairOption:
    """Keep each pupil's nearest pair options and each pair direction's nearest pupils."""
    n = len(options.student)
    if n == 0:
        return options
    by_pupil = np.lexsort((options.pair, options.deciminutes, options.student))
    keep = np.zeros(n, dtype=bool)
    keep[by_pupil[rank_within_student(options.student[by_pupil]) < pruning.pair]] = True
    if pruning.pupils_per_pair is not None:
        slot = options.pair * 2 + options.direction
        by_slot = np.lexsort((options.student, options.deciminutes, slot))
        keep[by_slot[rank_within_student(slot[by_slot]) < pruning.pupils_per_pair]] = True
    if keep_week is not None:
        pairs = instance.pairs
        first = pairs.offers[options.pair, options.direction]
        second = pairs.offers[options.pair, 1 - options.direction]
        keep |= (keep_week[options.student, 0] == first) & (keep_week[options.student, 1] == second)
    return PairOption(options.student[keep], options.pair[keep], options.direction[keep],
                      options.deciminutes[keep])


def extensions(instance: Instance, reach: Reach) -> np.ndarray:
    """For pupils with exactly one signed week: the signed offer, if they may stay both weeks."""
    fixed = instance.fixed
    of = instance.offers
    out = np.full(instance.students.n, -1, dtype=np.int64)
    for w in (0, 1):
        half = np.flatnonzero((fixed[:, w] >= 0) & (fixed[:, 1 - w] < 0))
        if not len(half):
            continue
        f = fixed[half, w]
        ok = (of.pair[f] < 0) & of.open_week[f, 1 - w]
        # The signed offer within the pupil's own row (a compiled scan of those rows only).
        good = _in_rows(reach.indptr, reach.offer, half[ok].astype(np.int64),
                        f[ok].astype(np.int64))
        out[half[ok][good]] = f[ok][good]
    return out


@numba.njit(cache=True)
def _in_rows(indptr: np.ndarray, offer: np.ndarray, pupils: np.ndarray,
             targets: np.ndarray) -> np.ndarray:
    """Whether each pupil's row holds its target offer."""
    found = np.zeros(len(pupils), dtype=np.bool_)
    for k in range(len(pupils)):
        for i in range(indptr[pupils[k]], indptr[pupils[k] + 1]):
            if offer[i] == targets[k]:
                found[k] = True
                break
    return found
