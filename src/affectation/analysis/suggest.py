"""`affectation suggest`: the offers one pupil could take, ranked, from a result folder.

For one pupil, every offer they may take (within their travel limit, open in the week(s)
concerned, reserved only for priority pupils, accessible when they need it, not declined in
exclusions.csv), with its free seats now, the travel time, the rank of its sector among the
pupil's preferred sectors, and how many other pupils would have to move so that the pupil gets
it, with the moves themselves.

What the move count searches (and is exact for). The pupil's current unsigned placement is
released first (they would take the suggested offer instead). Then:

- a two-week offer (the pupil there for both weeks): chains of *single* pupils (both weeks at
  one unpaired offer, nothing signed), each moving to another offer where they are single
  again: the suggested offer's holder moves to a second offer, whose holder moves to a third,
  ..., the last one to an offer with a seat free in both weeks;
- a one-week offer (period 1 or 2; or any offer open that week when two-week offers may be
  split, listed then as two-week offers only): chains of one-week stays of that week (unsigned
  week, unpaired offer, the pupil's other week elsewhere), each moving to another offer of the
  same week, ending at a free seat of that week; the pupil's other week is not part of the
  suggestion;
- a mutualised pair: nobody in a pair ever moves (its minimum group could break): 0 when a
  direction has a seat in both weeks and the pair stays at or above its minimum group with the
  pupil, else no count;
- the pupil's own signed offer (one week signed at a two-week offer, the other week within
  reach): chains of single pupils, as for a two-week offer.

Every moved pupil stays placed, with the same kind, within their own travel limit and rules
(`candidates.usable`); signed weeks never move. Among those moves, the count is the fewest
possible: a reverse breadth-first search from the offers with free seats over the graph
"offer -> offer a holder of it could move to" gives every offer its fewest moves at once (a
shortest chain never visits an offer twice, so never moves a pupil twice, and any set of moves
that frees one seat contains such a chain). Moves that mix kinds (a single becoming a split to
free a seat, pupils of pairs) are not searched: the count is then an upper bound on the fewest
moves of any kind. Chains are searched up to `MAX_MOVES` moves; an offer needing more is shown
as not freed.

Ranking: fewest moves first (offers no chain can free last), then the offer's sector earlier
in the pupil's preferences (offers outside them after), then shorter travel, then offer id.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numba
import numpy as np

from affectation.domain.allocation import pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, extensions, offer_roles, usable
from affectation.travel.reach import PupilTravel, Reach, exact_minutes

BOTH, WEEK1, WEEK2, PAIR, SIGNED = "both", "week1", "week2", "pair", "signed"

TEXT = {
    "fr": {
        "header": "Élève {id} : lycée {school}{priority} ; situation actuelle : {now}",
        "priority": ", prioritaire",
        "now_none": "sans stage",
        "now_weeks": "semaine 1 : {w1}, semaine 2 : {w2}",
        "none": "aucune",
        "count": "{n} offre(s) possible(s){shown}, classées par élèves à déplacer, "
                 "secteur préféré puis trajet :",
        "shown": " (les {k} premières ci-dessous)",
        "nothing": "Aucune offre possible pour cet élève : {why}",
        "why_reach": "aucune offre utilisable à portée.",
        "why_signed": "ses deux semaines sont signées (conventions).",
        "why_status": "statut « {status} » : l'élève n'est pas à placer.",
        BOTH: "deux semaines",
        WEEK1: "semaine 1",
        WEEK2: "semaine 2",
        PAIR: "mutualisée",
        SIGNED: "semaine {w} (convention)",
        "current": " (actuelle)",
        "impossible": "-",
        "no_move": "aucun",
        "move": "{student} vers {offer}",
        "preferred": "{sector} (choix {rank})",
        "footnote": "« - » : aucune chaîne de déplacements d'élèves placés deux semaines à une "
                    "même offre (ou d'une semaine) ne libère cette offre.",
    },
    "en": {
        "header": "Pupil {id}: school {school}{priority}; now: {now}",
        "priority": ", priority",
        "now_none": "no internship",
        "now_weeks": "week 1: {w1}, week 2: {w2}",
        "none": "none",
        "count": "{n} possible offer(s){shown}, ranked by pupils to move, preferred sector "
                 "then travel:",
        "shown": " (the first {k} below)",
        "nothing": "No possible offer for this pupil: {why}",
        "why_reach": "no usable offer within reach.",
        "why_signed": "both weeks are signed (conventions).",
        "why_status": "status '{status}': the pupil is not to be placed.",
        BOTH: "both weeks",
        WEEK1: "week 1",
        WEEK2: "week 2",
        PAIR: "mutualised",
        SIGNED: "week {w} (convention)",
        "current": " (current)",
        "impossible": "-",
        "no_move": "none",
        "move": "{student} to {offer}",
        "preferred": "{sector} (choice {rank})",
        "footnote": "'-': no chain of moves of pupils placed at one offer for both weeks (or "
                    "for one week) frees this offer.",
    },
}

# Longest chain searched: an offer that needs more moves is reported as not freed.
MAX_MOVES = 4

COLUMNS = {
    "fr": ("rang", "offre", "semaines", "trajet (min)", "libres S1/S2", "secteur", "à déplacer",
           "déplacements"),
    "en": ("rank", "offer", "weeks", "travel (min)", "free W1/W2", "sector", "to move",
           "moves"),
}

CSV_COLUMNS = ("rank", "offer_id", "partner_offer_id", "weeks", "minutes", "free_week1",
               "free_week2", "sector", "sector_rank", "moves", "moved", "current")


@dataclass(frozen=True)
class Suggestion:
    """One offer for the pupil. `offer` hosts them in week 1 (or both weeks); `partner` is the
    pair's week-2 offer (-1 otherwise). `moves` is None when no searched chain frees it;
    `moved` lists (pupil, offer it moves to) along the chain."""

    offer: int
    partner: int
    weeks: str
    minutes: float
    free: tuple[int, int]
    sector_rank: int | None
    moves: int | None
    moved: tuple[tuple[int, int], ...]
    current: bool


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


def layer_state(instance: Instance, roles: OfferRoles, week: np.ndarray, layer: str) -> Layer:
    """`both`: singles (both weeks at one unpaired offer, nothing signed) and offers with a
    seat free in both weeks; `week1`/`week2`: that week's one-week stays (unsigned, unpaired,
    the other week elsewhere) and offers with a seat free that week."""
    st, of, fixed = instance.students, instance.offers, instance.fixed
    left = seats_left(instance, week)
    a, b = week[:, 0], week[:, 1]
    if layer == BOTH:
        role = roles.single
        movable = (st.to_place & (fixed < 0).all(axis=1) & (a >= 0) & (a == b)
                   & role[np.maximum(a, 0)])
        return Layer(role, role & (left[:, 0] > 0) & (left[:, 1] > 0), a.copy(),
                     np.full(st.n, -1, dtype=np.int64), movable)
    w = 0 if layer == WEEK1 else 1
    role = roles.week[w]
    holds, other = week[:, w].copy(), week[:, 1 - w].copy()
    o = np.maximum(holds, 0)
    movable = (st.to_place & (fixed[:, w] < 0) & (holds >= 0) & role[o] & (of.pair[o] < 0)
               & (holds != other))
    return Layer(role, role & (left[:, w] > 0), holds, other, movable)


def move_chains(instance: Instance, reach: Reach, roles: OfferRoles, week: np.ndarray,
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
    state = layer_state(instance, roles, week, layer)
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


def released(instance: Instance, week: np.ndarray, s: int) -> np.ndarray:
    """The allocation with pupil `s`'s unsigned weeks freed."""
    out = week.copy()
    unsigned = instance.fixed[s] < 0
    out[s, unsigned] = -1
    return out


