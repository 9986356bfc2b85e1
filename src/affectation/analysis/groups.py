"""The figures of one group of pupils, computed in one place for every table that has them:
`fairness.csv` (the audit), `indicators.csv` and the sweep's territories.

Minutes are the one-way trips as `assignments.csv` writes them (one decimal); a week with no
finite trip (a signed convention that no timetable journey serves) counts in no statistic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def written_minutes(minutes: np.ndarray) -> np.ndarray:
    """(students, 2) minutes as `assignments.csv` writes them (one decimal), nan where none."""
    flat = [float(f"{m:.1f}") if not math.isnan(m) else math.nan for m in minutes.ravel()]
    return np.array(flat, dtype=np.float64).reshape(minutes.shape)


def placement_row(pupils: np.ndarray, kind: np.ndarray, full: np.ndarray) -> dict[str, Any]:
    """`students`, `placed_full`, `placed_partial`, `unplaced`, `rate_full` of `pupils`."""
    n = len(pupils)
    placed = int(full[pupils].sum())
    return {
        "students": n,
        "placed_full": placed,
        "placed_partial": int((kind[pupils] == "partial").sum()),
        "unplaced": int((kind[pupils] == "unplaced").sum()),
        "rate_full": round(placed / n, 4) if n else None,
    }


def trip_minutes(written: np.ndarray, pupils: np.ndarray) -> np.ndarray:
    """The finite written trips of `pupils`, both weeks."""
    m = written[pupils].ravel()
    return m[np.isfinite(m)]


def median_minutes(trips: np.ndarray) -> float | None:
    return round(float(np.median(trips)), 1) if len(trips) else None


def p90_minutes(trips: np.ndarray) -> float | None:
    return round(float(np.percentile(trips, 90)), 1) if len(trips) else None
