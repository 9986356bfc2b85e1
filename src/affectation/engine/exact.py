"""Placement levels 1-2 solved exactly by HiGHS, on a formulation by pupil options.

For instances of a couple of thousand pupils: more than the whole CP-SAT model translated row
by row (`mip`) proves in time, few enough for every reachable option. One 0-1 column per way
a pupil can be placed for both weeks: a two-week offer (`single`), a pair in one direction
(`mutualised`), a week-1 stay and a week-2 stay (`split`: two columns tied by the pupil's
balance row); for a pupil with one signed week, a stay (or the signed offer itself) in the
other week. Rows: each offer's seats per week, each pupil at most once, each pair's minimum
group (an open/closed column per pair). Objective: priority pupils placed for both weeks
weigh more than all the others together, then every pupil placed for both weeks.

Its LP relaxation is nearly integral on these instances (Normandy scale 0.2: the LP equals
the flow bound), which is why HiGHS proves the optimum in seconds: scale 0.1 (2,434 pupils,
185,000 columns), 2,217 placed for both weeks in 19 s, where the search stopped at 2,205
(bound 2,219). Partial placements (level 3) and the later levels are left to the stages
after it: its allocation is kept only when proven optimal and better on levels 1-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from affectation.domain.allocation import lexicographic_score, pair_counts
from affectation.domain.instance import Instance
from affectation.engine.budget import Deadline
from affectation.engine.candidates import OfferRoles, extensions, pair_options
from affectation.engine.mip import (
    DEFAULT_LIMITS,
    HighsLimits,
    solution_is_its_objective,
    solve_binary_columns,
)
from affectation.travel.reach import Reach


@dataclass(frozen=True)
class ExactOutcome:
    """HiGHS's allocation (None unless proven optimal and better) and its statistics."""

    allocation: np.ndarray | None
    info: dict[str, Any]


@dataclass(frozen=True, eq=False)
class _Columns:
    """The model's columns by family, as (pupil, offer) pairs; `count()` columns in all."""

    single: tuple[np.ndarray, np.ndarray]
    pair: tuple[np.ndarray, np.ndarray, np.ndarray]  # pupil, pair, direction
    stays: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    missing: tuple[np.ndarray, np.ndarray, np.ndarray]  # pupil, offer, week (one signed)

    def count(self) -> int:
        return (len(self.single[0]) + len(self.pair[0]) + sum(len(s[0]) for s in self.stays)
                + len(self.missing[0]))


def _columns(instance: Instance, roles: OfferRoles, reach: Reach,
             allowed: np.ndarray, mask: np.ndarray | None = None) -> _Columns:
    """Every reachable, usable option of the pupils to place (no pruning); of the pupils of
    `mask` only when given."""
    fixed = instance.fixed
    free_both, _, half = instance.signed_groups(
        instance.students.to_place if mask is None else mask)
    pupil = reach.student_of_pair().astype(np.int64)
    offer = reach.offer.astype(np.int64)
    single = np.flatnonzero(allowed & roles.single[offer] & free_both[pupil])
    options = pair_options(instance, reach, allowed)
    keep = free_both[options.student]
    stays, m_p, m_o, m_w = [], [], [], []
    for w, role in ((0, roles.week1), (1, roles.week2)):
        idx = np.flatnonzero(allowed & role[offer] & free_both[pupil])
        stays.append((pupil[idx], offer[idx]))
        needs = half & (fixed[:, w] < 0)
        idx = np.flatnonzero(allowed & role[offer] & needs[pupil])
        m_p.append(pupil[idx])
        m_o.append(offer[idx])
        m_w.append(np.full(len(idx), w, dtype=np.int64))
    ext = extensions(instance, reach)
    has = np.flatnonzero(half & (ext >= 0))
    m_p.append(has)
    m_o.append(ext[has])
    m_w.append(np.where(fixed[has, 0] >= 0, 1, 0).astype(np.int64))
    return _Columns(
        single=(pupil[single], offer[single]),
        pair=(options.student[keep], options.pair[keep], options.direction[keep]),
        stays=(stays[0], stays[1]),
        missing=(np.concatenate(m_p), np.concatenate(m_o), np.concatenate(m_w)))


