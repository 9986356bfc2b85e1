"""A national scenario as data: its instance read and checked once, the académie of every
pupil and offer, the blocks, and the sub-instances a block, a window or an académie sees.

A national scenario is a v1 scenario whose `students.csv` and `offers.csv` carry one more
column, `academy` (a code of `geodata.load_academies`: `normandie`, `aix-marseille`...): the
académie of the pupil's lycée, and of the commune the offer is in. Every problem of every file
is collected before anything is solved; the message groups them by académie.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.domain.instance import (
    Conventions,
    Exclusions,
    Instance,
    Offers,
    Pairs,
    Students,
)
from affectation.domain.params import Scenario, ScenarioInfo
from affectation.errors import InputError, Problem
from affectation.geodata import load_academies
from affectation.io.output import engine_version
from affectation.io.tables import read_table
from affectation.travel.loading import load_instance
from affectation.travel.reach import Reach, sorted_unique

ACADEMY_COLUMN = "academy"
# Paris, Créteil and Versailles are one block: 77-100 % of their pupils reach another.
ILE_DE_FRANCE = ("creteil", "paris", "versailles")
IDF_BLOCK = "ile-de-france"
IDF_NAME = "Île-de-France"
NATIONAL_GROUP = ""  # problems of no académie in particular (scenario, file headers)
PROBLEMS_PER_ACADEMY = 20


@dataclass(frozen=True)
class Block:
    """A set of académies solved together: `code`, display `name`, its académies' codes."""

    code: str
    name: str
    academies: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class National:
    """A national scenario read and checked: the whole instance, the académie of each pupil
    and offer (codes), and the académie table (`geodata.load_academies`)."""

    instance: Instance
    student_academy: np.ndarray
    offer_academy: np.ndarray
    academies: pd.DataFrame

    @property
    def academy_names(self) -> dict[str, str]:
        return dict(zip(self.academies.academie, self.academies.academie_name, strict=False))

    def blocks(self) -> list[Block]:
        """The blocks of the académies that have pupils, sorted by code."""
        present = sorted(set(self.student_academy.tolist()))
        names = self.academy_names
        blocks = [Block(a, names[a], (a,)) for a in present if a not in ILE_DE_FRANCE]
        idf = tuple(a for a in ILE_DE_FRANCE if a in present)
        if idf:
            blocks.append(Block(IDF_BLOCK, IDF_NAME, idf))
        return sorted(blocks, key=lambda b: b.code)

    def block_pupils(self, block: Block) -> np.ndarray:
        """Indices of the block's pupils (every status), in input order."""
        return np.flatnonzero(np.isin(self.student_academy, block.academies))


def block_of_academy(blocks: Iterable[Block]) -> dict[str, str]:
    return {a: b.code for b in blocks for a in b.academies}


class NationalInputError(InputError):
    """Input problems of a national scenario, grouped by académie in the message."""

    def __init__(self, groups: dict[str, list[Problem]], names: dict[str, str]) -> None:
        self.groups = groups
        self.names = names
        super().__init__([p for g in groups.values() for p in g])

    def message(self) -> str:
        lines = []
        for code, problems in self.groups.items():
            if code == NATIONAL_GROUP:
                title = "Scénario national"
            elif code in self.names:
                title = f"Académie {self.names[code]} ({code})"
            else:
                title = f"Académie inconnue « {code} »"
            lines.append(f"{title} : {len(problems)} problème(s)")
            lines += [f"  {p}" for p in problems[:PROBLEMS_PER_ACADEMY]]
            if len(problems) > PROBLEMS_PER_ACADEMY:
                lines.append(f"  … et {len(problems) - PROBLEMS_PER_ACADEMY} autre(s).")
        return "\n".join(lines)


def read_national(scenario_path: Path) -> National:
    """Read and check a national scenario; raise `NationalInputError` listing every problem
    of every académie (all files, the `academy` columns included) before anything runs."""
    table = load_academies()
    names = dict(zip(table.academie, table.academie_name, strict=False))
    codes = set(table.academie)
    problems: list[Problem] = []
    instance = None
    try:
        instance = load_instance(Path(scenario_path))
    except InputError as exc:
        problems.extend(exc.problems)
    # The academy columns, read as text (also when other cells are wrong).
    student_acad = _academy_column(scenario_path, "students", codes, problems)
    offer_acad = _academy_column(scenario_path, "offers", codes, problems)
    conv_acad = _conventions_academy(scenario_path, student_acad)
    if problems or instance is None:
        raise NationalInputError(_grouped(problems, student_acad, offer_acad, conv_acad), names)
    assert student_acad is not None and offer_acad is not None
    return National(instance, student_acad[2].astype(object), offer_acad[2].astype(object),
                    table)


_Column = tuple[str, np.ndarray, np.ndarray]  # file name, line of each row, académie of each row


