"""De-duplication of offers gathered from several sources, with the evidence of each merge.

The same offer is often posted on the national platform, on a regional platform and in a
coordinator's spreadsheet. Two records are **the same offer** when all of these hold:

1. **Different sources.** Within one source, records are distinct offers (the source has its
   own identifiers: two posts of one employer at one place are two jobs). A kept offer absorbs
   at most one record of each other source. Two records of one source that meet rules 2-4 are
   flagged (`Duplicates.same_source`: « doublon probable dans la même source »), never merged.
2. **Same employer.** When both records have an employer identifier (SIRET), they are equal
   (spaces ignored). Otherwise their normalised names are similar: lower case, accents
   stripped, legal forms (SA, SAS, SASU, SARL, EURL, SNC, SCI, SCOP, SELARL, EARL, GAEC)
   removed, punctuation collapsed, and then a similarity >= `MIN_NAME_RATIO` (0.9: a typo or a
   missing letter in a long name; "Boulangerie Dupont" and "Boulangerie Dupond" match, "Garage
   Martin" and "Garage Morin" do not). The similarity is rapidfuzz's normalised Indel
   similarity, 2 x (longest common subsequence) / (total length), decided in integers (the
   ratio difflib's SequenceMatcher approximates from below). No name and no SIRET: never.
3. **Same place.** Within `MAX_DISTANCE_M` (200 m, geodesic) of each other; or, when either
   position is approximate (placed at its commune's centroid), the same commune.
4. **Same weeks.** The same period (so the same ISO weeks of the campaign).

Paired offers (`pair_id`) are never merged. Records are taken in input order (sources in the
order given, then their records): each joins the first earlier kept offer it matches, or is
kept. So the first source listed gives the kept offer its identifier, name and position
(unless the position is approximate and a merged record has exact coordinates).

Work: near-linear. Records are blocked by place and period (3-D cells of `MAX_DISTANCE_M`,
compared with the neighbouring cells; and the commune, for approximate positions); within a
block, employers are matched by SIRET (a dictionary) and names by rapidfuzz's `cdist` over the
block's distinct names (compiled, both cores), so only the pairs that may match are looked at
one by one (benchmarks/dedup.py: 10,000 + 10,000 offers of one town).

What the merged offer gets (`merge`): capacity = the largest stated one (capacities are not
added up: the same seats posted twice are not twice the seats; a difference is reported as a
conflict; a default capacity, given for want of `max_candidates`, yields to a stated one);
`reserved` if any record says so; `accessible` when every record that knows agrees, else not
accessible and a conflict; sector = the first known (v1 offers have one sector), a different
one is reported.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from pyproj import Geod
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from affectation.intake.sectors import plain_words

MAX_DISTANCE_M = 200.0
MIN_NAME_RATIO = 0.9
LEGAL_FORMS = frozenset({"sa", "sas", "sasu", "sarl", "eurl", "snc", "sci", "scop", "selarl",
                         "earl", "gaec"})
_GEOD = Geod(ellps="WGS84")
_EARTH_M = 6_371_000.0
_CDIST_CELLS = 4_000_000  # name pairs scored at once (a uint8 matrix of this size)
_THREADED_CELLS = 200_000
_SMALL_CELLS = 20_000


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
    `evidence[i]`: why it is the same offer ('' when kept); `same_source[i]`: the index of an
    earlier record of the same source that meets the rule (a likely duplicate within that
    source, never merged), or -1."""

    into: np.ndarray
    evidence: tuple[str, ...]
    same_source: np.ndarray | None = None


def normalise_name(name: str) -> str:
    """An employer name for comparison: 'Transports Exemple S.A.S.' -> 'transports exemple'."""
    words = plain_words(re.sub(r"(?<=\b\w)\.(?=\w\b)", "", name)).split()
    return " ".join(w for w in words if w not in LEGAL_FORMS)


def _siret(text: str) -> str:
    return "".join(text.split())


def _similar(na: str, nb: str) -> bool:
    """Names similar enough (rule 2), decided exactly: Indel distance <= 10 % of the total
    length, i.e. 2 x LCS / total >= 0.9."""
    total = len(na) + len(nb)
    return total > 0 and 10 * Indel.distance(na, nb) <= (1 - MIN_NAME_RATIO) * 10 * total


def same_employer(a: Candidate, b: Candidate) -> str:
    """The evidence that a and b have the same employer, or '' when they do not."""
    sa, sb = _siret(a.employer_id), _siret(b.employer_id)
    if sa and sb:
        return f"SIRET {sa}" if sa == sb else ""
    na, nb = normalise_name(a.employer_name), normalise_name(b.employer_name)
    return _name_evidence(na, nb)


