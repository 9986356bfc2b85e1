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

import numpy as np

from affectation.domain.allocation import pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.candidates import extensions, offer_roles, usable
from affectation.engine.chains import BOTH, WEEK1, WEEK2, Chains, move_chains, released
from affectation.travel.reach import PupilTravel, Reach, exact_minutes

PAIR, SIGNED = "pair", "signed"

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


def suggest(instance: Instance, allocation: np.ndarray, reach: Reach, travel: PupilTravel,
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
    free_now = seats_left(instance, allocation)
    base = released(instance, allocation, s)
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
        current = bool((allocation[s] == o).any())
        out.append(Suggestion(o, partner, kind, minutes[o],
                              (int(free_now[o, 0]), int(free_now[o, 1])),
                              _sector_rank(instance, s, o), moves, moved, current))
    if not signed:
        out += _pair_suggestions(instance, allocation, base, reach, travel, s, free_now)
    out.sort(key=lambda x: (x.moves is None, x.moves or 0,
                            x.sector_rank if x.sector_rank is not None else 1 << 30,
                            x.minutes, str(of.ids[x.offer]), x.partner))
    return out


def _sector_rank(instance: Instance, s: int, o: int) -> int | None:
    prefs = instance.students.sectors[s]
    sector = instance.offers.sector[o]
    return prefs.index(sector) + 1 if sector in prefs else None


def _pair_suggestions(instance: Instance, allocation: np.ndarray, base: np.ndarray, reach: Reach,
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
            current = bool(allocation[s, 0] == x and allocation[s, 1] == y)
            out.append(Suggestion(x, y, PAIR, minutes,
                                  (int(free_now[x, 0]), int(free_now[y, 1])),
                                  _sector_rank(instance, s, x), 0 if ok else None, (), current))
    return out


def _num(x: float, language: str) -> str:
    text = f"{x:.1f}"
    return text.replace(".", ",") if language == "fr" else text


def suggestions_table(instance: Instance, allocation: np.ndarray, s: int,
                      found: list[Suggestion], top: int, language: str = "fr") -> str:
    """The ranked suggestions as a plain-text table for people."""
    t = TEXT[language]
    st, of = instance.students, instance.offers
    now = (t["now_none"] if (allocation[s] < 0).all() else t["now_weeks"].format(
        w1=of.ids[allocation[s, 0]] if allocation[s, 0] >= 0 else t["none"],
        w2=of.ids[allocation[s, 1]] if allocation[s, 1] >= 0 else t["none"]))
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
