"""The objective, in strict priority order, written in one place.

1. priority pupils placed for both weeks;
2. all pupils placed for both weeks;
3. one week rather than none (partial placements);
4. fewer splits;
5. offers in a pupil's preferred sectors, the earlier in their list the better;
6. shorter travel.

With `[equity]` max-min (schools or territories), the lowest group rate is one more level,
right below level 1 (`max_min_level = "before_total"`) or right below level 2 (the default,
"after_total"): a variable z <= RATE_UNITS * placed_g / n_g for every group g, so the level
is the lowest rate, floored to 1 / RATE_UNITS. The leximin refinement (next lowest, and so on)
is done afterwards by `equity.level_groups`.

Levels 1-4 are one CP-SAT objective whose integer weights make each level worth more than
everything below it. Levels 5-6 cannot share that objective within 64-bit integers at regional
scale, so they are optimised afterwards, without changing levels 1-4 (see `polish`).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from affectation.domain.allocation import lexicographic_score
from affectation.domain.instance import Instance
from affectation.engine.equity import cached_groups, group_rates
from affectation.engine.variables import Neighbourhood, Variables

# Level 5: a placement week at an offer whose sector is the pupil's r-th choice (0-based)
# scores SECTOR_FIRST - r, at least 1; other weeks score 0.
SECTOR_FIRST = 10


RATE_UNITS = 10_000


def level_weights(n_free: int, rate_level: str = "") -> tuple[int, int, int, int, int]:
    """Weights (priority_full, full, partial, split, lowest_rate) making each level worth
    more than the most all levels below it can add up to; `rate_level` "before_total",
    "after_total" or "" (no max-min level)."""
    n = n_free + 1
    w_split = 1
    w_partial = n * w_split + 1
    below = n * (2 * w_partial + w_split)  # partial and split levels together
    w_rate = 0
    if rate_level == "after_total":
        w_rate = below + 1
        below += RATE_UNITS * w_rate
    w_full = below + 1
    below += n * w_full
    if rate_level == "before_total":
        w_rate = below + 1
        below += RATE_UNITS * w_rate
    w_priority = below + 1
    return w_priority, w_full, w_partial, w_split, w_rate


def rate_level(instance: Instance) -> str:
    """Where the max-min level sits ("before_total", "after_total"), "" when off."""
    eq = instance.scenario.equity
    return eq.max_min_level if eq.max_min_groups else ""


def objective_score(instance: Instance, allocation: np.ndarray) -> tuple[int, ...]:
    """Levels 1-4 with the max-min level where the scenario puts it (compare as tuples)."""
    score = lexicographic_score(instance, allocation)
    level = rate_level(instance)
    if not level:
        return score
    group, names = cached_groups(instance)
    n_groups = len(names)
    rates = group_rates(instance, allocation, group, n_groups)
    known = rates[~np.isnan(rates)]
    lowest = int(np.floor(RATE_UNITS * known.min() + 1e-9)) if len(known) else RATE_UNITS
    at = 1 if level == "before_total" else 2
    return (*score[:at], lowest, *score[at:])


def lowest_rate_variable(model: cp_model.CpModel, instance: Instance, v: Variables,
                         hood: Neighbourhood) -> cp_model.IntVar | None:
    """z <= RATE_UNITS * (pupils of g placed for both weeks) / (pupils of g to place), for
    every group g; None when the max-min rule is off."""
    if not rate_level(instance):
        return None
    group, names = cached_groups(instance)
    n_groups = len(names)
    st, fixed = instance.students, instance.fixed
    n = np.bincount(group[st.to_place], minlength=n_groups)
    kept = np.bincount(group[hood.full_kept & st.to_place], minlength=n_groups)
    terms: list[list[cp_model.IntVar]] = [[] for _ in range(n_groups)]
    options: list[tuple[np.ndarray, list[cp_model.IntVar]]] = [
        (v.single_student, v.single), (v.pair_student, v.pair), (v.split_student, v.split)]
    for w in (0, 1):
        half = fixed[v.stay_student[w], 1 - w] >= 0
        options.append((v.stay_student[w][half], [x for x, h in zip(v.stay[w], half,
                                                                     strict=True) if h]))
    for students, variables in options:
        for s, x in zip(students.tolist(), variables, strict=True):
            if st.to_place[s]:
                terms[group[s]].append(x)
    cap = RATE_UNITS
    for g in np.flatnonzero(n > 0):
        if not terms[g]:
            cap = min(cap, RATE_UNITS * int(kept[g]) // int(n[g]))
    z = model.new_int_var(0, cap, "lowest_rate")
    for g in np.flatnonzero(n > 0):
        if terms[g]:
            model.add(int(n[g]) * z <= RATE_UNITS * (int(kept[g]) + sum(terms[g])))
    return z


def phase_one_coefficients(
    instance: Instance, v: Variables, hood: Neighbourhood, rate: cp_model.IntVar | None = None
) -> tuple[list[cp_model.IntVar], list[int]]:
    """Objective terms of levels 1-4 (and of the lowest group rate `rate`, when the max-min
    rule is on) over the model's variables (constants left out)."""
    w_pri, w_full, w_partial, w_split, w_rate = level_weights(
        int(hood.free.sum()), rate_level(instance) if rate is not None else "")
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
    if rate is not None:
        variables.append(rate)
        coefficients.append(w_rate)
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
