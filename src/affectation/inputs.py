"""The problem data: students, offers and signed conventions, read and validated once.

Everything downstream works on these frozen, index-based arrays: a student or an offer is its
row number in the input file, so results can be written back in input order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from affectation.errors import InputError, Problem, raise_if_any
from affectation.params import Scenario, load_scenario
from affectation.tables import (
    Table,
    check_identifiers,
    parse_bool,
    parse_float,
    parse_int,
    read_table,
    report_rows,
)

SECTOR = re.compile(r"^s([1-9]|[1-4]\d|5[01])$")
STATUSES = ("", "self_placed", "exempt")


@dataclass(frozen=True, eq=False)
class Students:
    """Pupils in input order. `mode` indexes `Scenario.travel.mode_names`."""

    ids: np.ndarray
    school: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mode: np.ndarray
    max_minutes: np.ndarray
    priority: np.ndarray
    sectors: tuple[tuple[str, ...], ...]
    status: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def to_place(self) -> np.ndarray:
        """Pupils the engine allocates (no `self_placed` or `exempt` status)."""
        return self.status == ""


@dataclass(frozen=True, eq=False)
class Offers:
    """Offers in input order; `pair` is the index of the offer's mutualised pair or -1."""

    ids: np.ndarray
    employer_id: np.ndarray
    employer_name: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    capacity: np.ndarray
    period: np.ndarray
    sector: np.ndarray
    reserved: np.ndarray
    pair: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def open_week(self) -> np.ndarray:
        """Boolean (n, 2): is the offer open in week 1, week 2 (and not withdrawn)."""
        running = self.capacity > 0
        return np.stack([running & (self.period != 2), running & (self.period != 1)], axis=1)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Mutualised pairs: `offers[k] = (a, b)` offer indices; `min_group[k]` (0 = none)."""

    ids: np.ndarray
    offers: np.ndarray
    min_group: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class Conventions:
    """Signed agreements, one row per (student, week) they fix, implied pair weeks included.

    `line` is the conventions.csv line that fixes the week (0 for a pair's implied week).
    """

    student: np.ndarray
    offer: np.ndarray
    week: np.ndarray
    line: np.ndarray

    @property
    def n(self) -> int:
        return len(self.student)

    def fixed(self, n_students: int) -> np.ndarray:
        """(n_students, 2) offer index fixed per week, -1 where nothing is signed."""
        out = np.full((n_students, 2), -1, dtype=np.int64)
        out[self.student, self.week - 1] = self.offer
        return out


@dataclass(frozen=True, eq=False)
class Instance:
    """A scenario with its validated data."""

    scenario: Scenario
    students: Students
    offers: Offers
    pairs: Pairs
    conventions: Conventions

    @cached_property
    def fixed(self) -> np.ndarray:
        return self.conventions.fixed(self.students.n)

    def input_files(self) -> dict[str, Path]:
        files = {
            "scenario": self.scenario.path,
            "students": self.scenario.inputs.students,
            "offers": self.scenario.inputs.offers,
        }
        if self.scenario.inputs.conventions is not None:
            files["conventions"] = self.scenario.inputs.conventions
        return files


def load_instance(scenario_path: Path) -> Instance:
    """Read the scenario and every input file it names; raise `InputError` on any defect."""
    scenario = load_scenario(Path(scenario_path))
    return read_instance(scenario)


def read_instance(scenario: Scenario) -> Instance:
    """Read and validate the input files of an already parsed scenario."""
    students = read_students(scenario.inputs.students, scenario)
    offers, pairs = read_offers(scenario.inputs.offers)
    if scenario.inputs.conventions is not None:
        conventions = read_conventions(scenario.inputs.conventions, students, offers, pairs)
    else:
        conventions = Conventions(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    return Instance(scenario, students, offers, pairs, conventions)


def _sector_lists(table: Table, column: str, problems: list[Problem]) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for row, text in enumerate(table.column(column)):
        if not text:
            out.append(())
            continue
        codes = tuple(c.strip() for c in str(text).split("|") if c.strip())
        bad = [c for c in codes if not SECTOR.match(c)]
        if bad or len(set(codes)) != len(codes):
            problems.append(
                Problem(
                    table.file,
                    "des codes secteur s1…s51 distincts séparés par « | »",
                    line=int(table.lines[row]),
                    column=column,
                    value=str(text),
                )
            )
            codes = ()
        out.append(codes)
    return tuple(out)


def read_students(path: Path, scenario: Scenario) -> Students:
    """Read students.csv (spec: students.csv)."""
    table = read_table(path, ("student_id", "school_id", "lat", "lon"))
    problems: list[Problem] = []
    ids = check_identifiers(table, "student_id", problems, "élève")
    school = table.column("school_id")
    report_rows(table, "school_id", school == "", problems, "un UAI d'établissement non vide")
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    report_rows(table, "lat", table.column("lat") == "", problems, "une latitude (obligatoire)")
    report_rows(table, "lon", table.column("lon") == "", problems, "une longitude (obligatoire)")

    modes = scenario.travel.mode_names
    mode_text = table.column("mode")
    mode_text = np.where(mode_text == "", scenario.travel.default_mode, mode_text)
    known = np.isin(mode_text, list(modes))
    report_rows(table, "mode", ~known, problems, "un mode du scénario : " + ", ".join(modes))
    mode_index = {m: i for i, m in enumerate(modes)}
    mode = np.array([mode_index.get(m, 0) for m in mode_text], dtype=np.int16)

    max_minutes = parse_float(
        table, "max_minutes", problems, "un nombre de minutes >= 0", 0, np.inf, default=np.inf
    )
    priority = parse_bool(table, "priority", problems, default=False)
    sectors = _sector_lists(table, "sectors", problems)
    status = table.column("status")
    report_rows(
        table, "status", ~np.isin(status, STATUSES), problems,
        "vide, « self_placed » ou « exempt »",
    )
    raise_if_any(problems)
    return Students(
        ids=ids,
        school=school,
        lat=lat,
        lon=lon,
        mode=mode,
        max_minutes=max_minutes,
        priority=priority.astype(bool),
        sectors=sectors,
        status=status,
    )


def read_offers(path: Path) -> tuple[Offers, Pairs]:
    """Read offers.csv and its mutualised pairs (spec: offers.csv)."""
    table = read_table(path, ("offer_id", "lat", "lon", "capacity"))
    problems: list[Problem] = []
    ids = check_identifiers(table, "offer_id", problems, "offre")
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    report_rows(table, "lat", table.column("lat") == "", problems, "une latitude (obligatoire)")
    report_rows(table, "lon", table.column("lon") == "", problems, "une longitude (obligatoire)")
    capacity, _ = parse_int(table, "capacity", problems, "un entier >= 0 (places par semaine)")
    period, _ = parse_int(table, "period", problems, "0, 1 ou 2", default=0)
    bad_period = period > 2
    report_rows(table, "period", bad_period, problems, "0, 1 ou 2")
    period = np.where(bad_period, 0, period)
    sector = table.column("sector")
    report_rows(
        table, "sector",
        (sector != "") & ~np.array([bool(SECTOR.match(s)) for s in sector], dtype=bool),
        problems, "un code secteur s1…s51",
    )
    reserved = parse_bool(table, "reserved", problems, default=False)
    min_group, has_min = parse_int(table, "min_group", problems, "un entier >= 1", low=1, default=0)

    pair_text = table.column("pair_id")
    paired = pair_text != ""
    report_rows(
        table, "min_group", has_min & ~paired, problems,
        "vide : min_group ne s'applique qu'aux offres mutualisées (pair_id)",
    )
    pair_ids, pair_index, counts = np.unique(
        pair_text[paired].astype(str), return_inverse=True, return_counts=True
    )
    pair = np.full(len(ids), -1, dtype=np.int64)
    pair[paired] = pair_index
    for k in np.flatnonzero(counts != 2):
        rows = np.flatnonzero(pair == k)
        for row in rows:
            problems.append(
                Problem(
                    table.file,
                    f"exactement deux offres par pair_id (trouvé {counts[k]})",
                    line=int(table.lines[row]),
                    column="pair_id",
                    value=str(pair_ids[k]),
                )
            )
    raise_if_any(problems)

    order = np.argsort(pair[paired], kind="stable")
    members = np.flatnonzero(paired)[order].reshape(-1, 2)
    pair_min = np.maximum(min_group[members[:, 0]], min_group[members[:, 1]])
    offers = Offers(
        ids=ids,
        employer_id=table.column("employer_id"),
        employer_name=table.column("employer_name"),
        lat=lat,
        lon=lon,
        capacity=capacity,
        period=period.astype(np.int8),
        sector=sector,
        reserved=reserved.astype(bool),
        pair=pair,
    )
    open_w = offers.open_week
    a, b = members[:, 0], members[:, 1]
    can = (open_w[a, 0] & open_w[b, 1]) | (open_w[b, 0] & open_w[a, 1])
    for k in np.flatnonzero(~can & (capacity[a] > 0) & (capacity[b] > 0)):
        problems.append(
            Problem(
                table.file,
                "deux offres mutualisées ouvertes chacune une semaine différente "
                "(périodes incompatibles)",
                line=int(table.lines[a[k]]),
                column="period",
                value=str(pair_ids[k]),
            )
        )
    raise_if_any(problems)
    return offers, Pairs(ids=pair_ids.astype(object), offers=members, min_group=pair_min)


def read_conventions(path: Path, students: Students, offers: Offers, pairs: Pairs) -> Conventions:
    """Read conventions.csv and check that every agreement fits the rules (spec: conventions)."""
    table = read_table(path, ("student_id", "offer_id"))
    problems: list[Problem] = []
    s_index = {sid: i for i, sid in enumerate(students.ids)}
    o_index = {oid: i for i, oid in enumerate(offers.ids)}
    s_text, o_text, w_text = (table.column(c) for c in ("student_id", "offer_id", "week"))

    def bad(row: int, column: str, value: str, expected: str) -> None:
        problems.append(
            Problem(table.file, expected, line=int(table.lines[row]), column=column, value=value)
        )

    rows: list[tuple[int, int, int, int]] = []  # student, offer, week, line
    open_w = offers.open_week
    for row in range(len(s_text)):
        s, o = s_index.get(s_text[row]), o_index.get(o_text[row])
        if s is None:
            bad(row, "student_id", s_text[row], "un élève de students.csv")
        if o is None:
            bad(row, "offer_id", o_text[row], "une offre de offers.csv")
        if w_text[row] not in ("", "1", "2"):
            bad(row, "week", w_text[row], "1, 2 ou vide (toutes les semaines de l'offre)")
            continue
        if s is None or o is None:
            continue
        line = int(table.lines[row])
        if students.status[s] != "":
            bad(row, "student_id", s_text[row],
                f"un élève à placer (statut « {students.status[s]} » incompatible avec une convention)")
            continue
        if offers.capacity[o] == 0:
            bad(row, "offer_id", o_text[row],
                "une offre active (capacité 0 : offre retirée ; annuler d'abord la convention)")
            continue
        if offers.reserved[o] and not students.priority[s]:
            bad(row, "offer_id", o_text[row],
                f"une offre non réservée (réservée aux élèves prioritaires ; {s_text[row]} ne l'est pas)")
            continue
        if w_text[row]:
            weeks = [int(w_text[row])]
            if not open_w[o, weeks[0] - 1]:
                bad(row, "week", w_text[row],
                    f"une semaine où l'offre {o_text[row]} est ouverte (période {offers.period[o]})")
                continue
        else:
            weeks = [w for w in (1, 2) if open_w[o, w - 1]]
            if offers.pair[o] >= 0 and len(weeks) == 2:
                bad(row, "week", "",
                    "la semaine (1 ou 2) : l'offre est mutualisée, l'élève y passe une seule semaine")
                continue
        for w in weeks:
            rows.append((s, o, w, line))
            k = offers.pair[o]
            if k >= 0:
                a, b = pairs.offers[k]
                partner = b if o == a else a
                if not open_w[partner, 2 - w]:
                    bad(row, "offer_id", o_text[row],
                        f"une offre mutualisée dont la partenaire {offers.ids[partner]} "
                        f"est ouverte la semaine {3 - w}")
                    continue
                rows.append((s, partner, 3 - w, 0))
    raise_if_any(problems)

    fixed: dict[tuple[int, int], tuple[int, int]] = {}
    kept: list[tuple[int, int, int, int]] = []
    for s, o, w, line in rows:
        if (s, w) in fixed:
            other, other_line = fixed[(s, w)]
            if other != o:
                where = f" (ligne {other_line})" if other_line else " (semaine impliquée par une paire)"
                problems.append(
                    Problem(table.file,
                            f"une seule offre par semaine : semaine {w} déjà signée avec "
                            f"{offers.ids[other]}{where}",
                            line=line or other_line, column="offer_id", value=str(offers.ids[o]))
                )
            continue
        fixed[(s, w)] = (o, line)
        kept.append((s, o, w, line))
    raise_if_any(problems)

    arr = np.array(kept, dtype=np.int64).reshape(-1, 4)
    student, offer, week, line = arr.T
    used = np.zeros((offers.n, 2), dtype=np.int64)
    np.add.at(used, (offer, week - 1), 1)
    over = np.argwhere(used > offers.capacity[:, None])
    for o, w0 in over:
        lines = sorted({int(x) for x in line[(offer == o) & (week == w0 + 1)] if x})
        problems.append(
            Problem(table.file,
                    f"au plus {offers.capacity[o]} convention(s) en semaine {w0 + 1} "
                    f"(capacité de l'offre ; lignes {', '.join(map(str, lines))})",
                    line=lines[0] if lines else None, column="offer_id", value=str(offers.ids[o]))
        )
    raise_if_any(problems)
    return Conventions(student=student, offer=offer, week=week, line=line)


__all__ = [
    "Conventions",
    "Instance",
    "InputError",
    "Offers",
    "Pairs",
    "Students",
    "load_instance",
    "read_instance",
]
