"""A second proven bound on the pupils placed for both weeks: the LP relaxation of `exact`'s
pupil-option model over every reachable option, by column generation.

The flow bounds (`bound`) relax that a two-week offer keeps its pupil both weeks and that a
pair opens only with its minimum group; the LP keeps both, as fractions. Reported beside the
flow bound, it says how much of a gap is the bounds' slack and how much the engine's.

A region has tens of millions of options, too many for one LP. The master LP starts on each
pupil's nearest options of each family (single, pair, week-1 and week-2 stays, the missing
week of a half-signed pupil) and, each round, takes in the options whose reduced cost under
the master's duals is positive, the best few per pupil and family: vectorised over every
option, never a loop over pupils.

The bound is proven at every round, converged or not, by Lagrangian duality: for any row
prices `y` (seats and pairs; clipped to the sign their row bounds allow),

    value <= sum over rows of y_r * (the row bound on the side y_r's sign selects)
             + sum over pupils of max(0, the best option priced at y)
             + sum over gated pairs of max(0, the open column priced at y)

since each pupil's own rows (at most one option, a week-1 stay balanced by a week-2 stay)
leave it one option or a pair of stays. At the LP optimum over every option the right-hand
side equals the LP's value; before, it is above it by at most what the missing columns would
add. The bound reported is the floor of the smallest such value (objective values are whole
pupils), never more than the pupils themselves.

For a subset of the pupils (the priority pupils), the pairs' minimum-group rows are dropped:
the other pupils may fill a pair, so only the seats bind the masked ones.

Work is budgeted in rounds and simplex iterations, never in seconds: the same inputs give the
same bound on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numba
import numpy as np

from affectation.domain.instance import Instance
from affectation.engine.bound import open_allowed
from affectation.engine.candidates import OfferRoles, rank_within_student
from affectation.engine.exact import _column_block, _Columns, _columns, _model, _rows
from affectation.engine.exact import _families as _used_columns
from affectation.engine.mip import column_lp, quiet_highs
from affectation.travel.reach import Reach

# Reduced costs below this are the simplex's tolerance, not a column worth adding.
PRICE_TOLERANCE = 1e-7


@dataclass(frozen=True)
class LpSettings:
    """The column generation's budget: options per pupil and family in the first master,
    added per round, rounds, and simplex iterations over all rounds."""

    # One per pupil and family: at scale 1 the interior point method solves a first master of
    # 4 (350,000 columns) in 60 s, one of 1 (110,000) in 11 s, and the rounds catch up.
    first_options: int = 1
    added_options: int = 4
    rounds: int = 30
    # The constrained profile at scale 1 takes 61,000; the bundled scenario 7,000.
    iterations: int = 400_000
    # The first master from scratch by the interior point method (with crossover: a basis),
    # every later round by the primal simplex from the last basis.
    first_solver: str = "ipm"


@dataclass(frozen=True)
class LpBound:
    """The proven bound (`value`), the last master LP's value, whether no column was left to
    add (the master's value is then the LP's over every option), and the work done."""

    value: int
    lp_value: float
    converged: bool
    rounds: int
    columns: int
    options: int
    # The proven bound after each round (it only goes down).
    history: tuple[int, ...] = ()


@numba.njit(cache=True)
def _scatter_max(keys: np.ndarray, vals: np.ndarray, out: np.ndarray) -> None:
    """out[keys[i]] = max(out[keys[i]], vals[i]) for every i."""
    for i in range(len(keys)):
        k = keys[i]
        if vals[i] > out[k]:
            out[k] = vals[i]


def _families(cols: _Columns) -> list[np.ndarray]:
    """The pupil of every column, family by family in the model's order."""
    return [cols.single[0], cols.pair[0], cols.stays[0][0], cols.stays[1][0], cols.missing[0]]


def _subset(cols: _Columns, keep: list[np.ndarray]) -> _Columns:
    """The columns of `cols` kept by one mask per family (`_families` order)."""
    s, p, w1, w2, m = keep
    return _Columns(
        single=(cols.single[0][s], cols.single[1][s]),
        pair=(cols.pair[0][p], cols.pair[1][p], cols.pair[2][p]),
        stays=((cols.stays[0][0][w1], cols.stays[0][1][w1]),
               (cols.stays[1][0][w2], cols.stays[1][1][w2])),
        missing=(cols.missing[0][m], cols.missing[1][m], cols.missing[2][m]))


