"""Reading input tables (CSV or XLSX) as text, and parsing their columns with row-level errors.

Everything is read as strings first (identifiers such as `0140052F` or `00123` must never become
numbers), then each column is parsed vectorised; a value that does not parse becomes a
`Problem` with its file, line and column.

CSV files are split with Python's `csv` module rather than pandas so that the structure is
checked, not guessed: every record keeps the file line it starts on (blank lines and quoted
cells holding line breaks included), a row with more fields than the header is an error instead
of a silent shift, and a repeated header name is seen as such (pandas renames it `lat.1`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affectation.errors import InputError, Problem

TRUE_WORDS = frozenset({"1", "true", "oui", "yes", "vrai"})
FALSE_WORDS = frozenset({"0", "false", "non", "no", "faux"})

# Bytes that are not UTF-8 decode (errors="surrogateescape") to lone surrogates U+DC80-U+DCFF.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_SHOWN_VALUE = 80  # characters of a cell shown in a message


@dataclass(frozen=True)
class Table:
    """A table of trimmed strings; `lines[i]` is the file line where row i starts.

    `header_line` is the line of the header (1 unless blank lines precede it).
    """

    file: str
    frame: pd.DataFrame
    lines: np.ndarray
    decimal_comma: bool
    header_line: int = 1

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def column(self, column: str) -> np.ndarray:
        """The column as an object array of stripped strings ('' when absent)."""
        if column not in self.frame.columns:
            return np.full(len(self.frame), "", dtype=object)
        return self.frame[column].to_numpy(dtype=object, copy=True)


@dataclass
class _Raw:
    """A table as read from its file: header cells and rows of stripped strings."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    header_line: int
    decimal_comma: bool


def read_table(path: Path, required: tuple[str, ...]) -> Table:
    """Read a CSV (`,` or `;`, UTF-8 with or without BOM) or XLSX first sheet as strings."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise InputError([Problem(str(path), "un fichier existant")])
    raw = _read_xlsx(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path)
    problems = _header_problems(file, raw, required)
    if problems:
        raise InputError(problems)
    keep = [j for j, name in enumerate(raw.header) if name]
    names = [raw.header[j] for j in keep]
    rows = raw.rows if len(keep) == len(raw.header) else [[r[j] for j in keep] for r in raw.rows]
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    return Table(file=file, frame=frame, lines=np.asarray(raw.lines, dtype=np.int64),
                 decimal_comma=raw.decimal_comma, header_line=raw.header_line)


def _header_problems(file: str, raw: _Raw, required: tuple[str, ...]) -> list[Problem]:
    line = raw.header_line
    missing = [c for c in required if c not in raw.header]
    problems = [Problem(file, "colonne obligatoire manquante", line=line, column=c)
                for c in missing]
    seen: set[str] = set()
    duplicated: list[str] = []
    for name in raw.header:
        if name and name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    for name in duplicated:
        positions = ", ".join(str(j + 1) for j, h in enumerate(raw.header) if h == name)
        problems.append(Problem(
            file, f"colonne en double dans l'en-tête (positions {positions}) : "
            "un seul exemplaire de chaque colonne", line=line, column=name))
    return problems


def _shown(value: str) -> str:
    """A cell as shown in a message: undecodable bytes as U+FFFD, long text cut."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


def _read_csv(path: Path) -> _Raw:
    file = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(str(path), f"un fichier lisible ({exc.strerror})")]) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    # Never fails: bytes that are not UTF-8 become lone surrogates, reported below with the
    # line and column where they stand.
    text = data.decode("utf-8", "surrogateescape")
    first = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[Problem] = []
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    width = 0
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if header is None:
                if not row:
                    continue
                header = [c.strip() for c in row]
                header_line, width = start, len(row)
                if not any(header):
                    raise InputError([Problem(file, "un en-tête de colonnes", line=start)])
                continue
            if len(row) != width:
                if not row:
                    continue  # blank line
                if len(row) > width:
                    extra = row[width:]
                    if any(c.strip() for c in extra):
                        problems.append(Problem(
                            file,
                            f"autant de champs que l'en-tête ({width}), trouvé {len(row)} "
                            f"(séparateur « {delimiter} » en trop ou cellule hors colonne)",
                            line=start, value=_shown(delimiter.join(extra))))
                        continue
                    row = row[:width]
                else:
                    row = row + [""] * (width - len(row))
            cells = [c.strip() for c in row]
            if any(cells):
                rows.append(cells)
                lines.append(start)
    except csv.Error as exc:
        raise InputError(problems + [Problem(
            file, f"un CSV bien formé : {_csv_error(str(exc), delimiter)}",
            line=previous + 1)]) from None
    if header is None:
        raise InputError([Problem(file, "un en-tête de colonnes", line=1)])
    if _UNDECODABLE.search(text):
        problems.extend(_encoding_problems(file, header, header_line, rows, lines))
    if problems:
        raise InputError(problems)
    return _Raw(header, rows, lines, header_line, delimiter == ";")


def _csv_error(message: str, delimiter: str) -> str:
    if "unexpected end of data" in message:
        return "guillemet ouvert à cette ligne et jamais refermé"
    if "expected after" in message:
        return f"« {delimiter} » ou fin de ligne attendu après un guillemet fermant"
    return message