def suggest(instance: Instance, week: np.ndarray, reach: Reach, travel: PupilTravel,
            s: int) -> list[Suggestion]:
    """Every offer pupil `s` may take, ranked (see the module docstring)."""
    st, of, fixed = instance.students, instance.offers, instance.fixed
    if st.status[s] != "" or (fixed[s] >= 0).all():
        return []
    roles = offer_roles(instance)
    offers = reach.row(s)[0].astype(np.int64)
    offers = offers[usable(instance, s, offers) & (of.pair[offers] < 0)]
    minutes = dict(zip(offers.tolist(), exact_minutes(instance, np.full(len(offers), s), offers,
                                                      travel).tolist(), strict=True))
    free_now = seats_left(instance, week)
    base = released(instance, week, s)
    left = seats_left(instance, base)
    signed = [w for w in (0, 1) if fixed[s, w] >= 0]
    wanted: list[tuple[int, int, str]] = []  # (offer, partner, weeks)
    if not signed:
        wanted += [(int(o), -1, BOTH) for o in offers[roles.single[offers]]]
        for w, label in ((0, WEEK1), (1, WEEK2)):
            wanted += [(int(o), -1, label) for o in offers[roles.week[w][offers]
                                                          & ~roles.single[offers]]]
    else:
        w = 1 - signed[0]
        label = WEEK1 if w == 0 else WEEK2
        wanted += [(int(o), -1, label) for o in offers[roles.week[w][offers]
                                                      & ~roles.single[offers]]]
        ext = int(extensions(instance, reach)[s])
        if ext >= 0:
            wanted.append((ext, -1, SIGNED))
            minutes[ext] = float(exact_minutes(instance, np.array([s]), np.array([ext]),
                                               travel)[0])
    layers = {BOTH: BOTH, WEEK1: WEEK1, WEEK2: WEEK2, SIGNED: BOTH}
    chains: dict[str, Chains] = {}
    for layer in sorted({layers[k] for _, _, k in wanted}):
        targets = np.array([o for o, _, k in wanted if layers[k] == layer], dtype=np.int64)
        chains[layer] = move_chains(instance, reach, roles, base, layer, targets)
    out = []
    for o, partner, kind in wanted:
        c = chains[layers[kind]]
        if kind == SIGNED:
            w = 1 - signed[0]
            moves = 0 if left[o, w] > 0 else (int(c.dist[o]) if c.dist[o] >= 0 else None)
        else:
            moves = int(c.dist[o]) if c.dist[o] >= 0 else None
        moved = c.chain(o) if moves else ()
        current = bool((week[s] == o).any())
        out.append(Suggestion(o, partner, kind, minutes[o],
                              (int(free_now[o, 0]), int(free_now[o, 1])),
                              _sector_rank(instance, s, o), moves, moved, current))
    if not signed:
        out += _pair_suggestions(instance, week, base, reach, travel, s, free_now)
    out.sort(key=lambda x: (x.moves is None, x.moves or 0,
                            x.sector_rank if x.sector_rank is not None else 1 << 30,
                            x.minutes, str(of.ids[x.offer]), x.partner))
    return out


