"""De-duplication of offers gathered from several sources, with the evidence of each merge.

The same offer is often posted on the national platform, on a regional platform and in a
coordinator's spreadsheet. Two records are **the same offer** when all of these hold:

1. **Different sources.** Within one source, records are distinct offers (the source has its
   own identifiers: two posts of one employer at one place are two jobs). A kept offer absorbs
   at most one record of each other source.
2. **Same employer.** When both records have an employer identifier (SIRET), they are equal
   (spaces ignored). Otherwise their normalised names are similar: lower case, accents
   stripped, legal forms (SA, SAS, SASU, SARL, EURL, SNC, SCI, SCOP, SELARL, EARL, GAEC)
   removed, punctuation collapsed, and then a `difflib` ratio >= `MIN_NAME_RATIO` (0.9: a typo
   or a missing letter in a long name; "Boulangerie Dupont" and "Boulangerie Dupond" match,
   "Garage Martin" and "Garage Morin" do not). No name and no SIRET: never the same.
3. **Same place.** Within `MAX_DISTANCE_M` (200 m, geodesic) of each other; or, when either
   position is approximate (placed at its commune's centroid), the same commune.
4. **Same weeks.** The same period (so the same ISO weeks of the campaign).

Paired offers (`pair_id`) are never merged. Records are taken in input order (sources in the
order given, then their records): each joins the first earlier kept offer it matches, or is
kept. So the first source listed gives the kept offer its identifier, name and position
(unless the position is approximate and a merged record has exact coordinates).

What the merged offer gets (`merge`): capacity = the largest stated one (capacities are not
added up: the same seats posted twice are not twice the seats; a difference is reported as a
conflict; a default capacity, given for want of `max_candidates`, yields to a stated one);
`reserved` if any record says so; `accessible` when every record that knows agrees, else not
accessible and a conflict; sector = the first known (v1 offers have one sector), a different
one is reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from pyproj import Geod

from affectation.intake.sectors import plain_words

MAX_DISTANCE_M = 200.0
MIN_NAME_RATIO = 0.9
LEGAL_FORMS = frozenset({"sa", "sas", "sasu", "sarl", "eurl", "snc", "sci", "scop", "selarl",
                         "earl", "gaec"})
_GEOD = Geod(ellps="WGS84")
_EARTH_M = 6_371_000.0


@dataclass(frozen=True)
class Candidate:
    """One valid offer record, in v1 terms, with where it comes from.

    `accessible` is None when the source does not say; `insee` is the commune found from the
    record's postcode and city ('' when unknown); `notes` are remarks for the report.
    """

    source: int
    source_name: str
    record: str
    source_id: str
    employer_id: str
    employer_name: str
    lat: float
    lon: float
    approximate: bool
    insee: str
    capacity: int
    period: int
    sector: str
    reserved: bool
    accessible: bool | None
    pair_id: str = ""
    min_group: int = 0
    capacity_defaulted: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Duplicates:
    """`into[i]`: the index of the kept candidate that candidate i joins (i itself when kept);
    `evidence[i]`: why it is the same offer ('' when kept)."""

    into: np.ndarray
    evidence: tuple[str, ...]


def normalise_name(name: str) -> str:
    """An employer name for comparison: 'Transports Exemple S.A.S.' -> 'transports exemple'."""
    words = plain_words(re.sub(r"(?<=\b\w)\.(?=\w\b)", "", name)).split()
    return " ".join(w for w in words if w not in LEGAL_FORMS)


def _siret(text: str) -> str:
    return "".join(text.split())


def same_employer(a: Candidate, b: Candidate) -> str:
    """The evidence that a and b have the same employer, or '' when they do not."""
    sa, sb = _siret(a.employer_id), _siret(b.employer_id)
    if sa and sb:
        return f"SIRET {sa}" if sa == sb else ""
    na, nb = normalise_name(a.employer_name), normalise_name(b.employer_name)
    if not na or not nb:
        return ""
    if na == nb:
        return f"nom « {na} »"
    ratio = difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()
    if ratio >= MIN_NAME_RATIO:
        return f"noms « {na} » ~ « {nb} » (similarité {ratio:.2f})"
    return ""


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on a sphere of the Earth's radius, in metres: the chord between two points is
    shorter than their geodesic distance by well under 1 % at the scale of a town."""
    la, lo = np.radians(lat), np.radians(lon)
    return _EARTH_M * np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)],
                               axis=1)