class _Prices:
    """Row prices from the master's duals, as the Lagrangian bound and the pricing use them."""

    def __init__(self, instance: Instance, row_dual: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray) -> None:
        n_o = instance.offers.n
        r_pupil, r_balance, r_pair, _ = _rows(instance)
        y = np.asarray(row_dual, dtype=np.float64).copy()
        # A price whose sign selects an infinite row bound proves nothing: clip it.
        y[(y > 0) & ~np.isfinite(upper)] = 0.0
        y[(y < 0) & ~np.isfinite(lower)] = 0.0
        self.y = y
        self.seat = y[:r_pupil].reshape(n_o, 2)
        self.pupil = y[r_pupil:r_balance]
        self.balance = y[r_balance:r_pair]
        self.pair = y[r_pair:].reshape(-1, 2)
        dualised = np.r_[np.arange(r_pupil), np.arange(r_pair, len(y))]
        yd = y[dualised]
        side = np.where(yd > 0, upper[dualised], lower[dualised])
        self.constant = float(np.sum(np.where(yd != 0.0, yd * np.where(np.isfinite(side), side,
                                                                        0.0), 0.0)))

    def option_values(self, instance: Instance, cols: _Columns, value: np.ndarray
                      ) -> list[np.ndarray]:
        """Each column's objective less its seats' and pairs' prices, by family (the pupil's
        own rows left out: they stay in the pupil's subproblem)."""
        pairs = instance.pairs
        s, o = cols.single
        single = value[s] - self.seat[o, 0] - self.seat[o, 1]
        s, k, d = cols.pair
        a, b = pairs.offers[k, d], pairs.offers[k, 1 - d]
        pair = value[s] - self.seat[a, 0] - self.seat[b, 1] - self.pair[k].sum(axis=1)
        (s1, o1), (s2, o2) = cols.stays
        week1 = value[s1] - self.seat[o1, 0]
        week2 = -self.seat[o2, 1]
        s, o, w = cols.missing
        missing = value[s] - self.seat[o, w]
        return [single, pair, week1, week2, missing]


def _lagrangian(instance: Instance, cols: _Columns, values: list[np.ndarray],
                prices: _Prices, gated: np.ndarray) -> float:
    """The Lagrangian bound at `prices` (module docstring) over every column of `cols`."""
    n_s = instance.students.n
    pupils = _families(cols)
    best = []
    for fam in range(5):
        out = np.full(n_s, -np.inf)
        _scatter_max(pupils[fam], values[fam], out)
        best.append(out)
    split = best[2] + best[3]
    pupil_best = np.maximum.reduce([best[0], best[1], split, best[4]])
    total = prices.constant + float(np.sum(np.maximum(pupil_best, 0.0)))
    if len(gated):
        open_value = (float(n_s) * prices.pair[gated, 0]
                      + instance.pairs.min_group[gated] * prices.pair[gated, 1])
        total += float(np.sum(np.maximum(open_value, 0.0)))
    return total


def _reduced(cols: _Columns, values: list[np.ndarray], prices: _Prices) -> list[np.ndarray]:
    """Full reduced costs: the option values less the pupils' own rows' prices."""
    pupil, balance = prices.pupil, prices.balance
    s = _families(cols)
    return [values[0] - pupil[s[0]], values[1] - pupil[s[1]],
            values[2] - pupil[s[2]] - balance[s[2]], values[3] + balance[s[3]],
            values[4] - pupil[s[4]]]


