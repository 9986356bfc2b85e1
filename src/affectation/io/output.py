"""Result folders: `assignments.csv` and `summary.json`, written atomically.

The folder is assembled beside its destination and swapped in at the end, so a crash or an
interruption leaves the previous result folder whole (spec: Output folder).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from affectation.domain.allocation import FULL_KINDS, KINDS
from affectation.domain.instance import Instance
from affectation.io.tables import split_sheet, unprotect

ASSIGNMENT_COLUMNS = (
    "student_id", "school_id", "week1_offer_id", "week2_offer_id",
    "week1_minutes", "week2_minutes", "kind", "reason",
)


# Spreadsheets read a cell starting with one of these as a formula (`=`, `+`, `-`, `@`; a tab or
# a carriage return may hide one).
FORMULA_STARTS = "=+-@\t\r"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_RISKY = re.compile(r"(?:^|[,\n])\"?['=+\-@\t\r]")


def spreadsheet_cell(value: str) -> str:
    """A CSV cell made inert for spreadsheets: a text starting with `=`, `+`, `-`, `@` (or a
    tab, a carriage return) gets a leading apostrophe, which spreadsheets show as text and our
    readers take off (`io.tables.unprotect`); a number (`-12`, `-0,5`) is left a number, and a
    text already starting with an apostrophe before one of them gets one more, so that every
    text reads back as it was."""
    if not value:
        return value
    first = value[0]
    if first in FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    if first == "'" and len(value) > 1 and value[1] in FORMULA_STARTS + "'":
        return "'" + value
    return value


def spreadsheet_text(cell: str) -> str:
    """The text a cell of our CSV outputs stands for (the inverse of `spreadsheet_cell`)."""
    return unprotect(cell)


def _map_csv(text: str, cell: Callable[[str], str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([cell(c) for c in row])
    return out.getvalue()


def protect_csv(text: str) -> str:
    """A CSV text (`,`-separated, as we write them) with every cell made inert for
    spreadsheets (`spreadsheet_cell`); the same text when no cell needs it."""
    if not _RISKY.search(text):
        return text
    return _map_csv(text, spreadsheet_cell)


def unprotect_csv(text: str) -> str:
    """The inverse of `protect_csv` (a CSV output of ours read back as text)."""
    if not _RISKY.search(text):
        return text
    return _map_csv(text, spreadsheet_text)


def engine_version() -> str:
    try:
        return metadata.version("affectation")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Result:
    """What a solve produced, ready to be written."""

    allocation: np.ndarray
    # (students, 2) exact one-way minutes, nan where no offer or no journey (a signed
    # convention out of the network's reach)
    minutes: np.ndarray
    kind: np.ndarray
    reason: np.ndarray
    summary: dict


def assignments_csv(instance: Instance, result: Result) -> str:
    """The assignments table as CSV text (every input pupil, input order)."""
    st, of = instance.students, instance.offers
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ASSIGNMENT_COLUMNS)
    ids = of.ids
    for i in range(st.n):
        a, b = result.allocation[i]
        m1, m2 = result.minutes[i]
        writer.writerow((
            st.ids[i], st.school[i],
            ids[a] if a >= 0 else "", ids[b] if b >= 0 else "",
            f"{m1:.1f}" if a >= 0 and np.isfinite(m1) else "",
            f"{m2:.1f}" if b >= 0 and np.isfinite(m2) else "",
            result.kind[i], result.reason[i],
        ))
    return out.getvalue()


def counts(instance: Instance, kind: np.ndarray) -> dict:
    """The spec's summary counts, from the kinds."""
    st = instance.students
    full = np.isin(kind, FULL_KINDS)
    to_place = st.to_place
    return {
        "students": int(st.n),
        "students_to_place": int(to_place.sum()),
        "placed_full": int(full.sum()),
        "placed_partial": int((kind == "partial").sum()),
        "unplaced": int((kind == "unplaced").sum()),
        "priority_students": int((st.priority & to_place).sum()),
        "priority_placed_full": int((full & st.priority).sum()),
        "by_kind": {k: int((kind == k).sum()) for k in KINDS},
    }


def input_hashes(instance: Instance) -> dict:
    """Each input file's path and SHA-256 (of the whole workbook for `book.xlsx#Sheet`)."""
    return {
        name: {"path": str(path), "sha256": sha256(split_sheet(path)[0])}
        for name, path in instance.input_files().items()
    }


def summary_json(summary: dict) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