def _encoding_problems(file: str, header: list[str], header_line: int,
                       rows: list[list[str]], lines: list[int]) -> list[Problem]:
    """One problem per cell holding bytes that are not UTF-8, at the line of the byte."""
    expected = "un fichier encodé en UTF-8 (enregistrer le fichier en « CSV UTF-8 »)"
    problems: list[Problem] = []
    records = [(header_line, header, True)]
    records += [(line, row, False) for line, row in zip(lines, rows, strict=True)]
    for start, cells, is_header in records:
        offset = 0
        for j, cell in enumerate(cells):
            found = _UNDECODABLE.search(cell)
            if found:
                line = start + offset + cell[: found.start()].count("\n")
                column = None if is_header else (header[j] if j < len(header) else None)
                problems.append(Problem(file, expected, line=line, column=column or None,
                                        value=_shown(cell)))
            offset += cell.count("\n")
    return problems


def _read_xlsx(path: Path) -> _Raw:
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            [Problem(path.name, "lecture XLSX : installer openpyxl (pip install openpyxl)")]
        ) from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            sheet_rows = [[_cell_text(v) for v in row]
                          for row in sheet.iter_rows(min_row=1, values_only=True)]
        finally:
            workbook.close()
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is an input error
        raise InputError([Problem(path.name, f"un classeur XLSX lisible ({exc})")]) from None
    header: list[str] | None = None
    header_line = 1
    rows: list[list[str]] = []
    lines: list[int] = []
    for line, cells in enumerate(sheet_rows, start=1):
        if header is None:
            if any(cells):
                header, header_line = cells, line
            continue
        cells = (cells + [""] * (len(header) - len(cells)))[: len(header)]
        if any(cells):
            rows.append(cells)
            lines.append(line)
    if header is None:
        raise InputError([Problem(path.name, "un en-tête de colonnes", line=1)])
    return _Raw(header, rows, lines, header_line, False)


def _cell_text(value: Any) -> str:
    """A workbook cell as the text a CSV export would hold (integral floats without `.0`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_float(
    table: Table,
    column: str,
    problems: list[Problem],
    expected: str,
    low: float = -np.inf,
    high: float = np.inf,
    default: float = np.nan,
) -> np.ndarray:
    """Parse a numeric column; empty cells take `default`; bad or out-of-range cells are
    problems."""
    text = table.column(column).astype(str)
    if table.decimal_comma:
        text = np.char.replace(text, ",", ".")
    empty = text == ""
    values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    bad = ~empty & (~np.isfinite(values) | (values < low) | (values > high))
    _report(table, column, bad, problems, expected)
    values[empty] = default
    values[bad] = default
    return values


def parse_int(
    table: Table,
    column: str,
    problems: list[Problem],
    expected: str,
    low: int = 0,
    default: int | None = None,
    high: int = 2**53,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse an integer column; returns (values, present). Empty cells: `default` or a problem.
    A value beyond [`low`, `high`] is a problem, never cast (a huge value would wrap to a
    negative integer)."""
    text = table.column(column).astype(str)
    empty = text == ""
    values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        bad = ~empty & (~np.isfinite(values) | (values != np.round(values)) | (values < low)
                        | (values > high))
    if default is None:
        bad |= empty
    _report(table, column, bad, problems, expected)
    out = np.where(empty | bad, default if default is not None else 0, values)
    return out.astype(np.int64), ~empty & ~bad


def parse_bool(table: Table, column: str, problems: list[Problem], default: bool) -> np.ndarray:
    """Parse a boolean column (0/1, true/false, oui/non, yes/no; any case; empty = default)."""
    text = np.char.lower(table.column(column).astype(str))
    is_true = np.isin(text, list(TRUE_WORDS))
    is_false = np.isin(text, list(FALSE_WORDS))
    empty = text == ""
    bad = ~(is_true | is_false | empty)
    _report(table, column, bad, problems, "un booléen (0/1, true/false, oui/non, yes/no)")
    return np.where(empty, default, is_true)


def check_identifiers(table: Table, column: str, problems: list[Problem], what: str) -> np.ndarray:
    """The identifier column: non-empty and unique; returns it as an object array.

    Every repeated identifier is a problem naming the line of its first use (the message
    shows the first ones, then a count: see `InputError`).
    """
    ids = table.column(column)
    empty = ids == ""
    _report(table, column, empty, problems, f"un identifiant de {what} non vide")
    dup = pd.Series(ids).duplicated(keep="first").to_numpy() & ~empty
    if dup.any():
        first: dict[str, int] = {}
        for row, value in enumerate(ids):
            first.setdefault(value, int(row))
        for dup_row in np.flatnonzero(dup):
            row = int(dup_row)
            problems.append(
                Problem(
                    table.file,
                    f"un identifiant unique (déjà utilisé ligne {table.lines[first[ids[row]]]})",
                    line=int(table.lines[row]),
                    column=column,
                    value=str(ids[row]),
                )
            )
    return ids


def report_rows(
    table: Table, column: str, bad: np.ndarray, problems: list[Problem], expected: str
) -> None:
    """Add a problem for each row flagged in `bad` (the cell's value shown)."""
    _report(table, column, bad, problems, expected)


def _report(
    table: Table, column: str, bad: np.ndarray, problems: list[Problem], expected: str
) -> None:
    if not bad.any():
        return
    values = table.column(column)
    for row in np.flatnonzero(bad):
        problems.append(
            Problem(
                table.file,
                expected,
                line=int(table.lines[row]),
                column=column,
                value=str(values[row]),
            )
        )
