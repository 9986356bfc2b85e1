"""The objective, in strict priority order, written in one place.

1. priority pupils placed for both weeks;
2. all pupils placed for both weeks;
3. one week rather than none (partial placements);
4. fewer splits;
5. offers in a pupil's preferred sectors, the earlier in their list the better;
6. shorter travel.

Levels 1-4 are one CP-SAT objective whose integer weights make each level worth more than
everything below it. Levels 5-6 cannot share that objective within 64-bit integers at regional
scale, so they are optimised afterwards, without changing levels 1-4 (see `polish`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    from affectation.inputs import Instance
    from affectation.model import Neighbourhood, Variables

# Level 5: a placement week at an offer whose sector is the pupil's r-th choice (0-based)
# scores SECTOR_FIRST - r, at least 1; other weeks score 0.
SECTOR_FIRST = 10


def level_weights(n_free: int) -> tuple[int, int, int, int]:
    """Weights (priority_full, full, partial, split) making each level dominate the next."""
    n = n_free + 1
    w_split = 1
    w_partial = n * w_split + 1
    w_full = n * (2 * w_partial + w_split) + 1
    w_priority = n * (w_full + 2 * w_partial + w_split) + 1
    return w_priority, w_full, w_partial, w_split


def phase_one_coefficients(
    instance: Instance, v: Variables, hood: Neighbourhood
) -> tuple[list[cp_model.IntVar], list[int]]:
    """Objective terms of levels 1-4 over the model's variables (constants left out)."""
    w_pri, w_full, w_partial, w_split = level_weights(int(hood.free.sum()))
    prio = instance.students.priority
    fixed = instance.fixed

    def full_value(students: np.ndarray) -> np.ndarray:
        return w_full + w_pri * prio[students].astype(np.int64)

    variables: list[cp_model.IntVar] = []
    coefficients: list[int] = []
    variables += v.single + v.pair
    coefficients += full_value(v.single_student).tolist() + full_value(v.pair_student).tolist()
    for w in (0, 1):
        s = v.stay_student[w]
        half = fixed[s, 1 - w] >= 0
        # A pupil with the other week signed is partial without this stay, full with it.
        gain = np.where(
            half,
            full_value(s) - w_partial - np.where(v.stay_is_extension[w], 0, w_split),
            w_partial,
        )
        variables += v.stay[w]
        coefficients += gain.tolist()
    variables += v.split
    coefficients += (full_value(v.split_student) - 2 * w_partial - w_split).tolist()
    return variables, coefficients


def sector_score(instance: Instance, students: np.ndarray, offers: np.ndarray) -> np.ndarray:
    """Level-5 score of each (student, offer) placement week (vectorised over the pairs)."""
    prefs = instance.students.sectors
    longest = max((len(p) for p in prefs), default=0)
    out = np.zeros(len(students), dtype=np.int64)
    if longest == 0 or len(students) == 0:
        return out
    codes = {c: i for i, c in enumerate(sorted({c for p in prefs for c in p}))}
    table = np.full((len(prefs), longest), -1, dtype=np.int64)
    for i, p in enumerate(prefs):
        table[i, : len(p)] = [codes[c] for c in p]
    offer_code = np.array([codes.get(c, -2) for c in instance.offers.sector], dtype=np.int64)
    wanted = table[students]
    got = offer_code[offers][:, None]
    hit = wanted == got
    ranks = np.arange(longest)
    scores = np.maximum(1, SECTOR_FIRST - ranks)
    return (hit * scores[None, :]).max(axis=1)
