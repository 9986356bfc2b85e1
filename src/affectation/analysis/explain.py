"""`affectation explain`: the whole story of one pupil, from the inputs and a result folder.

The pupil's placement and reason as written; their travel mode and limit; the offers within
reach (all of them up to `LISTED_OFFERS`, else the nearest), each with its travel time,
period, capacity, flags and the pupils holding its seats in each week; and, for a pupil not
placed for both weeks, what would free a seat: a holder of a nearby offer who could move to
another offer with a free seat within their own reach, else one more seat at the nearest
offer. Every statement is derived from the inputs and `assignments.csv`. French by default,
English with `[output] language = "en"`.
"""

from __future__ import annotations

import numpy as np

from affectation.analysis.reasons import MODE_WORDS
from affectation.domain.allocation import PreviousResult
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, offer_roles, usable
from affectation.travel.reach import PupilTravel, exact_minutes, pupil_travel, reachable

LISTED_OFFERS = 20
# Offers (nearest first) whose holders are examined for a move that would free a seat.
EXAMINED_OFFERS = 60

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "header": "Élève {id} : lycée {school}{priority}",
        "priority": ", prioritaire",
        "kind": "Situation : {kind}",
        "weeks": "Semaine 1 : {w1} ; semaine 2 : {w2}",
        "none": "aucune offre",
        "no_journey": "convention signée, hors de portée du réseau de transport",
        "reason": "Raison : {reason}",
        "travel": "Déplacement : {mode}, {limit} min au plus (aller)",
        "reach_all": "Offres à portée : {n}",
        "reach_some": "Offres à portée : {n} (les {k} plus proches ci-dessous)",
        "reach_none": "Aucune offre active à portée.",
        "more": "  … et {n} autre(s) offre(s) à portée.",
        "offer": "  {id} : {minutes} min, {period}, capacité {capacity}{flags}",
        "reserved": ", réservée aux élèves prioritaires",
        "reserved_closed": ", réservée aux élèves prioritaires (pas pour cet élève)",
        "paired": ", mutualisée avec {partner}",
        "signed_here": ", convention signée par cet élève",
        "declined": ", refusée (exclusions.csv)",
        "week_line": "    semaine {w} : {holders} ({free})",
        "nobody": "personne",
        "free": "{n} place(s) libre(s)",
        "full": "complète",
        "mark_priority": "prioritaire",
        "mark_signed": "convention signée",
        "mark_self": "cet élève",
        "free_title": "Ce qui libérerait une place :",
        "free_exists": "  l'offre {offer} ({minutes} min) a déjà une place libre en {weeks}.",
        "move": "  à l'offre {offer} ({minutes} min), l'élève {holder} pourrait aller à l'offre "
                "{alt} ({alt_minutes} min pour lui ou elle, place libre en {weeks}) : sa place "
                "en {weeks} serait libérée.",
        "one_seat": "  une place de plus à l'offre {offer} ({minutes} min) en {weeks}.",
        "one_seat_and": "  une place de plus à l'offre {offer} ({minutes} min) en {weeks}, "
                        "et à l'offre {offer2} ({minutes2} min) en {weeks2}.",
        "no_seat": "  aucune offre utilisable à portée : il faudrait une offre{open} à moins de "
                   "{limit} min {mode}.",
        "open_to_all": " non réservée",
        "pairs_only": "  seules des offres mutualisées sont à portée : voir la raison.",
        "none_fit": "  aucune offre à portée n'accueille pour {weeks} : voir la raison.",
        "both_weeks": "semaines 1 et 2",
        "week": "semaine {w}",
        "unknown_student": "Élève inconnu : « {id} » n'est pas dans {file}.",
        "no_result": "Pas de fichier assignments.csv dans {dir} : lancez d'abord "
                     "« affectation solve ».",
    },
    "en": {
        "header": "Pupil {id}: school {school}{priority}",
        "priority": ", priority",
        "kind": "Status: {kind}",
        "weeks": "Week 1: {w1}; week 2: {w2}",
        "none": "no offer",
        "no_journey": "signed convention, out of the transport network's reach",
        "reason": "Reason: {reason}",
        "travel": "Travel: {mode}, at most {limit} min (one way)",
        "reach_all": "Offers within reach: {n}",
        "reach_some": "Offers within reach: {n} (the {k} nearest below)",
        "reach_none": "No active offer within reach.",
        "more": "  … and {n} more offer(s) within reach.",
        "offer": "  {id}: {minutes} min, {period}, capacity {capacity}{flags}",
        "reserved": ", reserved to priority pupils",
        "reserved_closed": ", reserved to priority pupils (not for this pupil)",
        "paired": ", mutualised with {partner}",
        "signed_here": ", convention signed by this pupil",
        "declined": ", declined (exclusions.csv)",
        "week_line": "    week {w}: {holders} ({free})",
        "nobody": "nobody",
        "free": "{n} free seat(s)",
        "full": "full",
        "mark_priority": "priority",
        "mark_signed": "signed convention",
        "mark_self": "this pupil",
        "free_title": "What would free a seat:",
        "free_exists": "  offer {offer} ({minutes} min) already has a free seat in {weeks}.",
        "move": "  at offer {offer} ({minutes} min), pupil {holder} could move to offer {alt} "
                "({alt_minutes} min for them, free seat in {weeks}): their seat in {weeks} "
                "would be freed.",
        "one_seat": "  one more seat at offer {offer} ({minutes} min) in {weeks}.",
        "one_seat_and": "  one more seat at offer {offer} ({minutes} min) in {weeks}, "
                        "and at offer {offer2} ({minutes2} min) in {weeks2}.",
        "no_seat": "  no usable offer within reach: it would take an{open} offer within "
                   "{limit} min {mode}.",
        "open_to_all": " unreserved",
        "pairs_only": "  only mutualised offers are within reach: see the reason.",
        "none_fit": "  no offer within reach hosts for {weeks}: see the reason.",
        "both_weeks": "weeks 1 and 2",
        "week": "week {w}",
        "unknown_student": "Unknown pupil: '{id}' is not in {file}.",
        "no_result": "No assignments.csv in {dir}: run 'affectation solve' first.",
    },
}