def _sector_rank(instance: Instance, s: int, o: int) -> int | None:
    prefs = instance.students.sectors[s]
    sector = instance.offers.sector[o]
    return prefs.index(sector) + 1 if sector in prefs else None


def _pair_suggestions(instance: Instance, week: np.ndarray, base: np.ndarray, reach: Reach,
                      travel: PupilTravel, s: int, free_now: np.ndarray) -> list[Suggestion]:
    """Each reachable pair direction: 0 moves when it has room and its minimum group holds."""
    of, pairs = instance.offers, instance.pairs
    if pairs.n == 0:
        return []
    row = reach.row(s)[0].astype(np.int64)
    row = row[usable(instance, s, row) & (of.pair[row] >= 0)]
    left = seats_left(instance, base)
    count = pair_counts(instance, base)
    out = []
    for k in np.unique(of.pair[row]):
        a, b = (int(x) for x in pairs.offers[k])
        if not np.isin([a, b], row).all():
            continue
        m = exact_minutes(instance, np.array([s, s]), np.array([a, b]), travel)
        for x, y in ((a, b), (b, a)):
            if not (of.open_week[x, 0] and of.open_week[y, 1]):
                continue
            ok = left[x, 0] > 0 and left[y, 1] > 0 and count[k] + 1 >= pairs.min_group[k]
            minutes = float(max(m)) if x == a else float(max(m[::-1]))
            current = bool(week[s, 0] == x and week[s, 1] == y)
            out.append(Suggestion(x, y, PAIR, minutes,
                                  (int(free_now[x, 0]), int(free_now[y, 1])),
                                  _sector_rank(instance, s, x), 0 if ok else None, (), current))
    return out


