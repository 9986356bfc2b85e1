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

from affectation.errors import InputError, Problem, notify

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


# A spreadsheet's rows above its header (a title, a date) are looked through this far.
HEADER_SEARCH_ROWS = 10
# Bytes forming UTF-8 sequences of two to four bytes: a file holding some is UTF-8 somewhere.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Escaping that our CSV outputs carry (`io.output.spreadsheet_cell`): taken off when read.
_PROTECTED = "=+-@'\t\r"


def split_sheet(path: Path) -> tuple[Path, str | None]:
    """`classeur.xlsx#Feuille2` -> (classeur.xlsx, "Feuille2"): a workbook's sheet chosen by
    name (beyond the v1 spec); any other path -> (path, None)."""
    path = Path(path)
    name, sep, sheet = path.name.rpartition("#")
    if sep and name.lower().endswith((".xlsx", ".xlsm")) and not path.exists():
        return path.with_name(name), sheet
    return path, None


def read_table(path: Path, required: tuple[str, ...],
               expected: tuple[str, ...] | None = None) -> Table:
    """Read a CSV (`,` or `;`, UTF-8 with or without BOM, else Windows-1252) or an XLSX sheet
    (the first, or the one named after `#`) as strings.

    A title above the header is skipped when a row within the first ten holds every column of
    `expected` (default: `required`), and hinted otherwise; merged cells of a workbook are
    filled with their first cell's value (both noticed on stderr)."""
    path, sheet = split_sheet(Path(path))
    file = path.name if sheet is None else f"{path.name}#{sheet}"
    if not path.is_file():
        raise InputError([Problem(str(path), "un fichier existant")])
    wanted = required if expected is None else expected
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        records, merged = _read_xlsx(path, sheet)
        raw = _table_of(file, records, wanted, merged)
        problems = _header_problems(file, raw, required)
        if problems and sheet is None:
            problems.extend(_other_sheets(path, wanted))
    else:
        raw = _read_csv(path, wanted)
        problems = _header_problems(file, raw, required)
    if problems:
        raise InputError(problems)
    keep = [j for j, name in enumerate(raw.header) if name]
    names = [raw.header[j] for j in keep]
    rows = raw.rows if len(keep) == len(raw.header) else [[r[j] for j in keep] for r in raw.rows]
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    return Table(file=file, frame=frame, lines=np.asarray(raw.lines, dtype=np.int64),
                 decimal_comma=raw.decimal_comma, header_line=raw.header_line)


