"""Reading input tables (CSV or XLSX) as text, and parsing their columns with row-level errors.

Everything is read as strings first (identifiers such as `0140052F` or `00123` must never become
numbers), then each column is parsed vectorised; a value that does not parse becomes a
`Problem` with its file, line and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.errors import InputError, Problem

TRUE_WORDS = frozenset({"1", "true", "oui", "yes", "vrai"})
FALSE_WORDS = frozenset({"0", "false", "non", "no", "faux"})


@dataclass(frozen=True)
class Table:
    """A table of trimmed strings; `lines[i]` is the file line of row i (header is line 1)."""

    file: str
    frame: pd.DataFrame
    lines: np.ndarray
    decimal_comma: bool

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def column(self, column: str) -> np.ndarray:
        """The column as an object array of stripped strings ('' when absent)."""
        if column not in self.frame.columns:
            return np.full(len(self.frame), "", dtype=object)
        return self.frame[column].to_numpy(dtype=object, copy=True)


def read_table(path: Path, required: tuple[str, ...]) -> Table:
    """Read a CSV (`,` or `;`, UTF-8 with or without BOM) or XLSX first sheet as strings."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise InputError([Problem(str(path), "un fichier existant")])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        frame, decimal_comma = _read_xlsx(path), False
    else:
        frame, decimal_comma = _read_csv(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            [
                Problem(file, "colonne obligatoire manquante", line=1, column=c)
                for c in missing
            ]
        )
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise InputError(
            [Problem(file, "colonne en double dans l'en-tête", line=1, column=c) for c in duplicated]
        )
    frame = frame.apply(lambda s: s.str.strip())
    lines = np.arange(len(frame), dtype=np.int64) + 2
    return Table(file=file, frame=frame.reset_index(drop=True), lines=lines,
                 decimal_comma=decimal_comma)


def _read_csv(path: Path) -> tuple[pd.DataFrame, bool]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            [Problem(path.name, "un fichier encodé en UTF-8", line=line)]
        ) from None
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            quoting=csv.QUOTE_MINIMAL,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise InputError([Problem(path.name, "un en-tête de colonnes", line=1)]) from None
    except pd.errors.ParserError as exc:
        raise InputError([Problem(path.name, f"un CSV bien formé ({exc})")]) from None
    return frame, delimiter == ";"


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False)
    except ImportError:
        raise InputError(
            [Problem(path.name, "lecture XLSX : installer openpyxl (pip install openpyxl)")]
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is an input error
        raise InputError([Problem(path.name, f"un classeur XLSX lisible ({exc})")]) from None
    return frame.astype(str).replace({"nan": "", "None": ""})


def parse_float(
    table: Table,
    column: str,
    problems: list[Problem],
    expected: str,
    low: float = -np.inf,
    high: float = np.inf,
    default: float = np.nan,
) -> np.ndarray:
    """Parse a numeric column; empty cells take `default`; bad or out-of-range cells are problems."""
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
) -> tuple[np.ndarray, np.ndarray]:
    """Parse an integer column; returns (values, present). Empty cells: `default` or a problem."""
    text = table.column(column).astype(str)
    empty = text == ""
    values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    bad = ~empty & (~np.isfinite(values) | (values != np.round(values)) | (values < low))
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
    """The identifier column: non-empty and unique; returns it as an object array."""
    ids = table.column(column)
    empty = ids == ""
    _report(table, column, empty, problems, f"un identifiant de {what} non vide")
    series = pd.Series(ids)
    dup = series.duplicated(keep="first").to_numpy() & ~empty
    for row in np.flatnonzero(dup)[:50]:
        first = int(np.flatnonzero(ids == ids[row])[0])
        problems.append(
            Problem(
                table.file,
                f"un identifiant unique (déjà utilisé ligne {table.lines[first]})",
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