def _academy_column(scenario_path: Path, key: str, codes: set[str],
                    problems: list[Problem]) -> _Column | None:
    """(file name, line of each row, académie code of each row) of the students or offers
    file, its problems added to `problems`; None when the file cannot be read (its reader
    reported why)."""
    from affectation.io.scenario import load_scenario

    try:
        scenario = load_scenario(Path(scenario_path))
        path = getattr(scenario.inputs, key)
        table = read_table(path, (ACADEMY_COLUMN,))
    except InputError as exc:
        for p in exc.problems:
            if p.column == ACADEMY_COLUMN:
                problems.append(Problem(p.file, "colonne obligatoire d'un scénario national "
                                        "(code de l'académie, ex. normandie)", line=p.line,
                                        column=ACADEMY_COLUMN))
        return None
    values = table.column(ACADEMY_COLUMN).astype(str)
    bad = ~np.isin(values, sorted(codes))
    for row in np.flatnonzero(bad):
        problems.append(Problem(table.file, "un code d'académie (" + ", ".join(sorted(codes))
                                + ")", line=int(table.lines[row]), column=ACADEMY_COLUMN,
                                value=values[row]))
    return table.file, table.lines, values


def _conventions_academy(scenario_path: Path, students: _Column | None) -> _Column | None:
    """(file name, lines, académie of each row's pupil) of the conventions file, when
    readable."""
    from affectation.io.scenario import load_scenario

    if students is None:
        return None
    try:
        scenario = load_scenario(Path(scenario_path))
        if scenario.inputs.conventions is None:
            return None
        conv = read_table(scenario.inputs.conventions, ("student_id",))
        pupils = read_table(scenario.inputs.students, ("student_id",))
    except InputError:
        return None
    academy = dict(zip(pupils.column("student_id"), students[2], strict=False))
    return conv.file, conv.lines, np.array([academy.get(s, NATIONAL_GROUP)
                                            for s in conv.column("student_id")], dtype=object)


def _grouped(problems: list[Problem], *columns: _Column | None) -> dict[str, list[Problem]]:
    """Problems by académie: a problem of a row of a file whose académie is known goes to
    that académie (sorted by code), the others first, under the national heading."""
    by_file: dict[str, dict[int, str]] = {}
    for col in columns:
        if col is not None:
            by_file[col[0]] = dict(zip(col[1].tolist(), map(str, col[2]), strict=True))
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        code = NATIONAL_GROUP
        lines = by_file.get(p.file)
        if lines is not None and p.line is not None:
            code = lines.get(p.line, NATIONAL_GROUP)
        groups.setdefault(code, []).append(p)
    return {code: groups[code] for code in sorted(groups)}


# --------------------------------------------------------------------------
# Sub-instances
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Sub:
    """A sub-instance of the national one: its pupils and offers (national indices, sorted)
    and the national -> local offer map (-1 where absent)."""

    instance: Instance
    pupils: np.ndarray
    offers: np.ndarray
    local_offer: np.ndarray


def with_partners(instance: Instance, offers: np.ndarray) -> np.ndarray:
    """`offers` (national indices) with the other offer of each of their pairs, sorted."""
    pairs, of = instance.pairs, instance.offers
    k = of.pair[offers]
    partners = pairs.offers[k[k >= 0]].ravel()
    return sorted_unique(np.r_[offers, partners].astype(np.int64))