PERIODS = {
    "fr": {0: "deux semaines", 1: "semaine 1 seulement", 2: "semaine 2 seulement"},
    "en": {0: "both weeks", 1: "week 1 only", 2: "week 2 only"},
}
KINDS = {
    "fr": {
        "single": "placé(e) deux semaines à la même offre",
        "split": "placé(e) deux semaines, une semaine dans chacune de deux offres",
        "mutualised": "placé(e) deux semaines dans une offre mutualisée",
        "partial": "placé(e) une semaine seulement",
        "unplaced": "sans stage",
        "self_placed": "a trouvé son stage par lui-même ou elle-même",
        "exempt": "dispensé(e)",
    },
    "en": {
        "single": "placed for both weeks at one offer",
        "split": "placed for both weeks, one week at each of two offers",
        "mutualised": "placed for both weeks in a mutualised pair",
        "partial": "placed for one week only",
        "unplaced": "no internship",
        "self_placed": "found an internship on their own",
        "exempt": "exempt",
    },
}


def _num(x: float, language: str) -> str:
    """Minutes with one decimal (decimal comma in French)."""
    text = f"{x:.1f}"
    return text.replace(".", ",") if language == "fr" else text


def _limit(x: float, language: str) -> str:
    """A travel limit: whole minutes when it is whole."""
    return f"{x:.0f}" if x == round(x) else _num(x, language)


