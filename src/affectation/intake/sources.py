"""Import sources: the national platform's JSON and spreadsheets (v1 or any layout through a
column mapping) read into tables, and what both imports (offers, pupils) report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectation.errors import InputError, Problem
from affectation.intake.mapping import apply_mapping, load_mapping
from affectation.io.tables import Table, read_table, split_sheet

OFFER_COLUMNS = ("offer_id", "employer_id", "employer_name", "lat", "lon", "capacity", "period",
                 "sector", "reserved", "accessible", "pair_id", "min_group")
OFFER_TARGETS = (*OFFER_COLUMNS, "postcode", "city", "weeks", "grades")
STUDENT_COLUMNS = ("student_id", "school_id", "lat", "lon", "mode", "max_minutes", "priority",
                   "sectors", "status", "needs_accessible")
STUDENT_TARGETS = (*STUDENT_COLUMNS, "postcode", "city")
SPREADSHEET_SUFFIXES = (".csv", ".xlsx", ".xlsm")


@dataclass(frozen=True)
class Source:
    """An input file and, for a spreadsheet of another layout, its column mapping."""

    path: Path
    mapping: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_platform(self) -> bool:
        return self.path.suffix.lower() == ".json"


def parse_source(text: str, default_mapping: Path | None = None) -> Source:
    """`sheet.xlsx::map.toml` (a mapping for this sheet) or a path; a spreadsheet without its
    own mapping takes `default_mapping` (`--mapping`), a platform JSON file never has one."""
    path_text, sep, mapping_text = text.rpartition("::")
    if not sep:
        path_text, mapping_text = text, ""
    path = Path(path_text)
    suffix = split_sheet(path)[0].suffix.lower()
    if suffix != ".json" and suffix not in SPREADSHEET_SUFFIXES:
        raise InputError([Problem(text, "une source .json (plateforme nationale), .csv ou "
                                  ".xlsx (tableur)")])
    if suffix == ".json":
        if mapping_text:
            raise InputError([Problem(text, "pas de correspondance de colonnes pour un "
                                      "fichier JSON de la plateforme")])
        return Source(path)
    return Source(path, Path(mapping_text) if mapping_text else default_mapping)


def json_text(value: Any) -> str:
    """A JSON value as the text a spreadsheet cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "|".join(v.strip() for v in value)
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"].strip()  # a sector written as an object
    return json.dumps(value, ensure_ascii=False)


_PLATFORM_FIELDS = {
    "employer_id": "siret", "employer_name": "employer_name", "lat": "latitude",
    "lon": "longitude", "capacity": "max_candidates", "period": "period", "sector": "sector",
    "reserved": "rep", "qpv": "qpv", "accessible": "handicap_accessible",
    "postcode": "zipcode", "city": "city", "weeks": "weeks", "grades": "grades",
}


def read_platform(path: Path) -> Table:
    """The platform's offers as a table of v1 column names (one row per offer, `lines` =
    position in `internshipOffers`, from 1)."""
    file = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(str(path), "un fichier existant")]) from None
    except OSError as exc:
        raise InputError([Problem(str(path), f"un fichier lisible ({exc.strerror})")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem(file, "un fichier JSON encodé en UTF-8")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(file, f"un JSON valide ({exc.msg})", line=exc.lineno,
                                  column=str(exc.colno))]) from None
    offers = data.get("internshipOffers") if isinstance(data, dict) else data
    if not isinstance(offers, list):
        raise InputError([Problem(file, "la réponse de recherche de la plateforme : un objet "
                                  "avec la liste « internshipOffers » (ou une liste d'offres)")])
    rows = []
    for item in offers:
        if isinstance(item, dict) and isinstance(item.get("internship_offer"), dict):
            item = _from_api_body(item["internship_offer"])
        if not isinstance(item, dict):
            rows.append({"_error": json_text(item)})
            continue
        row = {key: json_text(item.get(name)) for key, name in _PLATFORM_FIELDS.items()}
        row["offer_id"] = json_text(item.get("id")) or json_text(item.get("remote_id"))
        if "grades" not in item:
            row["grades"] = "?"  # the platform always states it: absent is a defect
        rows.append(row)
    columns = ["offer_id", *_PLATFORM_FIELDS, "_error"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object).fillna("")
    return Table(file=file, frame=frame, lines=np.arange(1, len(rows) + 1, dtype=np.int64),
                 decimal_comma=False, header_line=0)


def _from_api_body(offer: dict[str, Any]) -> dict[str, Any]:
    """A body of the platform's offers API v2 (`{"internship_offer": {...}}`, as `affectation
    campaign export-offers` writes them) read like a search result: `coordinates` ->
    `latitude`/`longitude`, `sector_uuid` -> `sector`."""
    item = dict(offer)
    coordinates = item.get("coordinates")
    if isinstance(coordinates, dict):
        item.setdefault("latitude", coordinates.get("latitude"))
        item.setdefault("longitude", coordinates.get("longitude"))
    if "sector" not in item and "sector_uuid" in item:
        item["sector"] = item["sector_uuid"]
    return item


def read_sheet(source: Source, targets: tuple[str, ...], required: tuple[str, ...]) -> Table:
    """A spreadsheet source as a table of v1 column names (through its mapping, if any)."""
    if source.mapping is None:
        return read_table(source.path, required)
    mapping = load_mapping(source.mapping, targets)
    expected = tuple(dict.fromkeys(mapping.columns.values()))
    return apply_mapping(read_table(source.path, (), expected=expected), mapping)


def record_label(source: Source, line: int) -> str:
    return f"offre {line}" if source.is_platform else f"ligne {line}"


def first_problem(problems: list[Problem]) -> dict[int, Problem]:
    first: dict[int, Problem] = {}
    for p in problems:
        if p.line is not None:
            first.setdefault(p.line, p)
    return first


@dataclass(frozen=True)
class ReportRow:
    """One input record's fate (columns of the report)."""

    source: str
    record: str
    source_id: str
    status: str
    offer_id: str = ""
    field: str = ""
    reason: str = ""
    evidence: str = ""
    notes: str = ""


def rows_csv(columns: tuple[str, ...], rows: Sequence[Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([getattr(r, c) for c in columns])
    return out.getvalue()


def report_rejections(report: Sequence[ReportRow], status: str, limit: int) -> list[str]:
    rejected = [r for r in report if r.status == status]
    lines = [f"{status} : {r.source}, {r.record} ({r.source_id}), champ « {r.field} » : "
             f"{r.reason}" for r in rejected[:limit]]
    if len(rejected) > limit:
        lines.append(f"… et {len(rejected) - limit} autre(s) (--report pour le détail)")
    return lines
