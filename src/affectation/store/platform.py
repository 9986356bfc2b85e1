"""The way back to the national platform (1élève1stage): offers as bodies of its offers API
v2 (`POST /api/v2/internship_offers`), checked offline against the platform's rules
(required fields and lengths, a `permalink` that is a real URL, sector codes `s1`...`s51`,
`grades = ["seconde"]`, both June weeks with `period` saying which one a one-week offer runs
in), so that an operator posts them without a 422.

What the API cannot carry: the SIRET (`siret` is not permitted in v2 and dropped silently),
mutualised pairs (`pair_id`, `min_group`) and the difference between `rep` and `qpv` for a
reserved offer (`--reserved-as`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affectation.domain.agreement import ScheduleError, parse_schedule
from affectation.domain.instance import SECTOR
from affectation.errors import InputError, Problem

LIMITS = {"title": 150, "description": 1500, "employer_name": 150,
          "employer_description": 275, "city": 50}
REQUIRED = ("remote_id", "title", "description", "employer_name", "employer_description",
            "permalink", "sector_uuid", "weeks", "grades")
DEFAULT_KEYS = ("title", "description", "employer_description", "permalink", "street",
                "zipcode", "city", "employer_website")
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
_ZIP = re.compile(r"^\d{5}$")


def load_defaults(path: Path) -> dict[str, str]:
    """`[defaults]` of a TOML file: a template per API field (`{offer_id}`,
    `{employer_name}`, `{employer_id}`, `{city}`, `{sector}` are replaced)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise InputError([Problem(str(path), f"un fichier lisible ({exc.strerror})")]) \
            from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError([Problem(path.name, f"un fichier TOML valide ({exc})")]) from None
    table = data.get("defaults")
    problems = [Problem(path.name, "table inconnue (seule [defaults] est lue)", column=k)
                for k in data if k != "defaults"]
    if not isinstance(table, dict):
        problems.append(Problem(path.name, "une table [defaults]"))
        raise InputError(problems)
    for key, value in table.items():
        if key not in DEFAULT_KEYS:
            problems.append(Problem(path.name, "une clé parmi " + ", ".join(DEFAULT_KEYS),
                                    column=f"defaults.{key}"))
        elif not isinstance(value, str):
            problems.append(Problem(path.name, "une chaîne de caractères",
                                    column=f"defaults.{key}", value=str(value)))
    if problems:
        raise InputError(problems)
    return {str(k): str(v) for k, v in table.items()}


def _filled(template: str, row: dict[str, Any]) -> str:
    values = {"offer_id": row["offer_id"], "employer_name": row["employer_name"],
              "employer_id": row["employer_id"] or "", "city": row["city"],
              "sector": row["sector"]}
    try:
        return template.format(**values).strip()
    except (KeyError, IndexError, ValueError):
        return template.strip()


@dataclass
class OfferExport:
    """The bodies ready to post, the offers left out with why, the withdrawn count."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    withdrawn: int = 0

    def json(self) -> str:
        return json.dumps(self.bodies, ensure_ascii=False, indent=1) + "\n"

    def report_csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(("offer_id", "status", "field", "problem"))
        for oid, problems in self.incomplete:
            for name, why in problems:
                w.writerow((oid, "non exportée", name, why))
        for oid, name, why in self.notes:
            w.writerow((oid, "exportée", name, why))
        return out.getvalue()

    def problem_lines(self) -> list[str]:
        return [f"offre {oid} non exportée : " + " ; ".join(f"{n} : {w}" for n, w in problems)
                for oid, problems in self.incomplete]


def offer_body(row: dict[str, Any], weeks: tuple[str, str], defaults: dict[str, str],
               reserved_as: str = "rep") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The API body of one offer row (`queries.offer_rows`) and every rule it breaks."""
    def pick(key: str, stored: str) -> str:
        value = (stored or "").strip()
        if not value and key in defaults:
            value = _filled(defaults[key], row)
        return value

    offer: dict[str, Any] = {
        "remote_id": row["offer_id"],
        "title": pick("title", row["title"]),
        "description": pick("description", row["description"]),
        "employer_name": (row["employer_label"] or row["employer_name"] or "").strip(),
        "employer_description": pick("employer_description", row["employer_description"]),
        "coordinates": {"latitude": row["lat"], "longitude": row["lon"]},
        "street": pick("street", row["street"]),
        "zipcode": pick("zipcode", row["postcode"]),
        "city": pick("city", row["city"]),
        "sector_uuid": row["sector"],
        "grades": ["seconde"],
        "weeks": list(weeks),
        "period": int(row["period"]),
        "max_candidates": int(row["capacity"]),
        "handicap_accessible": bool(row["accessible"]),
        "rep": bool(row["reserved"]) and reserved_as == "rep",
        "qpv": bool(row["reserved"]) and reserved_as == "qpv",
        "permalink": pick("permalink", row["permalink"]),
    }
    website = pick("employer_website", row["employer_website"] or "")
    if website:
        offer["employer_website"] = website
    problems: list[tuple[str, str]] = []
    if row["schedule"]:
        try:
            hours = parse_schedule(row["schedule"]).platform_hours()
            offer["daily_hours"] = {d: h for d, h in hours.items() if h != ["", ""]}
        except ScheduleError as exc:
            problems.append(("daily_hours", str(exc)))
    for key in REQUIRED:
        if offer.get(key) in ("", None, []):
            problems.append((key, "valeur obligatoire manquante"))
    for key, limit in LIMITS.items():
        if len(offer[key]) > limit:
            problems.append((key, f"au plus {limit} caractères ({len(offer[key])})"))
    link = offer["permalink"]
    if link and (not _URL.match(link) or "test" in link or "staging" in link):
        problems.append(("permalink", "une adresse web https://… sans « test » ni « staging »"))
    if offer["sector_uuid"] and not SECTOR.match(offer["sector_uuid"]):
        problems.append(("sector_uuid", "un code de secteur s1…s51"))
    if offer["period"] not in (0, 1, 2):
        problems.append(("period", "0, 1 ou 2"))
    if offer["zipcode"] and not _ZIP.match(offer["zipcode"]):
        problems.append(("zipcode", "un code postal à 5 chiffres"))
    lat, lon = row["lat"], row["lon"]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        problems.append(("coordinates", "une latitude et une longitude valides"))
    if offer["max_candidates"] < 1:
        problems.append(("max_candidates", "au moins 1"))
    return {"internship_offer": offer}, problems


def export_offers(rows: list[dict[str, Any]], weeks: tuple[str, str],
                  defaults: dict[str, str] | None = None,
                  reserved_as: str = "rep") -> OfferExport:
    """Every active offer with seats as an API body; those breaking a rule are left out
    and reported, field by field."""
    export = OfferExport()
    for row in rows:
        if int(row["capacity"]) == 0:
            export.withdrawn += 1
            continue
        body, problems = offer_body(row, weeks, defaults or {}, reserved_as)
        if problems:
            export.incomplete.append((row["offer_id"], problems))
            continue
        export.bodies.append(body)
        if row["pair_id"]:
            export.notes.append((row["offer_id"], "pair_id", "offre mutualisée "
                                 f"({row['pair_id']}) : la plateforme n'a pas d'équivalent, "
                                 "exportée seule"))
    return export
