"""`affectation repair`: a new allocation after changes, keeping what can be kept.

From the current inputs and a previous result (`assignments.csv`):

1. **Keep** every previous placement that is still valid: its offers still exist and run that
   week, the pupil is still to be placed, may use them (travel limit, reserved, accessibility,
   exclusions.csv) in the same kind of placement, and agrees with the pupil's signed weeks.
   A pupil with a new convention gets its signed weeks (the other week is kept when it is
   still a valid one-week stay). Where a capacity went down, or new conventions took seats,
   the offer keeps its priority pupils first, then the earlier pupils of the input; a pair
   left below its minimum group releases its pupils. Signed weeks never move. Every pupil
   whose placement could not be kept is *displaced*.
2. **Re-place on free seats**, moving nobody: the construction's family flows
   (`start.complete_allocation`), displaced pupils first (the pupils of a withdrawn
   offer, of a reduced capacity, ...), then every pupil still missing a week (priority pupils
   first within each group).
3. **Move placed pupils only to place more**, as `[repair] move_level` sets: for each pupil
   still not placed for both weeks (priority pupils first, then displaced pupils, then input
   order), the fewest moves of placed pupils that free a seat it can take (chains of pupils
   each moving to another offer of the same kind, `moves.place_by_moves`): a two-week seat, or
   a week-1 and a week-2 stay, or (two-week offers not split) a two-week seat whose holder
   turns into a split on stays that chains free. `after_total` (default): moves only to
   place a pupil for both weeks; `after_priority`: only for priority pupils;
   `after_partial`: also to give a pupil one more week. `freeze_placed = true` skips this
   step. Chains are searched on the allocation of the moment and applied when still valid,
   in at most `max_move_passes` passes (a work budget, not a clock: the result never depends
   on the machine's speed).
4. Only with `[repair] priority_may_displace = true` (and not `freeze_placed`): each priority
   pupil still not placed for both weeks (input order) takes the two-week seat of an
   unsigned, non-priority pupil whom the chains of step 3 could not move elsewhere: at the
   nearest offer it may use as a single that has such a holder, the holder latest in the
   input. The holder loses the placement (« place cédée à un élève prioritaire ») and is then
   offered free seats and chains of moves like any pupil. By default a repair never unplaces
   a placed pupil (families have been told).
5. Free seats still within someone's reach are given (`seats.fill_free_seats`). Nothing
   is polished: sectors and travel of kept pupils are what they were.

Bounds: the full proven bound of `solve` takes about 14 s at Normandy scale; `repair`
reports a cheaper proven bound instead: the pupils that have some way to be placed for both
weeks (`bound.placeable`), and never more than the seats of either week
(`upper_bound_kind = "placeable"` in summary.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from affectation.domain.allocation import (
    GONE,
    PreviousResult,
    lexicographic_score,
    pair_counts,
    seats_used,
)
from affectation.domain.instance import Instance
from affectation.engine.bound import placeable_pupils
from affectation.engine.candidates import (
    OfferRoles,
    Pruning,
    allowed_pairs,
    build_candidates,
    offer_roles,
    usable,
)
from affectation.engine.moves import place_by_moves
from affectation.engine.seats import fill_free_seats
from affectation.engine.solve import Solution
from affectation.engine.start import StartInputs, complete_allocation
from affectation.timing import Laps, Progress
from affectation.travel.reach import (
    PupilTravel,
    Reach,
    exact_minutes,
    pupil_travel,
    reachable,
    restrict_reach,
)

TEXT = {
    "fr": {
        "removed": "élève retiré du fichier des élèves : place libérée",
        "new": "nouvel élève",
        "gone": "offre {offer} retirée du fichier des offres",
        "withdrawn": "offre {offer} retirée (capacité 0)",
        "closed": "offre {offer} fermée en semaine {w} (période)",
        "status": "statut « {status} » : plus à placer",
        "convention": "nouvelle convention signée",
        "unreachable": "offre {offer} hors de la limite de trajet",
        "declined": "offre {offer} refusée (exclusions.csv)",
        "not_usable": "offre {offer} non utilisable (réservée ou non accessible)",
        "kind": "placement à l'offre {offer} devenu invalide (période ou paire modifiée)",
        "capacity": "offre {offer} : places réduites ou prises par des conventions",
        "min_group": "paire {pair} sous son effectif minimum",
        "moved": "déplacé(e) pour placer l'élève {student}",
        "freed": "placé(e) sur une place libérée",
        "chain": "placé(e) grâce au déplacement de {n} élève(s)",
        "lost": "non replacé(e)",
        "ceded": "place cédée à un élève prioritaire",
        "took": "placé(e) sur la place cédée par l'élève {student}",
    },
    "en": {
        "removed": "pupil removed from the pupils file: seat freed",
        "new": "new pupil",
        "gone": "offer {offer} removed from the offers file",
        "withdrawn": "offer {offer} withdrawn (capacity 0)",
        "closed": "offer {offer} closed in week {w} (period)",
        "status": "status '{status}': no longer to be placed",
        "convention": "new signed convention",
        "unreachable": "offer {offer} beyond the travel limit",
        "declined": "offer {offer} declined (exclusions.csv)",
        "not_usable": "offer {offer} not usable (reserved or not accessible)",
        "kind": "placement at offer {offer} no longer valid (period or pair changed)",
        "capacity": "offer {offer}: seats reduced or taken by conventions",
        "min_group": "pair {pair} below its minimum group",
        "moved": "moved to place pupil {student}",
        "freed": "placed on a freed seat",
        "chain": "placed by moving {n} pupil(s)",
        "lost": "not placed again",
        "ceded": "seat given up to a priority pupil",
        "took": "placed on the seat given up by pupil {student}",
    },
}


@dataclass(frozen=True)
class RepairSettings:
    """Passes of the move search (step 3: each searches the chains once per layer; on the
    Normandy benchmark's 500 changes it ends well before 100), the candidates' pruning
    (step 2), and `freeze_placed`, `priority_may_displace` overriding the scenario's when
    not None."""

    max_move_passes: int = 100
    freeze_placed: bool | None = None
    priority_may_displace: bool | None = None
    pruning: Pruning = field(default_factory=lambda: Pruning(single=24, stay=16))


@dataclass(frozen=True, eq=False)
class Repaired:
    """The new allocation, with why each pupil's placement changed."""

    solution: Solution
    previous: PreviousResult
    displaced: np.ndarray  # bool: the previous placement could not be kept
    note: np.ndarray  # per pupil: the reason of a change ('' when none), user language
    stats: dict[str, int | float]
    ceded: np.ndarray | None = None  # bool: gave up the seat to a priority pupil (step 4)


def repair(instance: Instance, previous: PreviousResult,
           settings: RepairSettings = RepairSettings(),
           progress: Progress | None = None, reach: Reach | None = None) -> Repaired:
    """The new allocation (see the module docstring); each step reports to `progress`.
    `reach`: the reachable pairs when already computed (default: every reachable pair; a
    capped reach limits the moves and the free seats to each pupil's row, the bounds stay
    proven)."""
    laps = Laps(progress)
    lap, timings = laps.lap, laps.timings

    text = TEXT[instance.scenario.output.language]
    st = instance.students
    travel = pupil_travel(instance)
    if reach is None:
        reach = reachable(instance, travel)
    roles = offer_roles(instance)
    lap("travel", reachable_pairs=reach.n_pairs)
    allocation, note = kept_placements(instance, previous, travel, roles, text)
    prev = previous.allocation
    displaced = (previous.listed & (prev != -1).any(axis=1) & st.to_place
                 & (allocation != prev).any(axis=1))
    lap("keep", kept=int((st.to_place & (allocation >= 0).any(axis=1)).sum()))
    missing = st.to_place & (allocation < 0).any(axis=1)
    sub, _ = restrict_reach(reach, np.flatnonzero(missing))
    cands = build_candidates(instance, sub, allowed_pairs(instance, sub), roles,
                             settings.pruning)
    problem = StartInputs(instance, roles, cands, sub)
    allocation = complete_allocation(problem, allocation, [displaced & missing, missing])
    lap("free_seats", placed_full=lexicographic_score(instance, allocation)[1])
    params = instance.scenario.repair
    moved_for: dict[int, int] = {}
    stopped = False
    freeze = params.freeze_placed if settings.freeze_placed is None else settings.freeze_placed
    convert = not instance.scenario.rules.split_two_week_offers
    if not freeze:
        allocation, moved_for, stopped = place_by_moves(
            instance, reach, roles, allocation, displaced, params.move_level,
            settings.max_move_passes, convert=convert)
    ceded = np.zeros(st.n, dtype=bool)
    may_displace = (params.priority_may_displace if settings.priority_may_displace is None
                    else settings.priority_may_displace)
    if may_displace and not freeze:
        allocation, took = seats_for_priority(instance, reach, roles, allocation)
        for h, p in took.items():
            ceded[h] = True
            note[h] = text["ceded"]
            how = text["took"].format(student=st.ids[h])
            note[p] = f"{note[p]} ; {how}" if note[p] else how
        if took:
            # The pupils who gave up their seat: free seats, then chains, like anyone.
            restricted, _ = restrict_reach(reach, np.flatnonzero(ceded))
            allocation = fill_free_seats(instance, roles, restricted,
                                         build_candidates(instance, restricted,
                                                          allowed_pairs(instance, restricted),
                                                          roles, settings.pruning).extension,
                                         allocation)
            allocation, more, more_stopped = place_by_moves(
                instance, reach, roles, allocation, ceded, params.move_level,
                settings.max_move_passes, convert=convert)
            moved_for.update(more)
            stopped = stopped or more_stopped
    allocation = fill_free_seats(instance, roles, sub, cands.extension, allocation)
    lap("moves", placed_full=lexicographic_score(instance, allocation)[1])
    for p, u in moved_for.items():
        if not note[p]:
            note[p] = text["moved"].format(student=st.ids[u])
    ub, ub_priority = cheap_bounds(instance, reach)
    score = lexicographic_score(instance, allocation)
    status = "OPTIMAL" if (score[0], score[1]) == (ub_priority, ub) else "FEASIBLE"
    lap("bounds", upper_bound_full=ub, upper_bound_priority_full=ub_priority)
    chains = sorted(set(moved_for.values()))
    stats: dict[str, int | float] = {
        "pupils_placed_by_moves": len(chains),
        "moved_to_make_room": len(moved_for),
        "stopped_by_pass_limit": int(stopped),
        "displaced_by_priority": int(ceded.sum()),
    }
    solution = Solution(allocation=allocation, status=status, upper_bound_full=ub,
                        upper_bound_priority_full=ub_priority, reach=reach, travel=travel,
                        roles=roles, timings=timings, cpu_seconds=laps.cpu,
                        search={"move_level": params.move_level,
                                "freeze_placed": int(freeze),
                                "priority_may_displace": int(bool(may_displace)),
                                "upper_bound_kind": "placeable", **stats})
    for u in chains:
        how = text["chain"].format(n=sum(1 for v in moved_for.values() if v == u))
        note[u] = f"{note[u]} ; {how}" if note[u] else how
    return Repaired(solution=solution, previous=previous, displaced=displaced, note=note,
                    stats=stats, ceded=ceded)


def seats_for_priority(instance: Instance, reach: Reach, roles: OfferRoles,
                       allocation: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Step 4: each priority pupil to place, not placed for both weeks and with no signed
    week (input order), takes the two-week seat of an unsigned, non-priority pupil placed as a
    single at an unpaired offer: the nearest such offer the priority pupil may use as a
    single, the holder latest in the input there. The priority pupil's own one-week stay, if
    any, is released. Returns the allocation and {holder: priority pupil}."""
    st, of, fixed = instance.students, instance.offers, instance.fixed
    allocation = allocation.copy()
    took: dict[int, int] = {}
    unsigned = (fixed < 0).all(axis=1)
    a0 = np.maximum(allocation[:, 0], 0)
    paired_week = ((allocation >= 0) & (of.pair[np.maximum(allocation, 0)] >= 0)).any(axis=1)
    waiting = np.flatnonzero(st.to_place & st.priority & unsigned & ~paired_week
                             & (allocation < 0).any(axis=1))
    if not len(waiting):
        return allocation, took
    holder = (st.to_place & ~st.priority & unsigned & (allocation[:, 0] >= 0)
              & (allocation[:, 0] == allocation[:, 1]) & roles.single[a0] & (of.pair[a0] < 0))
    holders: dict[int, list[int]] = {}
    for h in np.flatnonzero(holder).tolist():
        holders.setdefault(int(allocation[h, 0]), []).append(h)
    for p in waiting.tolist():
        offers, deciminutes = reach.row(p)
        ok = roles.single[offers] & (of.pair[offers] < 0) & usable(instance, p, offers)
        offers, deciminutes = offers[ok], deciminutes[ok]
        for o in offers[np.lexsort((offers, deciminutes))].tolist():
            if holders.get(o):
                h = holders[o].pop()  # the latest in the input
                allocation[h] = -1
                allocation[p] = o
                took[h] = p
                break
    return allocation, took


def kept_placements(instance: Instance, previous: PreviousResult, travel: PupilTravel,
                    roles: OfferRoles, text: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """The previous placements still valid (step 1), and why each other one was dropped."""
    st, of, pairs, fixed = instance.students, instance.offers, instance.pairs, instance.fixed
    n = st.n
    prev = previous.allocation
    allocation = np.where(prev >= 0, prev, -1)
    note = np.full(n, "", dtype=object)
    placed_before = (prev != -1).any(axis=1)

    def drop(mask: np.ndarray, reasons: np.ndarray | str) -> None:
        """Release the unsigned weeks of the pupils of `mask` (first reason kept)."""
        first = mask & (note == "")
        note[first] = reasons[first] if isinstance(reasons, np.ndarray) else reasons
        for w in (0, 1):
            allocation[mask & (fixed[:, w] < 0), w] = -1

    def offer_text(w: int) -> np.ndarray:
        return previous.offer_text[:, w]

    # Pupils no longer to place, and new pupils (nothing to keep).
    drop(placed_before & ~st.to_place,
         np.array([text["status"].format(status=s) for s in st.status], dtype=object))
    allocation[~st.to_place] = -1
    note[~previous.listed & st.to_place] = text["new"]
    # Offers gone, withdrawn or closed that week.
    for w in (0, 1):
        gone = prev[:, w] == GONE
        drop(gone, np.array([text["gone"].format(offer=o) for o in offer_text(w)], dtype=object))
        o = np.maximum(allocation[:, w], 0)
        closed = (allocation[:, w] >= 0) & ~of.open_week[o, w]
        why = np.array([text["withdrawn"].format(offer=t) if of.capacity[k] == 0 else
                        text["closed"].format(offer=t, w=w + 1)
                        for t, k in zip(offer_text(w), o, strict=True)], dtype=object)
        drop(closed & (fixed[:, w] != allocation[:, w]), why)
    # New conventions: the signed weeks replace what was there.
    signed = fixed >= 0
    differs = (signed & (allocation != fixed)).any(axis=1)
    note[differs & (note == "")] = text["convention"]
    allocation[signed] = fixed[signed]
    # Each unsigned week: still within the travel limit and usable by the pupil.
    for w in (0, 1):
        o = allocation[:, w]
        s = np.flatnonzero((o >= 0) & (fixed[:, w] < 0))
        within = exact_minutes(instance, s, o[s], travel) <= travel.limit_minutes[s]
        declined = instance.exclusions.contains(s, o[s])
        ok = within & usable(instance, s, o[s])
        reasons = np.full(n, "", dtype=object)
        for p, d, r_ in zip(s[~ok], declined[~ok], within[~ok], strict=True):
            key = "declined" if d else "unreachable" if not r_ else "not_usable"
            reasons[p] = text[key].format(offer=of.ids[o[p]])
        mask = np.zeros(n, dtype=bool)
        mask[s[~ok]] = True
        drop(mask, reasons)
    # The kind of each placement is still valid (roles, pairs, one-week stays).
    valid = _valid_kind(instance, roles, allocation)
    bad = ~valid
    reasons = np.array([text["kind"].format(offer=of.ids[max(a, b)]) if max(a, b) >= 0 else ""
                        for a, b in allocation], dtype=object)
    drop(bad, reasons)
    # Capacities: each offer-week keeps its signed pupils, then priority, then input order.
    used = seats_used(instance, allocation)
    for o, w in np.argwhere(used > of.seats):
        holders = np.flatnonzero((allocation[:, w] == o) & (fixed[:, w] != o))
        order = holders[np.lexsort((holders, ~st.priority[holders]))]
        excess = int(used[o, w] - of.seats[o, w])
        out = np.zeros(n, dtype=bool)
        out[order[len(order) - excess:]] = True
        drop(out, text["capacity"].format(offer=of.ids[o]))
        used = seats_used(instance, allocation)
    # Pairs below their minimum group (unless signed: construction fills those).
    if pairs.n:
        signed_pair = np.zeros(pairs.n, dtype=bool)
        k = of.pair[instance.conventions.offer]
        signed_pair[k[k >= 0]] = True
        count = pair_counts(instance, allocation)
        small = (count > 0) & (count < pairs.min_group) & ~signed_pair
        in_pair = np.where(allocation[:, 0] >= 0, of.pair[np.maximum(allocation[:, 0], 0)], -1)
        for q in np.flatnonzero(small):
            drop(in_pair == q, text["min_group"].format(pair=pairs.ids[q]))
    return allocation, note


def _valid_kind(instance: Instance, roles: OfferRoles, allocation: np.ndarray) -> np.ndarray:
    """Per pupil: the weeks form a valid placement (signed weeks are valid by themselves)."""
    of, fixed = instance.offers, instance.fixed
    partner = np.full(of.n, -1, dtype=np.int64)
    partner[instance.pairs.offers[:, 0]] = instance.pairs.offers[:, 1]
    partner[instance.pairs.offers[:, 1]] = instance.pairs.offers[:, 0]
    a, b = allocation[:, 0], allocation[:, 1]
    a0, b0 = np.maximum(a, 0), np.maximum(b, 0)
    ext_ok = np.zeros(len(a), dtype=bool)
    for w, (x, y) in enumerate(((a, b), (b, a))):
        # One week signed at an offer, the other at the same offer: an extension.
        ext_ok |= (fixed[:, w] >= 0) & (x == y) & (x >= 0)
    single = (a >= 0) & (a == b) & roles.single[a0]
    paired = (a >= 0) & (b >= 0) & (of.pair[a0] >= 0) & (partner[a0] == b)
    stay = [(a < 0) | (fixed[:, 0] == a) | (roles.week1[a0] & (of.pair[a0] < 0) & (a != b)),
            (b < 0) | (fixed[:, 1] == b) | (roles.week2[b0] & (of.pair[b0] < 0) & (a != b))]
    return single | paired | ext_ok | (stay[0] & stay[1]) | ((a < 0) & (b < 0))


def cheap_bounds(instance: Instance, reach: Reach) -> tuple[int, int]:
    """Proven upper bounds on pupils placed for both weeks (all, priority): pupils with some
    way to be placed (`bound.placeable_pupils`), at most the seats of either week."""
    st = instance.students
    can = placeable_pupils(instance, reach) & st.to_place
    seats = int(instance.offers.seats.sum(axis=0).min())
    return min(int(can.sum()), seats), min(int((can & st.priority).sum()), seats)