class _Story:
    """What is needed to tell one pupil's story."""

    def __init__(self, instance: Instance, result: PreviousResult, s: int, language: str) -> None:
        self.instance = instance
        self.result = result
        self.s = s
        self.language = language
        self.text = TEXT[language]
        self.travel: PupilTravel = pupil_travel(instance)
        self.roles: OfferRoles = offer_roles(instance)
        of = instance.offers
        self.used = np.zeros((of.n, 2), dtype=np.int64)
        for w in (0, 1):
            o = result.allocation[:, w]
            np.add.at(self.used[:, w], o[o >= 0], 1)
        self.free = of.seats - self.used
        one = np.zeros(instance.students.n, dtype=bool)
        one[s] = True
        row, _ = reachable(instance, self.travel, student_mask=one).row(s)
        minutes = exact_minutes(instance, np.full(len(row), s), row.astype(np.int64),
                                self.travel)
        order = np.lexsort((row, minutes))
        self.offers = row[order].astype(np.int64)
        self.minutes = minutes[order]

    def mode_words(self) -> str:
        """The pupil's travel mode in words (its name when the mode is not a usual one)."""
        name = self.instance.scenario.travel.mode_names[self.instance.students.mode[self.s]]
        return MODE_WORDS[self.language].get(name, f"({name})")

    def weeks_text(self, weeks: tuple[int, ...]) -> str:
        if len(weeks) == 2:
            return self.text["both_weeks"]
        return self.text["week"].format(w=weeks[0] + 1)

    def placement(self, w: int) -> str:
        o = int(self.result.allocation[self.s, w])
        if o < 0:
            return self.text["none"]
        m = exact_minutes(self.instance, np.array([self.s]), np.array([o]), self.travel)[0]
        if not np.isfinite(m):  # a signed convention no journey serves
            return f"{self.instance.offers.ids[o]} ({self.text['no_journey']})"
        return f"{self.instance.offers.ids[o]} ({_num(m, self.language)} min)"

    def holders(self, o: int, w: int) -> str:
        st, t = self.instance.students, self.text
        fixed = self.instance.fixed
        names = []
        for h in np.flatnonzero(self.result.allocation[:, w] == o):
            marks = [t["mark_self"]] if h == self.s else []
            if st.priority[h]:
                marks.append(t["mark_priority"])
            if fixed[h, w] == o:
                marks.append(t["mark_signed"])
            names.append(str(st.ids[h]) + (f" ({', '.join(marks)})" if marks else ""))
        free = int(self.free[o, w])
        state = t["free"].format(n=free) if free > 0 else t["full"]
        return t["week_line"].format(w=w + 1, holders=", ".join(names) or t["nobody"],
                                     free=state)

    def offer_lines(self, o: int, minutes: float) -> list[str]:
        inst, t = self.instance, self.text
        of = inst.offers
        flags = ""
        if of.reserved[o]:
            flags += t["reserved"] if inst.students.priority[self.s] else t["reserved_closed"]
        if of.pair[o] >= 0:
            a, b = inst.pairs.offers[of.pair[o]]
            flags += t["paired"].format(partner=of.ids[b if a == o else a])
        if (inst.fixed[self.s] == o).any():
            flags += t["signed_here"]
        if inst.exclusions.contains(self.s, o):
            flags += t["declined"]
        lines = [t["offer"].format(id=of.ids[o], minutes=_num(minutes, self.language),
                                   period=PERIODS[self.language][int(of.period[o])],
                                   capacity=int(of.capacity[o]), flags=flags)]
        lines += [self.holders(o, w) for w in (0, 1) if of.open_week[o, w]]
        return lines

    def needs(self) -> list[tuple[int, tuple[int, ...]]]:
        """Usable offers (nearest first) and the weeks the pupil would need there."""
        inst, s = self.instance, self.s
        of, roles = inst.offers, self.roles
        allocation = self.result.allocation[s]
        missing = tuple(w for w in (0, 1) if allocation[w] < 0)
        out: list[tuple[int, tuple[int, ...]]] = []
        for o in self.offers:
            if of.pair[o] >= 0 or not usable(inst, s, o):
                continue
            if len(missing) == 2 and roles.single[o]:
                out.append((int(o), (0, 1)))
            elif any(roles.week[w][o] for w in missing):
                out.append((int(o), tuple(w for w in missing if roles.week[w][o])[:1]))
        return out

    def alternative(self, h: int, o: int, weeks: tuple[int, ...],
                    reach_h: np.ndarray) -> tuple[int, float] | None:
        """Nearest other offer where holder `h` could take the weeks `weeks` it has at `o`."""
        inst = self.instance
        of = inst.offers
        role = self.roles.single if len(weeks) == 2 else self.roles.week[weeks[0]]
        cand = reach_h[(reach_h != o) & role[reach_h] & (of.pair[reach_h] < 0)
                       & usable(inst, h, reach_h)]
        cand = cand[(self.free[cand][:, list(weeks)] > 0).all(axis=1)]
        if not len(cand):
            return None
        minutes = exact_minutes(inst, np.full(len(cand), h), cand, self.travel)
        best = int(np.lexsort((cand, minutes))[0])
        return int(cand[best]), float(minutes[best])

    def freeing(self) -> list[str]:
        """What would free a seat for this pupil (not placed for both weeks)."""
        inst, t, s = self.instance, self.text, self.s
        of = inst.offers
        minutes_of = dict(zip(self.offers.tolist(), self.minutes.tolist(), strict=True))
        lines = [t["free_title"]]
        needs = self.needs()
        if not needs:
            usable_offers = self.offers[usable(inst, s, self.offers)]
            if len(usable_offers) and (of.pair[usable_offers] >= 0).all():
                return lines + [t["pairs_only"]]
            if len(usable_offers):
                missing = tuple(w for w in (0, 1) if self.result.allocation[s, w] < 0)
                return lines + [t["none_fit"].format(weeks=self.weeks_text(missing))]
            mode = self.mode_words()
            open_word = t["open_to_all"] if len(self.offers) else ""
            return lines + [t["no_seat"].format(
                open=open_word, limit=_limit(float(self.travel.limit_minutes[s]), self.language),
                mode=mode)]
        for o, weeks in needs:
            if (self.free[o, list(weeks)] > 0).all():
                return lines + [t["free_exists"].format(
                    offer=of.ids[o], minutes=_num(minutes_of[o], self.language),
                    weeks=self.weeks_text(weeks))]
        move = self.find_move(needs[:EXAMINED_OFFERS], minutes_of)
        if move is not None:
            return lines + [move]
        return lines + [self.one_more_seat(needs, minutes_of)]

    def find_move(self, needs: list[tuple[int, tuple[int, ...]]],
                  minutes_of: dict[int, float]) -> str | None:
        """The nearest offer where a holder could move to a free seat within their reach."""
        inst, t = self.instance, self.text
        st, of = inst.students, inst.offers
        allocation, fixed = self.result.allocation, inst.fixed
        movable = np.zeros(st.n, dtype=bool)
        for o, _ in needs:
            for w in (0, 1):
                movable |= (allocation[:, w] == o) & (fixed[:, w] != o)
        movable[self.s] = False
        if not movable.any():
            return None
        reach = reachable(inst, self.travel, student_mask=movable)
        for o, weeks in needs:
            full = {w for w in weeks if self.free[o, w] <= 0}
            options: list[tuple[float, int, int, tuple[int, ...]]] = []
            for h in (int(x) for x in np.flatnonzero(movable & (allocation == o).any(axis=1))):
                held = tuple(w for w in (0, 1) if allocation[h, w] == o)
                if not full <= set(held) or (fixed[h, list(held)] >= 0).any():
                    continue
                found = self.alternative(h, o, held, reach.row(h)[0].astype(np.int64))
                if found is not None:
                    options.append((found[1], h, found[0], held))
            if options:
                alt_minutes, holder, alt, held = min(options)
                return t["move"].format(
                    offer=of.ids[o], minutes=_num(minutes_of[o], self.language),
                    holder=st.ids[holder], alt=of.ids[alt],
                    alt_minutes=_num(alt_minutes, self.language),
                    weeks=self.weeks_text(held))
        return None

    def one_more_seat(self, needs: list[tuple[int, tuple[int, ...]]],
                      minutes_of: dict[int, float]) -> str:
        """One more seat at the nearest offer that would do (every one is full here): a
        two-week offer, else the nearest one-week offer of each week needed."""
        t, of, lang = self.text, self.instance.offers, self.language
        two = [o for o, weeks in needs if len(weeks) == 2]
        if two:
            o = two[0]
            return t["one_seat"].format(offer=of.ids[o], minutes=_num(minutes_of[o], lang),
                                        weeks=self.weeks_text((0, 1)))
        nearest: dict[int, int] = {}
        for o, weeks in needs:
            nearest.setdefault(weeks[0], o)
        seats = sorted(nearest.items())
        w, o = seats[0]
        if len(seats) == 1:
            return t["one_seat"].format(offer=of.ids[o], minutes=_num(minutes_of[o], lang),
                                        weeks=self.weeks_text((w,)))
        w2, o2 = seats[1]
        return t["one_seat_and"].format(
            offer=of.ids[o], minutes=_num(minutes_of[o], lang), weeks=self.weeks_text((w,)),
            offer2=of.ids[o2], minutes2=_num(minutes_of[o2], lang), weeks2=self.weeks_text((w2,)))

    def lines(self) -> list[str]:
        inst, t, s = self.instance, self.text, self.s
        st = inst.students
        kind = str(self.result.kind[s])
        out = [t["header"].format(id=st.ids[s], school=st.school[s],
                                  priority=t["priority"] if st.priority[s] else ""),
               t["kind"].format(kind=KINDS[self.language].get(kind, kind))]
        if (self.result.allocation[s] >= 0).any():
            out.append(t["weeks"].format(w1=self.placement(0), w2=self.placement(1)))
        if self.result.reason[s]:
            out.append(t["reason"].format(reason=self.result.reason[s]))
        limit = _limit(float(self.travel.limit_minutes[s]), self.language)
        out.append(t["travel"].format(mode=self.mode_words(), limit=limit))
        n = len(self.offers)
        if n == 0:
            out.append(t["reach_none"])
        elif n <= LISTED_OFFERS:
            out.append(t["reach_all"].format(n=n))
        else:
            out.append(t["reach_some"].format(n=n, k=LISTED_OFFERS))
        for o, m in zip(self.offers[:LISTED_OFFERS], self.minutes[:LISTED_OFFERS], strict=True):
            out += self.offer_lines(int(o), float(m))
        if n > LISTED_OFFERS:
            out.append(t["more"].format(n=n - LISTED_OFFERS))
        if kind in ("unplaced", "partial"):
            out += self.freeing()
        return out


def explain_student(instance: Instance, result: PreviousResult, student: int,
                    language: str | None = None) -> str:
    """The story of pupil `student` (index), in the scenario's language by default."""
    language = language or instance.scenario.output.language
    return "\n".join(_Story(instance, result, student, language).lines()) + "\n"
