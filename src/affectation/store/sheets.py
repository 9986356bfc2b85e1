"""Reading the sheets a campaign receives (CSV or XLSX, v1 column names or any layout through
a column mapping, `intake.mapping`): schools' signature sheets for `campaign record`, and the
details an agreement needs (pupils, schools, employers, offers and tutors).

A file that cannot be read (missing, broken, a required column absent) is an `InputError`;
a bad row is rejected with its file, line, column and reason, and the other rows are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from affectation.domain.agreement import (
    MODES,
    ROLES,
    ScheduleError,
    check_minor_limits,
    mode_of,
    parse_schedule,
    role_of,
)
from affectation.errors import InputError, Problem
from affectation.io.tables import Table, read_table
from affectation.store.queries import SignatureRow

SIGNATURE_COLUMNS = ("student_id", "role", "date", "mode", "offer_id", "week")


def read_sheet(path: Path, targets: tuple[str, ...], required: tuple[str, ...],
               mapping: Path | None = None) -> Table:
    """The sheet as a table of our column names (through `mapping` when given)."""
    if mapping is None:
        return read_table(Path(path), required)
    from affectation.intake.mapping import apply_mapping, load_mapping

    table = apply_mapping(read_table(Path(path), ()), load_mapping(mapping, targets))
    missing = [c for c in required if not table.has(c)]
    if missing:
        raise InputError([Problem(table.file, f"la colonne « {c} » (ou sa correspondance dans "
                                  f"{Path(mapping).name})", line=table.header_line, column=c)
                          for c in missing])
    return table


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d %H:%M:%S", "%d-%m-%Y",
                 "%d.%m.%Y")


def parse_date(text: str) -> date | None:
    """A date as a school writes it: 2026-05-12, 12/05/2026, an XLSX date cell."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def read_signatures(path: Path, mapping: Path | None = None,
                    today: date | None = None) -> tuple[list[SignatureRow], list[Problem]]:
    """The rows of a signature sheet (`student_id`, `role`, `date`, `mode`, optional
    `offer_id` and `week`), and the rows rejected with their reason."""
    table = read_sheet(path, SIGNATURE_COLUMNS, ("student_id", "role", "date", "mode"), mapping)
    today = today or date.today()
    cols = {c: table.column(c) for c in SIGNATURE_COLUMNS}
    rows: list[SignatureRow] = []
    problems: list[Problem] = []
    for i in range(len(table.frame)):
        line = int(table.lines[i])

        def bad(column: str, expected: str, line: int = line, i: int = i) -> None:
            problems.append(Problem(table.file, expected, line=line, column=column,
                                    value=str(cols[column][i])))

        sid = str(cols["student_id"][i])
        role = role_of(str(cols["role"][i]))
        mode = mode_of(str(cols["mode"][i]))
        signed_on = parse_date(str(cols["date"][i]))
        week_text = str(cols["week"][i]).strip()
        week = {"": 0, "1": 1, "2": 2}.get(week_text)
        if not sid:
            bad("student_id", "un identifiant d'élève")
        elif role is None:
            bad("role", "un rôle parmi " + ", ".join(ROLES))
        elif mode is None:
            bad("mode", "un mode parmi " + ", ".join(MODES))
        elif signed_on is None:
            bad("date", "une date (AAAA-MM-JJ ou JJ/MM/AAAA)")
        elif signed_on > today:
            bad("date", f"une date passée ou d'aujourd'hui ({today:%d/%m/%Y})")
        elif week is None:
            bad("week", "1, 2 ou vide")
        else:
            rows.append(SignatureRow(line, sid, role, signed_on, mode,
                                     str(cols["offer_id"][i]).strip(), week))
    return rows, problems


# --------------------------------------------------------------------------
# Details: pupils, schools, employers, offers
# --------------------------------------------------------------------------

