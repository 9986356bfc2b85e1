"""Result folders: `assignments.csv` and `summary.json`, written atomically.

The folder is assembled beside its destination and swapped in at the end, so a crash or an
interruption leaves the previous result folder whole (spec: Output folder).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from affectation.domain.allocation import FULL_KINDS, KINDS
from affectation.domain.instance import Instance

ASSIGNMENT_COLUMNS = (
    "student_id", "school_id", "week1_offer_id", "week2_offer_id",
    "week1_minutes", "week2_minutes", "kind", "reason",
)


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
    minutes: np.ndarray  # (students, 2) exact one-way minutes, nan where no offer
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
            f"{m1:.1f}" if a >= 0 else "", f"{m2:.1f}" if b >= 0 else "",
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
    return {
        name: {"path": str(path), "sha256": sha256(path)}
        for name, path in instance.input_files().items()
    }


def summary_json(summary: dict) -> str:
    return json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
