"""French number formatting for pages and reports, and spreadsheet-safe CSV for exports.

The filters of the template environment (`views.environment`) are these functions:
`fr_int` (1 234), `fr_num` (22,4), `fr_pct` (90,4 %). They accept numbers or the strings of
a result folder's CSV files, and show an en dash for a missing value (None, NaN, "").
Spaces are non-breaking (U+00A0) so that a figure never wraps inside a table cell.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from affectation.io.output import spreadsheet_cell

NBSP = "\u00a0"
MISSING = "\u2013"  # en dash: a value that does not exist (no pupil, no journey)



def _number(value: Any) -> float | None:
    """`value` as a float; None when it is missing or not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def fr_int(value: Any) -> str:
    """An integer with French digit grouping: 25556 -> "25 556" (non-breaking spaces)."""
    number = _number(value)
    if number is None:
        return MISSING
    if math.isinf(number):
        return "\u221e" if number > 0 else "-\u221e"
    return f"{round(number):,}".replace(",", NBSP)


def fr_num(value: Any, digits: int = 1) -> str:
    """A decimal number with a decimal comma and grouped thousands: 1159.5 -> "1 159,5"."""
    number = _number(value)
    if number is None:
        return MISSING
    if math.isinf(number):
        return "\u221e" if number > 0 else "-\u221e"
    return f"{number:,.{digits}f}".replace(",", NBSP).replace(".", ",")


def fr_pct(value: Any, digits: int = 1) -> str:
    """A rate (0..1) as a French percentage: 0.9042 -> "90,4 %"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{fr_num(100 * number, digits)}{NBSP}%"


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV table for people to open in a spreadsheet (exports of the web pages): UTF-8 text,
    `,`-separated, every cell made inert as in every CSV output of ours
    (`io.output.spreadsheet_cell`: a leading apostrophe before `=`, `+`, `-`, `@`, tab or
    carriage return, numbers kept); None is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_cell(str(c)) for c in columns])
    for row in rows:
        writer.writerow([spreadsheet_cell("" if v is None else str(v)) for v in row])
    return out.getvalue()
