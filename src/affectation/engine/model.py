"""The CP-SAT model: variables over candidate options, one function per rule, the objective.

The model covers the `free` pupils; every other pupil keeps the weeks it has in `allocation` (signed
conventions, or the rest of an allocation when the model is a neighbourhood of it), and those
weeks are taken off the capacities. Variables:

- `single[i]`: pupil attends the two-week offer for both weeks;
- `stay[w][i]`: pupil attends the offer in week w+1 only (one half of a split, a partial
  placement, or the unsigned week of a pupil with one signed week);
- `pair[i]`: pupil joins a mutualised pair in one direction;
- `split[p]`: pupil p has a week-1 stay and a week-2 stay;
- `open[k]`: pair k hosts pupils (its minimum group is then reached).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from ortools.sat.python import cp_model

from affectation.domain.instance import Instance
from affectation.engine.candidates import Candidates, OfferRoles
from affectation.engine.objective import lowest_rate_variable, phase_one_coefficients
from affectation.engine.variables import Neighbourhood, Variables, create_variables


def _groups(keys: np.ndarray, n: int) -> list[np.ndarray]:
    """Positions of each key value 0..n-1 in `keys`, as index arrays (empty when absent)."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(n)]


def _pick(variables: list[cp_model.IntVar], idx: np.ndarray) -> list[cp_model.IntVar]:
    return [variables[i] for i in idx]


def one_offer_per_week(model: cp_model.CpModel, instance: Instance, v: Variables,
                       hood: Neighbourhood, roles: OfferRoles) -> None:
    """A pupil attends at most one offer in each week."""
    n = instance.students.n
    singles = _groups(v.single_student, n)
    pairs = _groups(v.pair_student, n)
    for w in (0, 1):
        stays = _groups(v.stay_student[w], n)
        for s in np.flatnonzero(hood.free):
            terms = (_pick(v.single, singles[s]) + _pick(v.stay[w], stays[s])
                     + _pick(v.pair, pairs[s]))
            if len(terms) > 1:
                model.add_at_most_one(terms)


def split_needs_both_weeks(model: cp_model.CpModel, instance: Instance, v: Variables,
                           hood: Neighbourhood, roles: OfferRoles) -> None:
    """A pupil counts as split only with a week-1 stay and a week-2 stay (at two offers)."""
    n = instance.students.n
    stays = [_groups(v.stay_student[w], n) for w in (0, 1)]
    for s, var in zip(v.split_student, v.split, strict=True):
        for w in (0, 1):
            model.add(var <= sum(_pick(v.stay[w], stays[w][s])))
    # The same two-week offer for both weeks is a single, never a split of itself.
    if instance.scenario.rules.split_two_week_offers:
        key = [v.stay_student[w] * instance.offers.n + v.stay_offer[w] for w in (0, 1)]
        common, i0, i1 = np.intersect1d(key[0], key[1], return_indices=True)
        for a, b in zip(i0, i1, strict=True):
            model.add_at_most_one([v.stay[0][a], v.stay[1][b]])


def capacity_per_week(model: cp_model.CpModel, instance: Instance, v: Variables,
                      hood: Neighbourhood, roles: OfferRoles) -> None:
    """An offer hosts at most `capacity` pupils in each week it runs."""
    n_o = instance.offers.n
    pairs = instance.pairs
    singles = _groups(v.single_offer, n_o)
    for w in (0, 1):
        stays = _groups(v.stay_offer[w], n_o)
        pair_offer = pairs.offers[v.pair_index, np.where(w == 0, v.pair_direction,
                                                           1 - v.pair_direction)]
        in_pair = _groups(pair_offer, n_o) if len(pair_offer) else [np.zeros(0, int)] * n_o
        for o in range(n_o):
            terms = (_pick(v.single, singles[o]) + _pick(v.stay[w], stays[o])
                     + _pick(v.pair, in_pair[o]))
            if not terms:
                continue
            cap = int(hood.capacity_left[o, w])
            if len(terms) > cap:
                model.add(sum(terms) <= cap)


def pair_minimum_group(model: cp_model.CpModel, instance: Instance, v: Variables,
                       hood: Neighbourhood, roles: OfferRoles) -> None:
    """A pair hosts nobody or at least `min_group` pupils (both directions together)."""
    pairs = instance.pairs
    members = _groups(v.pair_index, pairs.n)
    for k, opened in v.open_pair.items():
        terms = _pick(v.pair, members[k])
        for t in terms:
            model.add_implication(t, opened)
        kept = int(hood.pair_count_kept[k])
        if hood.pair_forced_open[k]:
            model.add(opened == 1)
        need = int(pairs.min_group[k]) - kept
        if need > 0:
            model.add(sum(terms) >= need).only_enforce_if(opened)