_PHONE = re.compile(r"^(?:(?:\+|00)33|0)[1-9]\d{8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTCODE = re.compile(r"^\d{5}$")
_URL = re.compile(r"^https?://\S+$")
Check = Callable[[str], tuple[Any, str]]  # cell -> (value, '' or what was expected)


def _text(limit: int) -> Check:
    def check(cell: str) -> tuple[Any, str]:
        return (cell, "") if len(cell) <= limit else (cell, f"au plus {limit} caractères")
    return check


def _phone(cell: str) -> tuple[Any, str]:
    digits = re.sub(r"[\s.\-]", "", cell)
    if not cell or _PHONE.match(digits):
        return digits, ""
    return cell, "un numéro de téléphone français (0611223344 ou +33611223344)"


def _email(cell: str) -> tuple[Any, str]:
    return (cell, "") if not cell or _EMAIL.match(cell) else (cell, "une adresse e-mail")


def _date(cell: str) -> tuple[Any, str]:
    if not cell:
        return None, ""
    found = parse_date(cell)
    return (found, "") if found else (cell, "une date (JJ/MM/AAAA ou AAAA-MM-JJ)")


def _date_text(cell: str) -> tuple[Any, str]:
    value, why = _date(cell)
    return (value.strftime("%d/%m/%Y") if value else "", why) if not why else (cell, why)


def _bool(cell: str) -> tuple[Any, str]:
    value = {"": False, "0": False, "1": True, "true": True, "false": False, "oui": True,
             "non": False, "yes": True, "no": False}.get(cell.strip().lower())
    return (value, "") if value is not None else (cell, "oui ou non")


def _postcode(cell: str) -> tuple[Any, str]:
    return (cell, "") if not cell or _POSTCODE.match(cell) else (cell, "un code postal à 5 "
                                                                       "chiffres")


def _url(cell: str) -> tuple[Any, str]:
    if cell and not _URL.match(cell):
        return cell, "une adresse web (https://...)"
    return _text(300)(cell)


def _schedule(cell: str) -> tuple[Any, str]:
    if not cell:
        return "", ""
    try:
        schedule = parse_schedule(cell)
        check_minor_limits(schedule)
    except ScheduleError as exc:
        return cell, f"des horaires valides ({exc})"
    return schedule.text(), ""


def _legal_status(cell: str) -> tuple[Any, str]:
    value = {"": "", "public": "public", "prive": "privé", "privé": "privé",
             "privé sous contrat": "privé"}.get(cell.strip().lower())
    return (value, "") if value is not None else (cell, "public ou privé")


@dataclass(frozen=True)
class DetailKind:
    """A kind of details file: its key column (file name, store name) and its columns
    (file name -> (store column, check))."""

    label: str
    key: tuple[str, str]
    columns: dict[str, tuple[str, Check]]


DETAILS: dict[str, DetailKind] = {
    "people": DetailKind("élèves", ("student_id", "student_id"), {
        "last_name": ("last_name", _text(100)), "first_name": ("first_name", _text(100)),
        "birth_date": ("birth_date", _date), "class": ("class_name", _text(50)),
        "address": ("address", _text(170)), "phone": ("phone", _phone),
        "email": ("email", _email),
        **{f"{who}_{what}": (f"{who}_{what}", check)
           for who in ("rep1", "rep2", "teacher")
           for what, check in (("name", _text(100)), ("email", _email), ("phone", _phone))},
        "pai": ("pai", _bool)}),
    "schools": DetailKind("établissements", ("school_id", "uai"), {
        "name": ("name", _text(150)), "address": ("address", _text(300)),
        "postcode": ("postcode", _postcode), "city": ("city", _text(100)),
        "legal_status": ("legal_status", _legal_status),
        "delegation_date": ("delegation_date", _date_text),
        "head_name": ("head_name", _text(100)), "head_role": ("head_role", _text(100)),
        "email": ("email", _email), "phone": ("phone", _phone)}),
    "employers": DetailKind("employeurs", ("employer_id", "employer_id"), {
        "employer_name": ("name", _text(150)), "address": ("address", _text(300)),
        "description": ("description", _text(275)), "website": ("website", _url),
        "representative_name": ("representative_name", _text(100)),
        "representative_role": ("representative_role", _text(100)),
        "email": ("email", _email), "phone": ("phone", _phone)}),
    "offers": DetailKind("offres", ("offer_id", "offer_id"), {
        "title": ("title", _text(150)), "description": ("description", _text(1500)),
        "street": ("street", _text(300)), "postcode": ("postcode", _postcode),
        "city": ("city", _text(50)), "permalink": ("permalink", _url),
        "schedule": ("schedule", _schedule), "meals": ("meals", _text(500)),
        "tutor_name": ("tutor_full_name", _text(100)), "tutor_role": ("tutor_role", _text(100)),
        "tutor_email": ("tutor_email", _email), "tutor_phone": ("tutor_phone", _phone)}),
}


def read_details(kind: str, path: Path, known: set[str], mapping: Path | None = None
                 ) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows of a details file as store rows (only the columns the file has), and the rows
    rejected (unknown key, a bad cell: the first one of the row is reported)."""
    spec = DETAILS[kind]
    file_key, store_key = spec.key
    table = read_sheet(path, (file_key, *spec.columns), (file_key,), mapping)
    present = [c for c in spec.columns if table.has(c)]
    if not present:
        raise InputError([Problem(table.file, "au moins une colonne parmi : "
                                  + ", ".join(spec.columns), line=table.header_line)])
    keys = table.column(file_key)
    cells = {c: table.column(c) for c in present}
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i in range(len(table.frame)):
        line = int(table.lines[i])
        key = str(keys[i]).strip()
        if key not in known:
            problems.append(Problem(table.file, f"un identifiant connu de la campagne "
                                    f"({spec.label})", line=line, column=file_key, value=key))
            continue
        if key in seen:
            problems.append(Problem(table.file, f"une seule ligne par identifiant (déjà ligne "
                                    f"{seen[key]})", line=line, column=file_key, value=key))
            continue
        seen[key] = line
        row: dict[str, Any] = {store_key: key}
        for c in present:
            column, check = spec.columns[c]
            value, why = check(str(cells[c][i]).strip())
            if why:
                problems.append(Problem(table.file, why, line=line, column=c, value=str(value)))
                break
            row[column] = value
        else:
            rows.append(row)
    return rows, problems