def unprotect(cell: str) -> str:
    """A cell with the leading apostrophe of our CSV outputs taken off (`'=x` -> `=x`; see
    `io.output.spreadsheet_cell`): our own outputs read back as they were."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _PROTECTED:
        return cell[1:]
    return cell


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


def _decode(file: str, data: bytes) -> tuple[str, bool]:
    """The file's text: UTF-8 (BOM allowed); else Windows-1252 (French Excel's « CSV ») when
    the file holds no UTF-8 sequence at all, said on stderr; else the UTF-8 reading with the
    bytes that are not UTF-8 as lone surrogates (True: reported cell by cell)."""
    bom = data.startswith(codecs.BOM_UTF8)
    if bom:
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    if not bom and not _UTF8_MULTIBYTE.search(data):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = ""
        if text and not _CONTROL.search(text):
            notify(f"{file} : lu en Windows-1252 (ce n'est pas de l'UTF-8 ; « CSV UTF-8 » dans "
                   "Excel l'évite).")
            return text, False
    return data.decode("utf-8", "surrogateescape"), True


def _delimiter(text: str) -> str:
    """`;` or `,`: the one more frequent on the first line holding either (titles above a
    header may hold none)."""
    for line in text.split("\n", HEADER_SEARCH_ROWS + 1)[:HEADER_SEARCH_ROWS + 1]:
        if ";" in line or "," in line:
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def _read_csv(path: Path, expected: tuple[str, ...]) -> _Raw:
    file = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(str(path), f"un fichier lisible ({exc.strerror})")]) from None
    text, mixed = _decode(file, data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            records.append((start, row))
    except csv.Error as exc:
        raise InputError([Problem(
            file, f"un CSV bien formé : {_csv_error(str(exc), delimiter)}",
            line=previous + 1)]) from None
    raw = _table_of(file, records, expected, {}, delimiter)
    raw.decimal_comma = delimiter == ";"
    if mixed:
        problems = _encoding_problems(file, raw.header, raw.header_line, raw.rows, raw.lines)
        if problems:
            raise InputError(problems)
    return raw


def _table_of(file: str, records: list[tuple[int, list[str]]], expected: tuple[str, ...],
              merged: dict[str, str], delimiter: str = ",") -> _Raw:
    """Header and rows from the file's records (line, cells): the header is the first
    non-empty record, or the first of the next ones holding every `expected` column."""
    filled = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not filled:
        raise InputError([Problem(file, "un en-tête de colonnes", line=1)])
    at = _header_at(file, filled, expected)
    header_line = filled[at][0]
    header = [c.strip() for c in filled[at][1]]
    width = len(header)
    problems: list[Problem] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    for start, row in records:
        if start <= header_line:
            continue
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
        elif len(row) < width:
            row = row + [""] * (width - len(row))
        cells = [unprotect(c.strip()) for c in row]
        if any(cells):
            rows.append(cells)
            lines.append(start)
    if problems:
        raise InputError(problems)
    data_ranges = [ref for ref, first in merged.items() if int(first) > header_line]
    if data_ranges:
        shown = ", ".join(data_ranges[:10]) + (" …" if len(data_ranges) > 10 else "")
        notify(f"{file} : {len(data_ranges)} groupe(s) de cellules fusionnées, chaque cellule "
               f"prend la valeur de la première ({shown}).")
    return _Raw(header, rows, lines, header_line, False)


def _header_at(file: str, filled: list[tuple[int, list[str]]],
               expected: tuple[str, ...]) -> int:
    """Index in `filled` of the header: 0, or a later row (within the first ten) holding every
    `expected` column when the first does not (its rows above are said on stderr)."""
    if not expected:
        return 0
    wanted = set(expected)

    def found(k: int) -> int:
        return len(wanted & {c.strip() for c in filled[k][1]})

    if found(0) == len(wanted):
        return 0
    scores = [found(k) for k in range(min(len(filled), HEADER_SEARCH_ROWS))]
    best = int(np.argmax(scores))
    if scores[best] == len(wanted):
        notify(f"{file} : la ligne d'en-tête est la ligne {filled[best][0]} ; les lignes "
               f"au-dessus (titre) sont ignorées.")
        return best
    if scores[best] > scores[0]:
        raise InputError([Problem(file, f"la ligne d'en-tête semble être la ligne "
                                  f"{filled[best][0]} (lignes au-dessus : titre ?) ; il lui "
                                  "manque : " + ", ".join(c for c in expected
                                                          if c not in {x.strip() for x in
                                                                       filled[best][1]}),
                                  line=filled[best][0])])
    return 0


def _csv_error(message: str, delimiter: str) -> str:
    if "unexpected end of data" in message:
        return "guillemet ouvert à cette ligne et jamais refermé"
    if "expected after" in message:
        return f"« {delimiter} » ou fin de ligne attendu après un guillemet fermant"
    return message


def _encoding_problems(file: str, header: list[str], header_line: int,
                       rows: list[list[str]], lines: list[int]) -> list[Problem]:
    """One problem per cell holding bytes that are not UTF-8, at the line of the byte (the
    file mixes UTF-8 with another encoding, or is neither UTF-8 nor Windows-1252)."""
    expected = ("un fichier encodé en UTF-8 d'un bout à l'autre (d'autres lignes le sont ; "
                "enregistrer le fichier en « CSV UTF-8 »)")
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


_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _read_xlsx(path: Path, sheet_name: str | None
               ) -> tuple[list[tuple[int, list[str]]], dict[str, str]]:
    """A sheet's rows (line, cells as text), merged ranges filled with their first cell's
    value, and those ranges (ref -> first row)."""
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            [Problem(path.name, "lecture XLSX : installer openpyxl (pip install openpyxl)")]
        ) from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is an input error
        raise InputError([Problem(path.name, f"un classeur XLSX lisible ({exc})")]) from None
    try:
        if sheet_name is not None and sheet_name not in workbook.sheetnames:
            names = ", ".join(f"« {n} »" for n in workbook.sheetnames)
            raise InputError([Problem(f"{path.name}#{sheet_name}", f"une feuille du classeur "
                                      f"(feuilles : {names})")])
        sheet = workbook[sheet_name] if sheet_name is not None else workbook.worksheets[0]
        try:
            rows = [[_cell_text(v) for v in row]
                    for row in sheet.iter_rows(min_row=1, values_only=True)]
            with sheet._get_source() as source:  # merged ranges: openpyxl's read-only mode
                xml = source.read()              # does not give them
        except Exception as exc:  # noqa: BLE001
            raise InputError([Problem(path.name, f"un classeur XLSX lisible ({exc})")]) from None
    finally:
        workbook.close()
    merged: dict[str, str] = {}
    for found in _MERGE.finditer(xml):
        c1, r1, c2, r2 = (g.decode() for g in found.groups())
        top, bottom = int(r1), int(r2)
        left, right = _column_index(c1), _column_index(c2)
        value = rows[top - 1][left] if top - 1 < len(rows) and left < len(rows[top - 1]) else ""
        for r in range(top - 1, min(bottom, len(rows))):
            row = rows[r]
            if len(row) <= right:
                row.extend([""] * (right + 1 - len(row)))
            for c in range(left, right + 1):
                row[c] = value
        merged[f"{c1}{r1}:{c2}{r2}"] = r1
    return list(enumerate(rows, start=1)), merged


def _cell_text(value: Any) -> str:
    """A workbook cell as the text a CSV export would hold (integral floats without `.0`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - ord("A") + 1
    return index - 1


def _other_sheets(path: Path, expected: tuple[str, ...]) -> list[Problem]:
    """A hint naming the other sheets of the workbook that hold the expected columns."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - already reported by the first read
        return []
    try:
        hits = []
        for sheet in workbook.worksheets[1:]:
            head = [[_cell_text(v) for v in row] for row in
                    sheet.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, values_only=True)]
            if any(set(expected) <= {c for c in row} for row in head):
                hits.append(sheet.title)
    finally:
        workbook.close()
    return [Problem(path.name, f"les colonnes sur la première feuille : elles sont sur la "
                    f"feuille « {name} » ; nommez-la après le fichier : {path.name}#{name}")
            for name in hits]


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
