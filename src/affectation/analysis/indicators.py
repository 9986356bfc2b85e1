"""Territorial indicators (`indicators.csv`): what coordinators look at, by territory.

One row for the whole scenario (`territory_type` `region`, territory `ensemble`), then one per
département, EPCI and school (UAI) of the pupils to place (`self_placed` and `exempt` pupils
count nowhere). A pupil's département and EPCI are those of its home commune (nearest commune
centroid, as in `audit`); its school is its `school_id`. Columns:

- `students`, `placed_full`, `placed_partial`, `unplaced`: pupils of the territory, placed for
  both weeks, for one week only, for none; `rate_full` = placed_full / students.
- `priority_students`, `priority_placed_full`, `priority_unplaced`: the same for the
  territory's priority pupils (`priority_unplaced`: priority pupils with no week at all).
- `seats_within_reach`: the two-week-equivalent seats of the offers that at least one pupil of
  the territory may use (within its travel limit, and usable: reserved offers count only when
  a priority pupil of the territory reaches them). An offer counts `(seats in week 1 + seats in
  week 2) / 2`: its capacity when open both weeks, half of it when open one week. Each offer
  counts once per territory, whoever else also reaches it: neighbouring territories share it.
- `seats_missing`: pupils of the territory not placed for both weeks (`students -
  placed_full`). It is the number of two-week seats that, offered at those pupils' homes,
  would place everyone; seats elsewhere may need more (they must be within reach).
- `median_minutes`: median one-way minutes (as written in `assignments.csv`) over the
  territory's placed weeks, empty when none.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pandas as pd

from affectation.analysis.groups import (
    median_minutes,
    placement_row,
    trip_minutes,
    written_minutes,
)
from affectation.domain.allocation import FULL_KINDS
from affectation.domain.instance import Instance
from affectation.domain.territory import (
    group_labels,
    pupil_groups,
    split_groups,
    territory_communes,
)
from affectation.engine.candidates import allowed_pairs
from affectation.travel.reach import Reach

TERRITORY_TYPES = ("region", "department", "epci", "school")
REGION = "ensemble"
COLUMNS = ("territory_type", "territory", "label", "students", "placed_full", "placed_partial",
           "unplaced", "rate_full", "priority_students", "priority_placed_full",
           "priority_unplaced", "seats_within_reach", "seats_missing", "median_minutes")


def seats_within_reach(instance: Instance, reach: Reach, labels: np.ndarray,
                       territories: list[str]) -> np.ndarray:
    """Two-week-equivalent seats of the offers some pupil of each territory may use.

    `labels` is each pupil's territory (see `seats_within_reach_all`).
    """
    return seats_within_reach_all(instance, reach, [(labels, territories)])[0]


def seats_within_reach_all(instance: Instance, reach: Reach,
                           kinds: list[tuple[np.ndarray, list[str]]]) -> list[np.ndarray]:
    """`seats_within_reach` of several kinds of territories (each pupil's labels, the
    territories), in one pass over the reachable pairs.

    One boolean (territory, offer) table per kind, marked by every allowed reachable pair (no
    sort of the millions of pairs), then one product with the offers' seats.
    """
    of = instance.offers
    codes = np.full((len(kinds), instance.students.n), -1, dtype=np.int64)
    base = 0
    for k, (labels, territories) in enumerate(kinds):
        code_of = {t: base + c for c, t in enumerate(territories)}
        codes[k] = [code_of.get(str(x), -1) for x in labels]
        base += len(territories)
    seen = np.zeros((base, of.n), dtype=bool)
    _mark_seen(reach.student_of_pair(), reach.offer, allowed_pairs(instance, reach), codes,
               seen)
    equivalent = of.seats.sum(axis=1) / 2.0
    out = []
    base = 0
    for _, territories in kinds:
        out.append(seen[base:base + len(territories)] @ equivalent)
        base += len(territories)
    return out


@numba.njit(cache=True)
def _mark_seen(student: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
               codes: np.ndarray, seen: np.ndarray) -> None:
    """seen[codes[k, s], o] = True for every allowed pair (s, o) and kind k (code >= 0)."""
    for i in range(len(student)):
        if not allowed[i]:
            continue
        s, o = student[i], offer[i]
        for k in range(codes.shape[0]):
            c = codes[k, s]
            if c >= 0:
                seen[c, o] = True


def indicators_table(instance: Instance, allocation: np.ndarray, kind: np.ndarray,
                     minutes: np.ndarray, reach: Reach,
                     groups: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The rows of `indicators.csv` (see the module docstring).

    `kind` the pupils' kinds, `minutes` (students, 2) the exact one-way minutes of `allocation`
    (nan where none), `reach` the reachable pairs of the pupils to place, `groups` the pupils'
    groups (`territory.pupil_groups` when None).
    """
    st = instance.students
    groups = pupil_groups(instance) if groups is None else groups
    labels = {**groups, "region": np.full(st.n, REGION, dtype=object)}
    names = group_labels(territory_communes(instance))
    members = np.flatnonzero(st.to_place)
    written = written_minutes(minutes)
    full = np.isin(kind, FULL_KINDS)
    rows: list[dict[str, Any]] = []
    splits = [split_groups(labels[t], members, t) for t in TERRITORY_TYPES]
    all_seats = seats_within_reach_all(instance, reach, [
        (labels[t], list(split)) for t, split in zip(TERRITORY_TYPES, splits, strict=True)])
    for territory_type, split, seats in zip(TERRITORY_TYPES, splits, all_seats, strict=True):
        territories = list(split)
        for k, territory in enumerate(territories):
            pupils = split[territory]
            counts = placement_row(pupils, kind, full)
            priority = pupils[st.priority[pupils]]
            rows.append({
                "territory_type": territory_type,
                "territory": territory,
                "label": names.get(territory_type, {}).get(territory, ""),
                **counts,
                "priority_students": len(priority),
                "priority_placed_full": int(full[priority].sum()),
                "priority_unplaced": int((kind[priority] == "unplaced").sum()),
                "seats_within_reach": round(float(seats[k]), 1),
                "seats_missing": counts["students"] - counts["placed_full"],
                "median_minutes": median_minutes(trip_minutes(written, pupils)),
            })
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["median_minutes"] = frame["median_minutes"].astype("Float64")
    return frame


def indicators_csv(table: pd.DataFrame) -> str:
    """`indicators.csv` text: UTF-8, `,`-separated, empty cells where there is no value."""
    text: str = table.to_csv(index=False, lineterminator="\n", na_rep="")
    return text
