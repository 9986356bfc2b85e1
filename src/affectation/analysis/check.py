"""The independent checker: does an `assignments.csv` respect every hard rule of the inputs?

Every rule is re-derived from the input files and the public contract (spec: formats.md),
never from the solver's code: this module only uses the input readers, the table reader and
the travel module (crowfly formula, or the scenario's timetables or matrix: `exact_minutes`),
so that a solver bug cannot hide itself. All
violations are collected, not only the first one; messages are in French for coordinators.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.io.tables import Table, read_table
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes, pupil_travel

COLUMNS = (
    "student_id", "school_id", "week1_offer_id", "week2_offer_id",
    "week1_minutes", "week2_minutes", "kind", "reason",
)
PLACEMENT_KINDS = ("single", "split", "mutualised", "partial", "unplaced")
STATUS_KINDS = ("self_placed", "exempt")
KINDS = PLACEMENT_KINDS + STATUS_KINDS
REASON_KINDS = ("partial", "unplaced")
MINUTES_TOLERANCE = 0.05 + 1e-9
MAX_LISTED = 10  # pupils named in one capacity or min_group message
NONE, UNKNOWN = -1, -2  # week cells: no offer, an offer id absent from offers.csv


@dataclass(frozen=True)
class Violation:
    """One broken rule: `rule` is a short identifier, `message` says what and where (French)."""

    rule: str
    message: str
    student_id: str | None = None

    def __str__(self) -> str:
        if self.student_id is None:
            return f"[{self.rule}] {self.message}"
        return f"[{self.rule}] {self.student_id}: {self.message}"


def check_files(scenario: Path, assignments: Path) -> list[Violation]:
    """Check `assignments` (an assignments.csv) against the scenario's inputs.

    Raises `InputError` when the scenario or its inputs are invalid, or when the assignments
    file cannot be read as a table with a `student_id` column.
    """
    instance = load_instance(Path(scenario))
    table = read_table(Path(assignments), ("student_id",))
    return check_allocation(instance, table)


def check_allocation(instance: Instance, table: Table | pd.DataFrame) -> list[Violation]:
    """Every violation of the hard rules by the assignments `table` (read as strings)."""
    frame = table.frame if isinstance(table, Table) else table
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        return [Violation("rows", "colonne(s) manquante(s) dans assignments.csv : "
                          + ", ".join(missing))]
    text = {c: frame[c].fillna("").astype(str).str.strip().to_numpy(dtype=object)
            for c in COLUMNS}
    lines = table.lines if isinstance(table, Table) else None
    return _Checker(instance, text, lines).run()


class _Checker:
    """Aligns the assignment rows on the input pupils, then applies each rule in turn."""

    def __init__(self, instance: Instance, text: dict[str, np.ndarray],
                 lines: np.ndarray | None = None) -> None:
        self.inst = instance
        self.text = text
        self.out: list[Violation] = []
        st, of = instance.students, instance.offers
        self.ids = st.ids
        n_rows = len(text["student_id"])
        # The file line of each row (a quoted cell may span lines); else header + row.
        self.row_line = lines if lines is not None else np.arange(n_rows) + 2
        self.student_line = (st.lines if st.lines is not None
                             else np.arange(st.n, dtype=np.int64) + 2)
        # Rows -> pupils: unknown ids give -1; a duplicated id counts at its first row only.
        self.pupil_of_row = pd.Index(st.ids).get_indexer(text["student_id"])
        self.duplicate = pd.Series(text["student_id"]).duplicated(keep="first").to_numpy()
        first = (self.pupil_of_row >= 0) & ~self.duplicate
        self.first_rows = np.flatnonzero(first)
        self.row_of = np.full(st.n, -1, dtype=np.int64)
        self.row_of[self.pupil_of_row[first]] = self.first_rows
        self.present = self.row_of >= 0
        self.pupils = np.flatnonzero(self.present)
        rows = self.row_of[self.pupils]

        def per_pupil(column: str) -> np.ndarray:
            values = np.full(st.n, "", dtype=object)
            values[self.pupils] = text[column][rows]
            return values

        self.kind = per_pupil("kind")
        self.reason = per_pupil("reason")
        self.school = per_pupil("school_id")
        self.offer_text = np.stack([per_pupil("week1_offer_id"), per_pupil("week2_offer_id")],
                                   axis=1)
        self.minutes_text = np.stack([per_pupil("week1_minutes"), per_pupil("week2_minutes")],
                                     axis=1)
        index = pd.Index(of.ids)
        self.allocation = np.full((st.n, 2), NONE, dtype=np.int64)
        for w in (0, 1):
            found = index.get_indexer(self.offer_text[:, w])
            self.allocation[:, w] = np.where(self.offer_text[:, w] == "", NONE,
                                             np.where(found < 0, UNKNOWN, found))
        self.known = self.allocation >= 0
        self.offer = np.maximum(self.allocation, 0)  # safe index; use with `known`
        self.covered = self.known & (self.allocation == instance.fixed)  # signed convention weeks
        travel = pupil_travel(instance)
        self.limit = travel.limit_minutes
        self.minutes = np.full((st.n, 2), np.nan)
        for w in (0, 1):
            s = np.flatnonzero(self.known[:, w])
            self.minutes[s, w] = exact_minutes(instance, s, self.allocation[s, w], travel)

    def run(self) -> list[Violation]:
        for rule in (self.rows, self.unknown_offer, self.status, self.kinds, self.period,
                     self.capacity, self.travel_limit, self.reserved, self.accessible,
                     self.exclusion, self.pair, self.min_group, self.split_rule, self.convention,
                     self.minutes_rule, self.reason_rule):
            rule()
        return self.out

    # -- helpers --------------------------------------------------------------------------

    def add(self, rule: str, message: str, pupil: int | None = None,
            student_id: str | None = None) -> None:
        sid = str(self.ids[pupil]) if pupil is not None else student_id
        self.out.append(Violation(rule, message, sid))

    def oid(self, pupil: int, w: int) -> str:
        return str(self.offer_text[pupil, w])

    def per_week(self, rule: str, flags: np.ndarray,
                 describe: Callable[[int, int, str], str]) -> None:
        """One violation per flagged (pupil, week); one for both weeks at the same offer."""
        same = self.known[:, 0] & (self.allocation[:, 0] == self.allocation[:, 1])
        for p, w in np.argwhere(flags):
            both = bool(flags[p, 0] and flags[p, 1] and same[p])
            if both and w == 1:
                continue
            label = "semaines 1 et 2" if both else f"semaine {w + 1}"
            self.add(rule, describe(int(p), int(w), label), int(p))

    def grouped(self, keys: np.ndarray, pupils: np.ndarray) -> Callable[[int], np.ndarray]:
        """A lookup key -> its pupils (in input order), built once by sorting."""
        order = np.lexsort((pupils, keys))
        keys, pupils = keys[order], pupils[order]

        def lookup(key: int) -> np.ndarray:
            lo, hi = np.searchsorted(keys, [key, key + 1])
            return pupils[lo:hi]

        return lookup

    def names(self, pupils: np.ndarray) -> str:
        shown = ", ".join(str(self.ids[p]) for p in pupils[:MAX_LISTED])
        rest = len(pupils) - MAX_LISTED
        return shown + (f" et {rest} autre(s)" if rest > 0 else "")

    # -- rules ----------------------------------------------------------------------------

    def rows(self) -> None:
        """One row per input pupil, in input order, with the input's school."""
        ids_text = self.text["student_id"]
        for r in np.flatnonzero(self.pupil_of_row < 0):
            sid = str(ids_text[r]) or None
            what = "identifiant vide" if sid is None else "élève absent de students.csv"
            self.add("rows", f"ligne {self.row_line[r]} : {what}", student_id=sid)
        for r in np.flatnonzero((self.pupil_of_row >= 0) & self.duplicate):
            p = self.pupil_of_row[r]
            self.add("rows", f"ligne {self.row_line[r]} : élève en double (déjà ligne "
                     f"{self.row_line[self.row_of[p]]})", int(p))
        for p in np.flatnonzero(~self.present):
            self.add("rows", f"absent de assignments.csv (ligne {self.student_line[p]} de "
                     "students.csv)", int(p))
        for r in self.first_rows[_out_of_order(self.pupil_of_row[self.first_rows])]:
            p = self.pupil_of_row[r]
            self.add("rows", f"ligne {self.row_line[r]} : hors de l'ordre de students.csv "
                     f"(élève de la ligne {self.student_line[p]})", int(p))
        st = self.inst.students
        for p in self.pupils[self.school[self.pupils] != st.school[self.pupils]]:
            self.add("rows", f"school_id « {self.school[p]} » au lieu de « {st.school[p]} »",
                     int(p))

    def unknown_offer(self) -> None:
        """Week offer ids exist in offers.csv."""
        for p, w in np.argwhere(self.allocation == UNKNOWN):
            self.add("unknown_offer", f"semaine {w + 1} : offre « {self.oid(p, w)} » absente "
                     "de offers.csv", int(p))

    def status(self) -> None:
        """Self-placed and exempt pupils keep their status and get no offer."""
        status = self.inst.students.status
        p_ = self.pupils
        has_status = p_[status[p_] != ""]
        for p in has_status[self.kind[has_status] != status[has_status]]:
            self.add("status", f"statut « {status[p]} » dans students.csv : kind "
                     f"« {self.kind[p]} » au lieu de « {status[p]} »", int(p))
        for p in has_status[(self.allocation[has_status] != NONE).any(axis=1)]:
            given = " / ".join(self.offer_text[p, w] or "-" for w in (0, 1))
            self.add("status", f"statut « {status[p]} » : aucune offre attendue, trouvé "
                     f"{given}", int(p))
        to_place = p_[(status[p_] == "") & np.isin(self.kind[p_], STATUS_KINDS)]
        for p in to_place:
            self.add("status", f"élève à placer (sans statut dans students.csv) : kind "
                     f"« {self.kind[p]} » interdit", int(p))

    def derived_kinds(self) -> np.ndarray:
        """The kind the two weeks give (statuses aside)."""
        pair = self.inst.offers.pair
        a, b = self.allocation[:, 0], self.allocation[:, 1]
        ha, hb = self.known[:, 0], self.known[:, 1]
        pa = np.where(ha, pair[self.offer[:, 0]], -1)
        pb = np.where(hb, pair[self.offer[:, 1]], -1)
        both = ha & hb
        kind = np.full(len(a), "unplaced", dtype=object)
        kind[ha ^ hb] = "partial"
        kind[both & (a == b)] = "single"
        kind[both & (a != b)] = "split"
        kind[both & (a != b) & (pa >= 0) & (pa == pb)] = "mutualised"
        return kind

    def kinds(self) -> None:
        """The written kind is the one the weeks give."""
        status = self.inst.students.status
        derived = self.derived_kinds()
        p_ = self.pupils
        p_ = p_[(status[p_] == "") & ~np.isin(self.kind[p_], STATUS_KINDS)]
        for p in p_[~np.isin(self.kind[p_], KINDS)]:
            self.add("kind", f"kind « {self.kind[p]} » inconnu (attendu : "
                     + ", ".join(KINDS) + ")", int(p))
        p_ = p_[np.isin(self.kind[p_], KINDS) & (self.allocation[p_] != UNKNOWN).all(axis=1)]
        for p in p_[self.kind[p_] != derived[p_]]:
            self.add("kind", f"kind « {self.kind[p]} » alors que les semaines "
                     f"({self.oid(p, 0) or '-'} / {self.oid(p, 1) or '-'}) donnent "
                     f"« {derived[p]} »", int(p))

    def period(self) -> None:
        """An offer is used only in a week it runs; a withdrawn offer (capacity 0) never."""
        of = self.inst.offers
        closed = self.known & ~of.open_week[self.offer, [0, 1]]

        def describe(p: int, w: int, label: str) -> str:
            o = self.offer[p, w]
            if of.capacity[o] == 0:
                return f"{label} : offre {of.ids[o]} retirée (capacité 0)"
            return (f"{label} : offre {of.ids[o]} fermée cette semaine "
                    f"(période {of.period[o]})")

        self.per_week("period", closed, describe)

    def capacity(self) -> None:
        """Per offer and open week, no more pupils than places."""
        of = self.inst.offers
        count = np.zeros((of.n, 2), dtype=np.int64)
        for w in (0, 1):
            count[:, w] = np.bincount(self.offer[self.known[:, w], w], minlength=of.n)
        over = (count > of.capacity[:, None]) & of.open_week
        if not over.any():
            return
        hosts = []
        for w in (0, 1):
            pupils = np.flatnonzero(self.known[:, w])
            hosts.append(self.grouped(self.allocation[pupils, w], pupils))
        for o, w in np.argwhere(over):
            hosted = hosts[w](o)
            self.add("capacity", f"offre {of.ids[o]}, semaine {w + 1} : {count[o, w]} élèves "
                     f"pour {of.capacity[o]} place(s) ({self.names(hosted)})")

    def travel_limit(self) -> None:
        """Outside signed conventions, the exact crowfly minutes are within the pupil's limit."""
        modes = self.inst.scenario.travel.mode_names
        mode = self.inst.students.mode
        with np.errstate(invalid="ignore"):
            far = self.known & ~self.covered & (self.minutes > self.limit[:, None])

        def describe(p: int, w: int, label: str) -> str:
            if np.isinf(self.minutes[p, w]):  # timetable or matrix: no journey at all
                return (f"{label} : offre {self.oid(p, w)} injoignable dans la limite de "
                        f"{self.limit[p]:g} min ({modes[mode[p]]}, modèle "
                        f"{self.inst.scenario.travel.model})")
            return (f"{label} : offre {self.oid(p, w)} à {self.minutes[p, w]:.1f} min, "
                    f"au-delà de la limite de {self.limit[p]:g} min ({modes[mode[p]]})")

        self.per_week("travel_limit", far, describe)

    def reserved(self) -> None:
        """A reserved offer hosts priority pupils only."""
        of, st = self.inst.offers, self.inst.students
        bad = self.known & of.reserved[self.offer] & ~st.priority[:, None]
        self.per_week("reserved", bad, lambda p, w, label: (
            f"{label} : offre {self.oid(p, w)} réservée aux élèves prioritaires, "
            "élève non prioritaire"))

    def accessible(self) -> None:
        """A pupil who needs accessibility is placed at accessible offers only (conventions
        included: they were validated against this rule at input)."""
        of, st = self.inst.offers, self.inst.students
        bad = self.known & ~of.accessible[self.offer] & st.needs_accessible[:, None]
        self.per_week("accessible", bad, lambda p, w, label: (
            f"{label} : offre {self.oid(p, w)} non accessible (handicap), "
            "élève ayant besoin d'une offre accessible"))

    def exclusion(self) -> None:
        """A pairing listed in exclusions.csv (declined) is never in the allocation."""
        excl = self.inst.exclusions
        if excl.n == 0:
            return
        line = {(int(s), int(o)): int(n) for s, o, n in zip(excl.student, excl.offer, excl.line,
                                                             strict=True)}
        bad = np.zeros(self.known.shape, dtype=bool)
        for w in (0, 1):
            bad[:, w] = self.known[:, w] & np.isin(
                np.arange(len(self.known)) * self.inst.offers.n + self.offer[:, w],
                excl.student * self.inst.offers.n + excl.offer)
        self.per_week("exclusion", bad, lambda p, w, label: (
            f"{label} : offre {self.oid(p, w)} refusée pour cet élève (ligne "
            f"{line[(p, int(self.offer[p, w]))]} de exclusions.csv)"))

    def partners(self) -> np.ndarray:
        of, pairs = self.inst.offers, self.inst.pairs
        partner = np.full(of.n, -1, dtype=np.int64)
        partner[pairs.offers[:, 0]] = pairs.offers[:, 1]
        partner[pairs.offers[:, 1]] = pairs.offers[:, 0]
        return partner

    def pair(self) -> None:
        """A paired offer hosts a pupil one week, the partner offer hosting them the other."""
        of = self.inst.offers
        partner = self.partners()
        paired = self.known & (of.pair[self.offer] >= 0)
        bad = paired & (self.allocation[:, ::-1] != partner[self.offer])

        def describe(p: int, w: int, label: str) -> str:
            o = self.offer[p, w]
            k = of.pair[o]
            return (f"{label} : offre mutualisée {of.ids[o]} (paire {self.inst.pairs.ids[k]}) "
                    f"sans l'offre partenaire {of.ids[partner[o]]} pour l'autre semaine")

        self.per_week("pair", bad, describe)

    def min_group(self) -> None:
        """Each pair hosts nobody or at least its `min_group` pupils (both directions)."""
        of, pairs = self.inst.offers, self.inst.pairs
        if pairs.n == 0:
            return
        k = np.where(self.known, of.pair[self.offer], -1)
        second = np.where(k[:, 1] != k[:, 0], k[:, 1], -1)  # a pupil counts once per pair
        members = np.concatenate([k[:, 0], second])
        count = np.bincount(members[members >= 0], minlength=pairs.n)
        small = np.flatnonzero((count > 0) & (count < pairs.min_group))
        if not len(small):
            return
        pupil = np.tile(np.arange(len(k)), 2)
        hosts = self.grouped(members[members >= 0], pupil[members >= 0])
        conv = self.inst.conventions
        signed_pair = of.pair[conv.offer]
        for q in small:
            a, b = pairs.offers[q]
            signed = len(np.unique(conv.student[signed_pair == q]))
            note = f", dont {signed} par convention signée" if signed else ""
            self.add("min_group", f"paire {pairs.ids[q]} (offres {of.ids[a]} et {of.ids[b]}) : "
                     f"{count[q]} élève(s){note}, minimum {pairs.min_group[q]} ou aucun "
                     f"({self.names(hosts(int(q)))})")

    def split_rule(self) -> None:
        """Without `split_two_week_offers`, a two-week offer hosts one-week stays only if signed."""
        if self.inst.scenario.rules.split_two_week_offers:
            return
        of = self.inst.offers
        two_week = of.open_week.all(axis=1) & (of.pair < 0)
        alone = self.known & two_week[self.offer] & (self.allocation[:, ::-1] != self.allocation)
        bad = alone & ~self.covered
        self.per_week("split_rule", bad, lambda p, w, label: (
            f"{label} seule à l'offre {self.oid(p, w)}, ouverte les deux semaines, sans "
            "convention signée pour cette semaine (split_two_week_offers = false)"))

    def convention(self) -> None:
        """Every signed (pupil, week, offer) is in the allocation as signed."""
        conv = self.inst.conventions
        of = self.inst.offers
        if conv.n == 0:
            return
        s, w0 = conv.student, conv.week - 1
        bad = self.present[s] & (self.allocation[s, w0] != conv.offer)
        for c in np.flatnonzero(bad):
            p, w = int(s[c]), int(w0[c])
            file = "conventions.csv"
            if conv.from_pending(int(c)):
                pending = self.inst.scenario.inputs.pending
                file = pending.name if pending is not None else "pending"
            where = (f"ligne {conv.line[c]} de {file}" if conv.line[c]
                     else "semaine impliquée par une paire signée")
            found = f"offre {self.oid(p, w)}" if self.offer_text[p, w] else "aucune offre"
            self.add("convention", f"convention signée ({where}) : semaine {w + 1} à l'offre "
                     f"{of.ids[conv.offer[c]]}, trouvé {found}", p)

    def minutes_rule(self) -> None:
        """Minutes are written iff the week has an offer that some journey serves (a signed
        convention out of the timetable's or matrix's reach has none), and match the exact
        time."""
        p_ = self.pupils
        for w in (0, 1):
            mt = self.minutes_text[p_, w]
            has_offer = self.allocation[p_, w] != NONE
            no_journey = self.known[p_, w] & np.isinf(self.minutes[p_, w])
            for p in p_[has_offer & (mt == "") & ~no_journey]:
                self.add("minutes", f"semaine {w + 1} : temps de trajet manquant (offre "
                         f"{self.oid(p, w)})", int(p))
            for p in p_[no_journey & (mt != "")]:
                self.add("minutes", f"semaine {w + 1} : « {self.minutes_text[p, w]} » min "
                         f"écrit, aucun trajet ne dessert l'offre {self.oid(p, w)} (case "
                         "vide attendue)", int(p))
            for p in p_[~has_offer & (mt != "")]:
                self.add("minutes", f"semaine {w + 1} : temps de trajet « "
                         f"{self.minutes_text[p, w]} » sans offre", int(p))
            check = p_[self.known[p_, w] & (mt != "") & ~np.isinf(self.minutes[p_, w])]
            written = self.minutes_text[check, w].astype(str)
            value = pd.to_numeric(pd.Series(written), errors="coerce").to_numpy(dtype=float)
            exact = self.minutes[check, w]
            expected = np.array([f"{m:.1f}" for m in exact], dtype=object)
            with np.errstate(invalid="ignore"):
                ok = (written == expected) | (np.abs(value - exact) <= MINUTES_TOLERANCE)
            for i in np.flatnonzero(~ok):
                p = check[i]
                self.add("minutes", f"semaine {w + 1} : « {written[i]} » min écrit, "
                         f"{expected[i]} min calculé (offre {self.oid(p, w)})", int(p))

    def reason_rule(self) -> None:
        """`partial` and `unplaced` rows say why; other kinds carry no reason."""
        p_ = self.pupils
        needs = np.isin(self.kind[p_], REASON_KINDS)
        for p in p_[needs & (self.reason[p_] == "")]:
            self.add("reason", f"kind « {self.kind[p]} » sans raison", int(p))
        other = np.isin(self.kind[p_], KINDS) & ~needs
        # A signed week no journey serves is said in the reason, whatever the kind.
        no_journey = (self.known[p_] & np.isinf(self.minutes[p_])).any(axis=1)
        for p in p_[no_journey & (self.reason[p_] == "")]:
            self.add("reason", "convention hors de portée du réseau sans raison", int(p))
        for p in p_[other & (self.reason[p_] != "") & ~no_journey]:
            self.add("reason", f"raison inattendue pour kind « {self.kind[p]} » : "
                     f"« {self.reason[p]} »", int(p))


def _out_of_order(seq: np.ndarray) -> np.ndarray:
    """Positions outside one longest increasing subsequence of `seq`: the rows to move."""
    if len(seq) < 2 or bool(np.all(np.diff(seq) > 0)):
        return np.zeros(0, dtype=np.int64)
    tails: list[int] = []
    tail_pos: list[int] = []
    prev = np.full(len(seq), -1, dtype=np.int64)
    for i, v in enumerate(seq.tolist()):
        j = bisect_left(tails, v)
        if j == len(tails):
            tails.append(v)
            tail_pos.append(i)
        else:
            tails[j] = v
            tail_pos[j] = i
        prev[i] = tail_pos[j - 1] if j > 0 else -1
    keep = np.zeros(len(seq), dtype=bool)
    i = tail_pos[-1]
    while i >= 0:
        keep[i] = True
        i = int(prev[i])
    return np.flatnonzero(~keep)


__all__ = ["Violation", "check_allocation", "check_files"]