def find_duplicates(cands: Sequence[Candidate], weeks: tuple[str, str] | None = None,
                    max_distance_m: float = MAX_DISTANCE_M) -> Duplicates:
    """Which candidates are the same offer (the rule in the module docstring).

    `weeks` only words the evidence (the campaign's ISO weeks; periods are compared).
    Candidates are looked up in a 3-D grid of cells of `max_distance_m` (neighbouring cells)
    and by commune, so the work grows with the number of records, not its square.
    """
    n = len(cands)
    into = np.arange(n, dtype=np.int64)
    evidence = [""] * n
    if n == 0:
        return Duplicates(into, ())
    xyz = _unit_vectors(np.array([c.lat for c in cands]), np.array([c.lon for c in cands]))
    cell_size = max(max_distance_m * 1.01, 1.0)
    cells = np.floor(xyz / cell_size).astype(np.int64)
    by_cell: dict[tuple[int, int, int], list[int]] = {}
    by_commune: dict[str, list[int]] = {}
    absorbed: dict[int, set[int]] = {}
    offsets = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]
    for i, c in enumerate(cands):
        if not c.pair_id:
            x, y, z = (int(v) for v in cells[i])
            near = {k for dx, dy, dz in offsets for k in by_cell.get((x + dx, y + dy, z + dz), ())}
            if c.insee:
                near.update(k for k in by_commune.get(c.insee, ())
                            if c.approximate or cands[k].approximate)
            for k in sorted(near):
                if c.source in absorbed[k]:
                    continue
                proof = _same_offer(cands[k], c, weeks, max_distance_m)
                if proof:
                    into[i] = k
                    evidence[i] = proof
                    absorbed[k].add(c.source)
                    break
        if into[i] == i and not c.pair_id:
            x, y, z = (int(v) for v in cells[i])
            by_cell.setdefault((x, y, z), []).append(i)
            if c.insee:
                by_commune.setdefault(c.insee, []).append(i)
            absorbed[i] = {c.source}
    return Duplicates(into, tuple(evidence))


def _same_offer(kept: Candidate, c: Candidate, weeks: tuple[str, str] | None,
                max_distance_m: float) -> str:
    """The evidence that `c` is the offer `kept`, or ''."""
    if kept.period != c.period:
        return ""
    employer = same_employer(kept, c)
    if not employer:
        return ""
    _, _, metres = _GEOD.inv(kept.lon, kept.lat, c.lon, c.lat)
    if metres <= max_distance_m:
        place = f"{metres:.0f} m"
    elif (kept.approximate or c.approximate) and kept.insee and kept.insee == c.insee:
        place = f"même commune {c.insee} (position approchée, {metres:.0f} m)"
    else:
        return ""
    if weeks is None:
        when = f"période {c.period}"
    else:
        when = "semaines " + ", ".join(w for k, w in enumerate(weeks) if c.period in (0, k + 1))
    return f"{employer} ; {place} ; {when}"


def merge(cands: Sequence[Candidate], members: Sequence[int]) -> tuple[Candidate, list[str]]:
    """The offer made of `members` (kept first) and, in French, the conflicts found and what
    the kept record took from the others."""
    kept = cands[members[0]]
    others = [cands[k] for k in members[1:]]
    if not others:
        return kept, []
    conflicts: list[str] = []
    group = [kept, *others]

    stated = [c.capacity for c in group if not c.capacity_defaulted]
    capacity = max(stated) if stated else max(c.capacity for c in group)
    if len(set(stated)) > 1:
        conflicts.append(f"capacités différentes ({', '.join(map(str, stated))}) : "
                         f"gardé {capacity}")
    if stated and kept.capacity_defaulted:
        conflicts.append(f"capacité par défaut remplacée par celle d'un doublon ({capacity})")
    if len({c.reserved for c in group}) > 1:
        conflicts.append("réservée (REP/QPV) selon une partie des sources : gardée réservée")
    known = [c.accessible for c in group if c.accessible is not None]
    accessible: bool | None = known[0] if known else None
    if len(set(known)) > 1:
        accessible = False
        conflicts.append("accessibilité contradictoire : offre gardée non accessible")
    sectors = [c.sector for c in group if c.sector]
    sector = sectors[0] if sectors else ""
    if len(set(sectors)) > 1:
        conflicts.append(f"secteurs différents ({', '.join(sectors)}) : gardé {sector}")
    lat, lon, approximate = kept.lat, kept.lon, kept.approximate
    if approximate:
        exact = next((c for c in others if not c.approximate), None)
        if exact is not None:
            lat, lon, approximate = exact.lat, exact.lon, False
            conflicts.append(f"position exacte reprise de {exact.source_name} {exact.record} "
                             f"({exact.source_id})")
    merged = replace(
        kept,
        employer_id=kept.employer_id or next((c.employer_id for c in others if c.employer_id), ""),
        employer_name=kept.employer_name or next(
            (c.employer_name for c in others if c.employer_name), ""),
        lat=lat, lon=lon, approximate=approximate,
        capacity=capacity,
        capacity_defaulted=not stated,
        reserved=any(c.reserved for c in group),
        accessible=accessible,
        sector=sector,
    )
    return merged, conflicts