def _num(x: float, language: str) -> str:
    text = f"{x:.1f}"
    return text.replace(".", ",") if language == "fr" else text


def suggestions_table(instance: Instance, week: np.ndarray, s: int,
                      found: list[Suggestion], top: int, language: str = "fr") -> str:
    """The ranked suggestions as a plain-text table for people."""
    t = TEXT[language]
    st, of = instance.students, instance.offers
    now = (t["now_none"] if (week[s] < 0).all() else t["now_weeks"].format(
        w1=of.ids[week[s, 0]] if week[s, 0] >= 0 else t["none"],
        w2=of.ids[week[s, 1]] if week[s, 1] >= 0 else t["none"]))
    lines = [t["header"].format(id=st.ids[s], school=st.school[s],
                                priority=t["priority"] if st.priority[s] else "", now=now)]
    if not found:
        if st.status[s] != "":
            why = t["why_status"].format(status=st.status[s])
        elif (instance.fixed[s] >= 0).all():
            why = t["why_signed"]
        else:
            why = t["why_reach"]
        return "\n".join(lines + [t["nothing"].format(why=why)]) + "\n"
    shown = found[:top]
    lines.append(t["count"].format(n=len(found), shown=t["shown"].format(k=len(shown))
                                   if len(shown) < len(found) else ""))
    rows: list[tuple[str, ...]] = [COLUMNS[language]]
    for i, x in enumerate(shown, 1):
        offer = str(of.ids[x.offer]) + (f" + {of.ids[x.partner]}" if x.partner >= 0 else "")
        weeks = t[x.weeks].format(w=2 if instance.fixed[s, 0] >= 0 else 1)
        sector = str(of.sector[x.offer]) or "-"
        if x.sector_rank is not None:
            sector = t["preferred"].format(sector=sector, rank=x.sector_rank)
        moves = t["impossible"] if x.moves is None else str(x.moves)
        moved = ", ".join(t["move"].format(student=st.ids[p], offer=of.ids[o])
                          for p, o in x.moved) or (t["no_move"] if x.moves == 0 else "")
        rows.append((str(i), offer + (t["current"] if x.current else ""), weeks,
                     _num(x.minutes, language), _free_text(instance, x), sector, moves,
                     moved))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  ".join(v.ljust(widths[c]) for c, v in enumerate(r[:-1])) + "  " + r[-1])
    if any(x.moves is None for x in shown):
        lines.append(t["footnote"])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _free_text(instance: Instance, x: Suggestion) -> str:
    """Free seats per week, `-` for a week the offer (a pair: its offer that week) is closed."""
    offers = (x.offer, x.partner if x.partner >= 0 else x.offer)
    return "/".join(str(x.free[w]) if instance.offers.open_week[offers[w], w] else "-"
                    for w in (0, 1))


def suggestions_csv(instance: Instance, found: list[Suggestion], top: int) -> str:
    """The ranked suggestions as CSV (`CSV_COLUMNS`), for programs."""
    st, of = instance.students, instance.offers
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, x in enumerate(found[:top], 1):
        writer.writerow((
            i, of.ids[x.offer], of.ids[x.partner] if x.partner >= 0 else "", x.weeks,
            f"{x.minutes:.1f}", x.free[0], x.free[1], of.sector[x.offer],
            "" if x.sector_rank is None else x.sector_rank,
            "" if x.moves is None else x.moves,
            "|".join(f"{st.ids[p]}>{of.ids[o]}" for p, o in x.moved), int(x.current)))
    return out.getvalue()