RULES: tuple[Callable[..., None], ...] = (
    one_offer_per_week,
    split_needs_both_weeks,
    capacity_per_week,
    pair_minimum_group,
)


@dataclass(eq=False)
class Built:
    model: cp_model.CpModel
    variables: Variables


def build_model(instance: Instance, roles: OfferRoles, cands: Candidates,
                hood: Neighbourhood) -> Built:
    """The CP-SAT model of the neighbourhood: variables, every rule of `RULES`, objective."""
    model = cp_model.CpModel()
    v = create_variables(model, instance, cands, hood)
    for rule in RULES:
        rule(model, instance, v, hood, roles)
    rate = lowest_rate_variable(model, instance, v, hood)
    variables, coefficients = phase_one_coefficients(instance, v, hood, rate)
    model.maximize(cp_model.LinearExpr.weighted_sum(variables, coefficients))
    return Built(model=model, variables=v)


def hint_allocation(built: Built, instance: Instance, allocation: np.ndarray) -> None:
    """Give CP-SAT the complete `allocation` as a hint (it must be one of the options)."""
    v, model = built.variables, built.model
    a, b = allocation[v.single_student, 0], allocation[v.single_student, 1]
    for var, on in zip(v.single, (a == v.single_offer) & (b == v.single_offer), strict=True):
        model.add_hint(var, bool(on))
    for w in (0, 1):
        s, o = v.stay_student[w], v.stay_offer[w]
        other = allocation[s, 1 - w]
        on = (allocation[s, w] == o) & ~((other == o) & (instance.fixed[s, 1 - w] < 0)
                                         & ~v.stay_is_extension[w])
        for var, flag in zip(v.stay[w], on, strict=True):
            model.add_hint(var, bool(flag))
    pairs = instance.pairs
    x = pairs.offers[v.pair_index, v.pair_direction]
    y = pairs.offers[v.pair_index, 1 - v.pair_direction]
    on = (allocation[v.pair_student, 0] == x) & (allocation[v.pair_student, 1] == y)
    for var, flag in zip(v.pair, on, strict=True):
        model.add_hint(var, bool(flag))
    s = v.split_student
    a, b = allocation[s, 0], allocation[s, 1]
    is_split = (a >= 0) & (b >= 0) & (a != b)
    of_pair = instance.offers.pair
    is_split &= of_pair[np.maximum(allocation[s, 0], 0)] < 0
    for var, flag in zip(v.split, is_split, strict=True):
        model.add_hint(var, bool(flag))
    on_pair = np.zeros(pairs.n, dtype=bool)
    placed = np.flatnonzero(on)
    on_pair[v.pair_index[placed]] = True
    for k, var in v.open_pair.items():
        model.add_hint(var, bool(on_pair[k]))


class BooleanValues(Protocol):
    """What `read_allocation` needs of a solver: the value of each boolean variable."""

    def boolean_value(self, literal: Any) -> bool: ...


def read_allocation(solver: BooleanValues, built: Built, instance: Instance,
                    allocation: np.ndarray, hood: Neighbourhood) -> np.ndarray:
    """The allocation `allocation` with the free pupils' unsigned weeks as the solver chose them."""
    v = built.variables
    out = allocation.copy()
    fixed = instance.fixed
    for w in (0, 1):
        release = hood.free & (fixed[:, w] < 0)
        out[release, w] = -1
    def chosen(variables: list[cp_model.IntVar]) -> np.ndarray:
        if not variables:
            return np.zeros(0, dtype=bool)
        return np.array([solver.boolean_value(x) for x in variables], dtype=bool)

    on = chosen(v.single)
    out[v.single_student[on], 0] = v.single_offer[on]
    out[v.single_student[on], 1] = v.single_offer[on]
    for w in (0, 1):
        on = chosen(v.stay[w])
        out[v.stay_student[w][on], w] = v.stay_offer[w][on]
    on = chosen(v.pair)
    pairs = instance.pairs
    s = v.pair_student[on]
    out[s, 0] = pairs.offers[v.pair_index[on], v.pair_direction[on]]
    out[s, 1] = pairs.offers[v.pair_index[on], 1 - v.pair_direction[on]]
    return out