def _best_per_pupil(pupil: np.ndarray, score: np.ndarray, mask: np.ndarray, limit: int
                    ) -> np.ndarray:
    """Of the masked columns, each pupil's `limit` best by `score` (ties: first column)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return idx
    order = np.lexsort((idx, -score[idx], pupil[idx]))
    idx = idx[order]
    return idx[rank_within_student(pupil[idx]) < limit]


def lp_bound(instance: Instance, roles: OfferRoles, reach: Reach, allowed: np.ndarray,
             mask: np.ndarray, settings: LpSettings | None = None,
             allocation: np.ndarray | None = None) -> LpBound:
    """A proven upper bound on the pupils of `mask` placed for both weeks (module docstring).

    With `allocation`, the first master also holds the options it uses: a good solution from
    the start. Every seat is priced, whatever the allocation (pricing only the seats it fills
    left the others without a capacity: on the constrained profile at scale 1 the bound came
    out 121 pupils above the flow bound, and no faster).

    The reach must hold every reachable pair (a capped reach's omitted options would have to
    be priced too)."""
    if reach.any_capped:
        raise ValueError("the LP bound needs every reachable pair (the reach is capped)")
    settings = settings or LpSettings()
    allowed, _ = open_allowed(instance, reach, allowed)
    _, signed_both, _ = instance.signed_groups(mask)
    constant = int(signed_both.sum())
    cap = int(mask.sum())
    cols = _columns(instance, roles, reach, allowed, mask)
    value = mask.astype(np.float64)
    n_options = cols.count()
    families = _families(cols)
    chosen = [rank_within_student(p) < settings.first_options for p in families]
    if allocation is not None:
        # The allocation's own options: the first master holds a good solution.
        chosen = [c | u for c, u in
                  zip(chosen, _used_columns(instance, cols, allocation), strict=True)]
    model = _model(instance, _subset(cols, chosen), value)
    if (instance.students.to_place & ~mask).any():
        # Pupils outside the mask may fill a pair up to its minimum group: its rows, which
        # count the masked pupils only, must not hold (a pair's seats stay in its offers').
        r_pair = _rows(instance)[2]
        model.lower[r_pair:] = -highspy.kHighsInf
        model.upper[r_pair:] = highspy.kHighsInf
    highs = quiet_highs()
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", 0)
    # Each round adds columns to the same LP: the last basis stays primal feasible, so the
    # primal simplex goes on from it (presolve would discard it).
    highs.setOptionValue("presolve", "off")
    highs.setOptionValue("solver", settings.first_solver)
    highs.setOptionValue("simplex_strategy", 4)
    lp = column_lp(model.cost, model.counts, model.index, model.values, model.lower,
                   model.upper)
    highs.passModel(lp)
    best = math.inf
    lp_value = 0.0
    converged = False
    rounds = 0
    history: list[int] = []
    iterations = 0
    while rounds < settings.rounds and iterations < settings.iterations:
        rounds += 1
        highs.setOptionValue("simplex_iteration_limit", int(settings.iterations - iterations))
        highs.run()
        iterations += int(highs.getInfo().simplex_iteration_count)
        highs.setOptionValue("solver", "simplex")
        if highs.getModelStatus() not in (highspy.HighsModelStatus.kOptimal,
                                          highspy.HighsModelStatus.kModelEmpty):
            break
        lp_value = float(highs.getInfo().objective_function_value)
        prices = _Prices(instance, np.asarray(highs.getSolution().row_dual),
                         model.lower, model.upper)
        values = prices.option_values(instance, cols, value)
        best = min(best, _lagrangian(instance, cols, values, prices, model.gated))
        history.append(min(cap, math.floor(best + 1e-6) + constant))
        if math.floor(best + 1e-6) <= math.floor(lp_value + 1e-6):
            # The master is below the LP over every option: no round can prove less.
            converged = True
            break
        reduced = _reduced(cols, values, prices)
        new = [_best_per_pupil(families[f], reduced[f],
                               (reduced[f] > PRICE_TOLERANCE) & ~chosen[f],
                               settings.added_options) for f in range(5)]
        # A week-1 stay is worth nothing without a week-2 stay: take the pupil's best ones too.
        week2 = ~chosen[3] & np.isin(families[3], families[2][new[2]])
        new[3] = np.union1d(new[3], _best_per_pupil(families[3], reduced[3], week2,
                                                    settings.added_options))
        if not sum(len(n) for n in new):
            converged = True
            break
        keep = [np.zeros(len(p), dtype=bool) for p in families]
        for f in range(5):
            keep[f][new[f]] = True
            chosen[f] |= keep[f]
        cost, counts, index, vals = _column_block(instance, _subset(cols, keep), value)
        starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int32)
        highs.addCols(len(counts), cost, np.zeros(len(counts)), np.ones(len(counts)),
                      len(index), starts, index.astype(np.int32), vals)
    total = sum(int(c.sum()) for c in chosen)
    if not math.isfinite(best):
        return LpBound(cap, lp_value, False, rounds, total, n_options)
    return LpBound(history[-1], lp_value + constant, converged, rounds, total,
                   n_options, tuple(history))