@dataclass(frozen=True, eq=False)
class _Model:
    """The model's columns given column-wise (objective, entries per column, their rows and
    values) and its row bounds; the gated pairs' open columns come last."""

    cost: np.ndarray
    counts: np.ndarray
    index: np.ndarray
    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    gated: np.ndarray


def _rows(instance: Instance) -> tuple[int, int, int, int]:
    """First row of the pupils, of the split balances and of the pairs; the number of rows.
    Rows: offer-weeks (2 n_o), pupils (n_s), split balances (n_s), pairs (2 per pair)."""
    n_s, n_o = instance.students.n, instance.offers.n
    r_pupil, r_balance, r_pair = 2 * n_o, 2 * n_o + n_s, 2 * n_o + 2 * n_s
    return r_pupil, r_balance, r_pair, r_pair + 2 * instance.pairs.n


def _column_block(instance: Instance, cols: _Columns, value: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The columns of `cols` in the model's order (families as in `_Columns`): objective
    (`value` of the pupil placed for both weeks), entries per column, rows and values."""
    pairs = instance.pairs
    r_pupil, r_balance, r_pair, _ = _rows(instance)
    rows: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    cost: list[np.ndarray] = []
    start: list[np.ndarray] = []

    def add(entries: list[tuple[np.ndarray, float | np.ndarray]], objective: np.ndarray
            ) -> None:
        """Columns with one entry (rows, values) per list item, in that order."""
        k = len(objective)
        rows.append(np.stack([r for r, _ in entries], axis=1).reshape(-1))
        vals.append(np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), (k,))
                              for _, v in entries], axis=1).reshape(-1))
        cost.append(objective)
        start.append(np.full(k, len(entries), dtype=np.int64))

    s, o = cols.single
    add([(2 * o, 1.0), (2 * o + 1, 1.0), (r_pupil + s, 1.0)], value[s])
    s, k, d = cols.pair
    a, b = pairs.offers[k, d], pairs.offers[k, 1 - d]
    add([(2 * a, 1.0), (2 * b + 1, 1.0), (r_pupil + s, 1.0), (r_pair + 2 * k, 1.0),
         (r_pair + 2 * k + 1, 1.0)], value[s])
    (s1, o1), (s2, o2) = cols.stays
    add([(2 * o1, 1.0), (r_pupil + s1, 1.0), (r_balance + s1, 1.0)], value[s1])
    add([(2 * o2 + 1, 1.0), (r_balance + s2, -1.0)], np.zeros(len(s2)))
    s, o, w = cols.missing
    add([(2 * o + w, 1.0), (r_pupil + s, 1.0)], value[s])
    return (np.concatenate(cost), np.concatenate(start), np.concatenate(rows),
            np.concatenate(vals))


def _model(instance: Instance, cols: _Columns, value: np.ndarray) -> _Model:
    """The model over `cols` (see the module docstring), `value` per pupil placed."""
    pairs = instance.pairs
    n_s = instance.students.n
    rem = np.maximum(instance.seats_left_by_conventions(), 0)
    r_pupil, r_balance, r_pair, n_rows = _rows(instance)
    cost, counts, index, values = _column_block(instance, cols, value)
    # A pair with a minimum group and no signed pupil is open or closed (a column): members
    # <= n_s * open (its seats cap each direction already), members >= min_group * open. A
    # pair holding signed pupils is open: its members reach the minimum with them.
    signed = pair_counts(instance, instance.fixed)
    gated = np.flatnonzero((pairs.min_group > 0) & (signed == 0))
    k = len(gated)
    cost = np.concatenate([cost, np.zeros(k)])
    counts = np.concatenate([counts, np.full(k, 2, dtype=np.int64)])
    index = np.concatenate([index, np.stack([r_pair + 2 * gated, r_pair + 2 * gated + 1],
                                            axis=1).reshape(-1)])
    values = np.concatenate([values, np.stack(
        [np.full(k, -float(n_s)), -pairs.min_group[gated].astype(np.float64)],
        axis=1).reshape(-1)])
    lower = np.full(n_rows, -highspy.kHighsInf)
    upper = np.full(n_rows, highspy.kHighsInf)
    upper[:r_pupil] = rem.reshape(-1)
    upper[r_pupil:r_balance] = 1.0
    lower[r_balance:r_pair] = upper[r_balance:r_pair] = 0.0
    upper[r_pair + 2 * gated] = 0.0
    lower[r_pair + 2 * gated + 1] = 0.0
    need = np.maximum(pairs.min_group - signed, 0).astype(np.float64)
    opened = np.flatnonzero((signed > 0) & (need > 0))
    lower[r_pair + 2 * opened + 1] = need[opened]
    return _Model(cost, counts, index, values, lower, upper, gated)


def exact_placements(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
                     allocation: np.ndarray, deadline: Deadline,
                     limits: HighsLimits = DEFAULT_LIMITS, seed: int = 0,
                     max_columns: int | None = None) -> ExactOutcome:
    """Levels 1-2 solved by HiGHS from `allocation` (the MIP start) within `limits`; the new
    allocation holds the signed weeks and the placements for both weeks only. Nothing is
    solved (and `info` is empty) when the model would have more than `max_columns` columns."""
    st = instance.students
    cols = _columns(instance, roles, reach, allowed)
    if max_columns is not None and cols.count() > max_columns:
        return ExactOutcome(None, {})
    weight = float(st.n + 1)
    model = _model(instance, cols, 1.0 + weight * st.priority)
    highs = solve_binary_columns(model.cost, model.counts, model.index, model.values,
                                 model.lower, model.upper,
                                 _start(instance, cols, allocation, model.gated), limits,
                                 deadline, seed, "exact")
    optimal = highs.getModelStatus() in (highspy.HighsModelStatus.kOptimal,
                                         highspy.HighsModelStatus.kModelEmpty)
    if optimal and len(model.counts):
        optimal = solution_is_its_objective(highs, model.cost)
    info: dict[str, Any] = {"exact_columns": len(model.counts), "exact_optimal": int(optimal),
                            "exact_nodes": int(highs.getInfo().mip_node_count)}
    if not optimal:
        return ExactOutcome(None, info)
    new = _allocation(instance, cols, np.asarray(highs.getSolution().col_value) > 0.5)
    if lexicographic_score(instance, new)[:2] <= lexicographic_score(instance, allocation)[:2]:
        return ExactOutcome(None, info)
    return ExactOutcome(new, info)


def _families(instance: Instance, cols: _Columns, allocation: np.ndarray
              ) -> list[np.ndarray]:
    """Per family of columns (in the model's order), which columns `allocation` uses."""
    of, pairs = instance.offers, instance.pairs
    a, b = allocation[:, 0], allocation[:, 1]
    s, o = cols.single
    out = [(a[s] == o) & (b[s] == o)]
    s, k, d = cols.pair
    out.append((a[s] == pairs.offers[k, d]) & (b[s] == pairs.offers[k, 1 - d]))
    for w, (s, o) in enumerate(cols.stays):
        mine, other = allocation[s, w], allocation[s, 1 - w]
        out.append((mine == o) & (other >= 0) & (other != o) & (of.pair[o] < 0)
                   & (of.pair[np.maximum(other, 0)] < 0))
    s, o, missing_week = cols.missing
    out.append(allocation[s, missing_week] == o)
    return out


def _start(instance: Instance, cols: _Columns, allocation: np.ndarray, gated: np.ndarray
           ) -> np.ndarray:
    """The MIP start: the columns `allocation` uses, and its open pairs."""
    opened = pair_counts(instance, allocation)[gated] > 0
    return np.concatenate([*_families(instance, cols, allocation), opened]).astype(np.float64)


def _allocation(instance: Instance, cols: _Columns, x: np.ndarray) -> np.ndarray:
    """The signed weeks, and the weeks of the columns chosen in `x`."""
    pairs = instance.pairs
    new = instance.fixed.copy()
    at = 0

    def take(n: int) -> np.ndarray:
        nonlocal at
        chosen = x[at:at + n]
        at += n
        return chosen

    s, o = cols.single
    c = take(len(s))
    new[s[c]] = np.stack([o[c], o[c]], axis=1)
    s, k, d = cols.pair
    c = take(len(s))
    new[s[c], 0] = pairs.offers[k[c], d[c]]
    new[s[c], 1] = pairs.offers[k[c], 1 - d[c]]
    for w, (s, o) in enumerate(cols.stays):
        c = take(len(s))
        new[s[c], w] = o[c]
    s, o, missing_week = cols.missing
    c = take(len(s))
    new[s[c], missing_week[c]] = o[c]
    return new