def _name_evidence(na: str, nb: str) -> str:
    if not na or not nb:
        return ""
    if na == nb:
        return f"nom « {na} »"
    if _similar(na, nb):
        ratio = Indel.normalized_similarity(na, nb)
        return f"noms « {na} » ~ « {nb} » (similarité {ratio:.2f})"
    return ""


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on a sphere of the Earth's radius, in metres: the chord between two points is
    shorter than their geodesic distance by well under 1 % at the scale of a town."""
    la, lo = np.radians(lat), np.radians(lon)
    return _EARTH_M * np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)],
                               axis=1)


class _Employers:
    """Each record's SIRET and normalised name, and the employer-compatible pairs of two
    groups of records (rule 2, without the place and the weeks)."""

    def __init__(self, cands: Sequence[Candidate]) -> None:
        self.siret = [_siret(c.employer_id) for c in cands]
        self.name = [normalise_name(c.employer_name) for c in cands]

    def evidence(self, k: int, i: int) -> str:
        """`same_employer` of records k and i, from the normalised values."""
        sa, sb = self.siret[k], self.siret[i]
        if sa and sb:
            return f"SIRET {sa}" if sa == sb else ""
        return _name_evidence(self.name[k], self.name[i])

    def pairs(self, xs: Sequence[int], ys: Sequence[int]) -> set[tuple[int, int]]:
        """Pairs (k, i), k < i, one in `xs` and the other in `ys`, that may be the same
        employer: equal SIRETs, or similar names where one of the two has no SIRET."""
        found: set[tuple[int, int]] = set()
        by_siret: dict[str, list[int]] = defaultdict(list)
        for y in ys:
            if self.siret[y]:
                by_siret[self.siret[y]].append(y)
        for x in xs:
            if self.siret[x]:
                found.update((min(x, y), max(x, y)) for y in by_siret.get(self.siret[x], ())
                             if y != x)
        x_names = self._by_name(xs)
        y_names = self._by_name(ys)
        for na, nb in _similar_names(list(x_names), list(y_names), same=x_names == y_names):
            for x in x_names[na]:
                for y in y_names[nb]:
                    if y != x and not (self.siret[x] and self.siret[y]):
                        found.add((min(x, y), max(x, y)))
        return found

    def _by_name(self, records: Sequence[int]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for r in records:
            if self.name[r]:
                out[self.name[r]].append(r)
        return out


# Two names of lengths a <= b can be similar only when 2a / (a + b) >= MIN_NAME_RATIO (their
# longest common subsequence is at most a), i.e. b <= a (2 - MIN_NAME_RATIO) / MIN_NAME_RATIO.
_LENGTH_RATIO = (2 - MIN_NAME_RATIO) / MIN_NAME_RATIO


def _similar_names(xn: list[str], yn: list[str], same: bool) -> list[tuple[str, str]]:
    """Every (a, b), a of `xn`, b of `yn`, with similar names (rule 2; equal included).

    Names are sorted by length and each chunk of `xn` is scored (rapidfuzz `cdist`, compiled)
    against the names of `yn` whose length allows it; with `same` (the two lists hold the same
    names) each unordered pair is scored once, and both orders are returned."""
    if not xn or not yn:
        return []
    if len(xn) * len(yn) <= _SMALL_CELLS:  # a small block: scored whole, at once
        return _scored(xn, yn, same)
    xn = sorted(xn, key=lambda t: (len(t), t))
    yn = sorted(yn, key=lambda t: (len(t), t))
    x_len = np.array([len(t) for t in xn])
    y_len = np.array([len(t) for t in yn])
    starts = np.searchsorted(y_len, np.floor(x_len / _LENGTH_RATIO), "left")
    stops = np.searchsorted(y_len, np.ceil(x_len * _LENGTH_RATIO), "right")
    if same:
        starts = np.maximum(starts, np.arange(len(xn)))
    out: list[tuple[str, str]] = []
    # Chunks of names of one length (one window of `yn`), cut to _CDIST_CELLS scores.
    bounds = np.flatnonzero(np.diff(x_len)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(xn)], strict=True):
        start, stop = int(starts[lo]), int(stops[lo])
        step = max(1, _CDIST_CELLS // max(stop - start, 1))
        for a0 in range(int(lo), int(hi), step):
            chunk = xn[a0:min(a0 + step, int(hi))]
            window = yn[max(start, a0) if same else start:stop]
            if not window:
                continue
            out.extend(_scored(chunk, window, same))
    return out


def _scored(xn: list[str], yn: list[str], same: bool) -> list[tuple[str, str]]:
    """The similar pairs of names of `xn` x `yn`, one `cdist` call (see `_similar_names`)."""
    # Threads pay off on large blocks only (starting them costs ~0.5 ms a call).
    workers = -1 if len(xn) * len(yn) >= _THREADED_CELLS else 1
    scores = process.cdist(xn, yn, scorer=fuzz.ratio, score_cutoff=100 * MIN_NAME_RATIO - 1e-6,
                           dtype=np.uint8, workers=workers)
    out: list[tuple[str, str]] = []
    for a, b in zip(*np.nonzero(scores), strict=True):
        na, nb = xn[int(a)], yn[int(b)]
        if na == nb or _similar(na, nb):
            out.append((na, nb))
            if same and na != nb:
                out.append((nb, na))
    return out


def _candidate_pairs(cands: Sequence[Candidate], employers: _Employers,
                     max_distance_m: float) -> list[tuple[int, int]]:
    """Every pair (k, i), k < i, of unpaired records of one period that may meet rules 2-4:
    blocked by place (a cell and its neighbours; the commune, for approximate positions) and
    by employer; rule 3 is checked exactly afterwards, on these pairs only."""
    usable = [i for i, c in enumerate(cands) if not c.pair_id]
    found: set[tuple[int, int]] = set()
    if not usable:
        return []
    xyz = _unit_vectors(np.array([cands[i].lat for i in usable]),
                        np.array([cands[i].lon for i in usable]))
    cell_size = max(max_distance_m * 1.01, 1.0)
    cells = np.floor(xyz / cell_size).astype(np.int64)
    by_cell: dict[tuple[int, ...], list[int]] = defaultdict(list)
    by_commune: dict[tuple[str, int], list[int]] = defaultdict(list)
    for row, i in enumerate(usable):
        c = cands[i]
        by_cell[(*map(int, cells[row]), c.period)].append(i)
        if c.insee:
            by_commune[(c.insee, c.period)].append(i)
    offsets = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]
    rough_flag = [c.approximate for c in cands]
    for (x, y, z, period), members in by_cell.items():
        around = [k for dx, dy, dz in offsets
                  for k in by_cell.get((x + dx, y + dy, z + dz, period), ())]
        found |= employers.pairs([i for i in members if not rough_flag[i]],
                                 [k for k in around if not rough_flag[k]])
        if not any(rough_flag[k] for k in around):
            continue
        # A pair with an approximate position within one commune is the commune pass's;
        # here only those across communes (within the cells' reach).
        communes: dict[str, list[int]] = defaultdict(list)
        for i in members:
            communes[cands[i].insee].append(i)
        for insee, group in communes.items():
            rough = [i for i in group if rough_flag[i]]
            if rough:
                found |= employers.pairs(rough, [k for k in around if cands[k].insee != insee])
            if len(rough) < len(group):
                found |= employers.pairs([i for i in group if not rough_flag[i]],
                                         [k for k in around if rough_flag[k]
                                          and cands[k].insee != insee])
    for members in by_commune.values():
        rough = [i for i in members if cands[i].approximate]
        if rough:
            found |= employers.pairs(rough, members)
    return sorted(found)


def find_duplicates(cands: Sequence[Candidate], weeks: tuple[str, str] | None = None,
                    max_distance_m: float = MAX_DISTANCE_M) -> Duplicates:
    """Which candidates are the same offer (the rule in the module docstring), and which are
    likely duplicates within their own source.

    `weeks` only words the evidence (the campaign's ISO weeks; periods are compared).
    """
    n = len(cands)
    into = np.arange(n, dtype=np.int64)
    evidence = [""] * n
    same_source = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Duplicates(into, (), same_source)
    earlier: dict[int, list[int]] = defaultdict(list)
    employers = _Employers(cands)
    for k, i in _candidate_pairs(cands, employers, max_distance_m):
        earlier[i].append(k)
    absorbed: dict[int, set[int]] = {}
    for i, c in enumerate(cands):
        for k in earlier.get(i, ()):  # ascending: the first earlier kept offer it matches
            kept = cands[k]
            if kept.source == c.source:
                if same_source[i] < 0 and _same_offer(kept, c, weeks, max_distance_m,
                                                      employers.evidence(k, i)):
                    same_source[i] = k
                continue
            if into[k] != k or c.source in absorbed[k]:
                continue
            proof = _same_offer(kept, c, weeks, max_distance_m, employers.evidence(k, i))
            if proof:
                into[i] = k
                evidence[i] = proof
                absorbed[k].add(c.source)
                break
        if into[i] == i:
            absorbed[i] = {c.source}
    return Duplicates(into, tuple(evidence), same_source)


def _same_offer(kept: Candidate, c: Candidate, weeks: tuple[str, str] | None,
                max_distance_m: float, employer: str | None = None) -> str:
    """The evidence that `c` is the offer `kept`, or '' (`employer`: `same_employer`'s, when
    already known)."""
    if kept.period != c.period or kept.pair_id or c.pair_id:
        return ""
    employer = same_employer(kept, c) if employer is None else employer
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