def sub_instance(instance: Instance, pupils: np.ndarray, offers: np.ndarray,
                 capacity: np.ndarray | None = None, name: str | None = None,
                 extra_exclusions: tuple[np.ndarray, np.ndarray] | None = None) -> Sub:
    """The instance of `pupils` (sorted national indices, every status) over `offers` (sorted;
    the other offer of a pair and the pupils' signed offers are added), with `capacity` (per
    national offer; default: the national capacities), named `name`, with the national
    exclusions between them plus `extra_exclusions` (national pupil and offer indices)."""
    st, of = instance.students, instance.offers
    signed = instance.conventions.offer[np.isin(instance.conventions.student, pupils)]
    offers = with_partners(instance, np.r_[offers, signed].astype(np.int64))
    local = np.full(of.n, -1, dtype=np.int64)
    local[offers] = np.arange(len(offers))
    local_pupil = np.full(st.n, -1, dtype=np.int64)
    local_pupil[pupils] = np.arange(len(pupils))
    cap = of.capacity if capacity is None else capacity

    students = Students(
        ids=st.ids[pupils], school=st.school[pupils], lat=st.lat[pupils], lon=st.lon[pupils],
        mode=st.mode[pupils], max_minutes=st.max_minutes[pupils],
        priority=st.priority[pupils], sectors=tuple(st.sectors[i] for i in pupils),
        status=st.status[pupils], needs_accessible=st.needs_accessible[pupils],
        zone=None if st.zone is None else st.zone[pupils],
        lines=None if st.lines is None else st.lines[pupils])
    pair_keep = np.flatnonzero(np.isin(instance.pairs.offers[:, 0], offers))
    pair_local = np.full(instance.pairs.n, -1, dtype=np.int64)
    pair_local[pair_keep] = np.arange(len(pair_keep))
    offer_pair = of.pair[offers]
    offers_sub = Offers(
        ids=of.ids[offers], employer_id=of.employer_id[offers],
        employer_name=of.employer_name[offers], lat=of.lat[offers], lon=of.lon[offers],
        capacity=np.asarray(cap[offers], dtype=of.capacity.dtype), period=of.period[offers],
        sector=of.sector[offers], reserved=of.reserved[offers],
        pair=np.where(offer_pair >= 0, pair_local[np.maximum(offer_pair, 0)], -1),
        accessible=of.accessible[offers], zone=None if of.zone is None else of.zone[offers],
        lines=None if of.lines is None else of.lines[offers])
    pairs = Pairs(ids=instance.pairs.ids[pair_keep],
                  offers=local[instance.pairs.offers[pair_keep]],
                  min_group=instance.pairs.min_group[pair_keep])
    conv = instance.conventions
    rows = np.flatnonzero(local_pupil[conv.student] >= 0)
    conventions = Conventions(
        student=local_pupil[conv.student[rows]], offer=local[conv.offer[rows]],
        week=conv.week[rows], line=conv.line[rows],
        source_line=None if conv.source_line is None else conv.source_line[rows],
        pending=None if conv.pending is None else conv.pending[rows])
    ex = instance.exclusions
    ex_s, ex_o, ex_line = ex.student, ex.offer, ex.line
    if extra_exclusions is not None:
        ex_s = np.r_[ex_s, extra_exclusions[0]]
        ex_o = np.r_[ex_o, extra_exclusions[1]]
        ex_line = np.r_[ex_line, np.zeros(len(extra_exclusions[0]), dtype=np.int64)]
    keep = (local_pupil[ex_s] >= 0) & (local[ex_o] >= 0)
    key = sorted_unique(local_pupil[ex_s[keep]] * len(offers) + local[ex_o[keep]])
    exclusions = Exclusions(student=key // max(len(offers), 1), offer=key % max(len(offers), 1),
                            line=np.zeros(len(key), dtype=np.int64), n_offers=len(offers))
    scenario = instance.scenario
    if name is not None:
        scenario = dataclasses.replace(
            scenario, scenario=ScenarioInfo(name=name, weeks=scenario.scenario.weeks,
                                            format=scenario.scenario.format))
    sub = Instance(scenario, students, offers_sub, pairs, conventions, exclusions)
    return Sub(sub, np.asarray(pupils, dtype=np.int64), offers, local)


def local_reach(rows: Reach, pupils: np.ndarray, local_offer: np.ndarray,
                capacity: np.ndarray | None = None) -> Reach:
    """The rows of `pupils` (national indices; `rows` is over national pupils and offers) as a
    reach of the sub-instance whose pupils are `pupils` in this order, offers mapped by
    `local_offer` (pairs to offers absent, or of zero `capacity` (national), dropped)."""
    lengths = rows.indptr[pupils + 1] - rows.indptr[pupils]
    starts = rows.indptr[pupils]
    offsets = np.r_[0, np.cumsum(lengths)[:-1]] if len(lengths) else np.zeros(0, np.int64)
    idx = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    offer = local_offer[rows.offer[idx]]
    keep = offer >= 0
    if capacity is not None:
        keep &= capacity[rows.offer[idx]] > 0
    owner = np.repeat(np.arange(len(pupils)), lengths)[keep]
    indptr = np.zeros(len(pupils) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(pupils)), out=indptr[1:])
    capped = None if rows.capped is None else rows.capped[pupils].copy()
    return Reach(indptr=indptr, offer=offer[keep].astype(np.int32),
                 deciminutes=rows.deciminutes[idx][keep], capped=capped)


# --------------------------------------------------------------------------
# Hashing (resume markers)
# --------------------------------------------------------------------------

def instance_digest(instance: Instance, *extra: object) -> str:
    """SHA-256 of everything a solve of `instance` depends on: its pupils, offers, pairs,
    conventions, exclusions and parameters (not its file paths), and `extra`."""
    h = hashlib.sha256()

    def feed(value: object) -> None:
        if isinstance(value, np.ndarray):
            h.update(str(value.dtype).encode())
            h.update(str(value.shape).encode())
            if value.dtype == object:
                h.update("\x1f".join(map(str, value.tolist())).encode("utf-8", "surrogatepass"))
            else:
                h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(repr(value).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")

    st, of = instance.students, instance.offers
    for obj in (st, of, instance.pairs, instance.conventions, instance.exclusions):
        for f in dataclasses.fields(obj):
            feed(getattr(obj, f.name))
    feed(_params(instance.scenario))
    feed(engine_version())
    for value in extra:
        feed(value)
    return h.hexdigest()


def _params(scenario: Scenario) -> str:
    """The scenario's parameters as text, paths by name only (a moved folder changes none)."""
    def clean(value: object) -> object:
        if isinstance(value, Path):
            return value.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [clean(v) for v in value]
        return value
    return repr(clean(scenario))
