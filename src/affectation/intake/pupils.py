"""Importing a school's pupils: its export (CSV/XLSX, v1 or any layout through a column mapping)
as a v1 `students.csv`, every row kept or rejected with its reason."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from affectation.domain.instance import STATUSES
from affectation.errors import InputError, Problem
from affectation.intake.places import Places
from affectation.intake.sectors import sector_code
from affectation.intake.sources import (
    STUDENT_COLUMNS,
    STUDENT_TARGETS,
    ReportRow,
    Source,
    first_problem,
    read_sheet,
    report_rejections,
)
from affectation.io.tables import parse_bool, parse_float

STUDENT_KEPT = "gardé"
STUDENT_REJECTED = "rejeté"
STUDENT_REPORT_COLUMNS = ("source", "record", "student_id", "status", "field", "reason", "notes")


@dataclass(frozen=True)
class StudentImport:
    """The pupils kept, as v1 rows, and the fate of every input row."""

    rows: tuple[dict[str, str], ...]
    report: tuple[ReportRow, ...] = field(default=())

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.report)

    def students_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(STUDENT_COLUMNS)
        for row in self.rows:
            writer.writerow([row.get(c, "") for c in STUDENT_COLUMNS])
        return out.getvalue()

    def report_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(STUDENT_REPORT_COLUMNS)
        for r in self.report:
            writer.writerow((r.source, r.record, r.source_id, r.status, r.field, r.reason,
                             r.notes))
        return out.getvalue()

    def rejected_lines(self, limit: int = 10) -> list[str]:
        """The first rejections in French, then a count of the others."""
        return report_rejections(self.report, STUDENT_REJECTED, limit)

    def summary(self) -> str:
        approximate = sum(1 for r in self.report if "position approchée" in r.notes)
        return (f"{len(self.report)} ligne(s) lues : {self.count(STUDENT_KEPT)} élève(s) "
                f"gardé(s), {self.count(STUDENT_REJECTED)} rejeté(s) ; {approximate} domicile(s) "
                "placé(s) au centre de leur commune")


def import_students(source: Source, places: Places | None = None) -> StudentImport:
    """A school's export (v1 or through a mapping) as v1 students, bad rows rejected."""
    places = places if places is not None else Places()
    if source.is_platform:
        raise InputError([Problem(source.name, "un tableur (.csv, .xlsx) d'élèves")])
    table = read_sheet(source, STUDENT_TARGETS, () if source.mapping else ("student_id",))
    if not table.has("student_id"):
        raise InputError([Problem(table.file, "une colonne student_id (ou sa correspondance)",
                                  line=table.header_line, column="student_id")])
    problems: list[Problem] = []
    lat = parse_float(table, "lat", problems, "une latitude entre -90 et 90", -90, 90)
    lon = parse_float(table, "lon", problems, "une longitude entre -180 et 180", -180, 180)
    parse_float(table, "max_minutes", problems, "un nombre de minutes >= 0", 0, np.inf)
    priority = parse_bool(table, "priority", problems, default=False)
    needs = parse_bool(table, "needs_accessible", problems, default=False)
    first = first_problem(problems)
    cols = {c: table.column(c) for c in ("student_id", "school_id", "mode", "max_minutes",
                                         "sectors", "status", "postcode", "city")}
    seen: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    report: list[ReportRow] = []
    for row in range(len(table.frame)):
        line = int(table.lines[row])
        sid = str(cols["student_id"][row])
        base = {"source": source.name, "record": f"ligne {line}", "source_id": sid}

        def reject(field: str, reason: str, value: str = "",
                   base: dict[str, str] = base) -> None:
            shown = f" (valeur « {value} »)" if value else ""
            report.append(ReportRow(**base, status=STUDENT_REJECTED, field=field,
                                    reason=reason + shown))

        if not sid:
            reject("student_id", "un identifiant d'élève non vide")
            continue
        if sid in seen:
            reject("student_id", f"un identifiant unique (déjà ligne {seen[sid]})", sid)
            continue
        seen[sid] = line
        if not cols["school_id"][row]:
            reject("school_id", "un UAI d'établissement non vide")
            continue
        if line in first:
            p = first[line]
            reject(p.column or "", p.expected, p.value or "")
            continue
        status = str(cols["status"][row])
        if status not in STATUSES:
            reject("status", "vide, « self_placed » ou « exempt »", status)
            continue
        notes = []
        has_lat, has_lon = math.isfinite(lat[row]), math.isfinite(lon[row])
        if has_lat != has_lon:
            reject("lat" if not has_lat else "lon",
                   "une latitude et une longitude (l'une des deux manque)")
            continue
        if has_lat:
            at = (float(lat[row]), float(lon[row]))
        else:
            place = places.locate(str(cols["postcode"][row]), str(cols["city"][row]))
            if place.failure:
                reject("city", f"domicile inconnu : {place.failure}",
                       " ".join(t for t in (cols["postcode"][row], cols["city"][row]) if t))
                continue
            at = (place.lat, place.lon)
            notes.append("position approchée : centre de la commune " + place.insee
                         + (f" ({place.note})" if place.note else ""))
        codes: list[str] = []
        for name in (s.strip() for s in str(cols["sectors"][row]).split("|")):
            if not name:
                continue
            code = sector_code(name)
            if code is None:
                notes.append(f"secteur inconnu « {name} » : ignoré")
            elif code not in codes:
                codes.append(code)
        rows.append({
            "student_id": sid, "school_id": str(cols["school_id"][row]),
            "lat": repr(at[0]), "lon": repr(at[1]), "mode": str(cols["mode"][row]),
            "max_minutes": str(cols["max_minutes"][row]).replace(",", "."),
            "priority": str(int(priority[row])), "sectors": "|".join(codes), "status": status,
            "needs_accessible": str(int(needs[row])),
        })
        report.append(ReportRow(**base, status=STUDENT_KEPT, notes=" ; ".join(notes)))
    return StudentImport(rows=tuple(rows), report=tuple(report))
