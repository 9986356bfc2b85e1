"""The whole model solved exactly as a MIP by HiGHS, for small instances.

On a few hundred to a couple of thousand pupils, HiGHS's LP-based branch and bound proves the
optimum of levels 1-4 where CP-SAT's search stalls (scale 0.05 of Normandy, 1,221 pupils:
HiGHS proves 1,106 placed for both weeks in about 15 s; CP-SAT finds 1,103-1,105 in 10-30
deterministic seconds). The model is not rewritten: the CP-SAT model of `model.build_model`
(every pupil, no pruning, the objective's integer weights) is translated constraint by
constraint (at-most-one, implications, linear rows; an enforced linear constraint becomes a
big-M row, M the exact slack of its activity over 0-1 variables), so that both solvers solve
the same problem. The current allocation is given as a MIP start.

Relative gap 0 and absolute gap 0.5: the objective is an integer, and the default relative
gap (1e-4) could lose whole pupils of level 2 behind a level-1 weight. A model with a
variable that is not 0-1 (the max-min level's rate) is not translated.

HiGHS runs on one thread with a fixed seed and stops at a number of branch-and-bound nodes
(`HighsLimits`), never at a wall-clock time of its own: the same model gives the same answer
on any machine. The solve's safety-net deadline is its time limit; when it fires, the
deadline records it (see `budget`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from affectation.domain.instance import Instance
from affectation.engine.budget import Deadline
from affectation.engine.model import Built, read_allocation
from affectation.engine.variables import Neighbourhood

_INF = float("inf")
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)


class _Values:
    """Stands for a CP-SAT solver in `model.read_allocation`: the MIP's 0-1 values."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def boolean_value(self, var: Any) -> bool:
        return bool(self.x[var.index] > 0.5)


def _literal(ref: int) -> tuple[int, int, int]:
    """A CP-SAT literal as (variable, coefficient, constant): x, or 1 - x when negated."""
    return (ref, 1, 0) if ref >= 0 else (-ref - 1, -1, 1)


class _Rows:
    """MIP rows lower <= sum(coef * x) <= upper, accumulated row by row."""

    def __init__(self) -> None:
        self.index: list[np.ndarray] = []
        self.value: list[np.ndarray] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, terms: list[tuple[int, float]], const: float, lower: float,
            upper: float) -> None:
        idx = np.array([t[0] for t in terms], dtype=np.int64)
        val = np.array([t[1] for t in terms], dtype=np.float64)
        uniq, inv = np.unique(idx, return_inverse=True)
        summed = np.bincount(inv, weights=val, minlength=len(uniq))
        nz = summed != 0
        self.index.append(uniq[nz])
        self.value.append(summed[nz])
        self.lower.append(lower - const)
        self.upper.append(upper - const)


_KINDS = ("at_most_one", "exactly_one", "bool_or", "bool_and", "linear")


def _kind(ct: Any) -> str:
    """The constraint's type (the proto wrapper of OR-Tools >= 9.13 has no WhichOneof)."""
    for kind in _KINDS:
        if getattr(ct, f"has_{kind}")():
            return kind
    raise ValueError(f"CP-SAT constraint not translated: {ct}")


def _translate(proto: Any, rows: _Rows) -> None:
    """Every constraint of a CP-SAT model of 0-1 variables as MIP rows."""
    for ct in proto.constraints:
        kind = _kind(ct)
        enforce = [_literal(r) for r in ct.enforcement_literal]
        if kind in ("at_most_one", "exactly_one", "bool_or", "bool_and"):
            lits = [_literal(r) for r in getattr(ct, kind).literals]
            if kind == "bool_and":
                # each literal holds when every enforcement literal does
                for v, c, k in lits:
                    terms = [(v, float(c))] + [(ev, -float(ec)) for ev, ec, _ in enforce]
                    const = float(k - sum(ek for _, _, ek in enforce))
                    rows.add(terms, const, 1.0 - len(enforce), _INF)
                continue
            if enforce:
                raise ValueError(f"enforced {kind} is not translated")
            terms = [(v, float(c)) for v, c, _ in lits]
            const = float(sum(k for _, _, k in lits))
            lower = {"at_most_one": -_INF, "exactly_one": 1.0, "bool_or": 1.0}[kind]
            upper = {"at_most_one": 1.0, "exactly_one": 1.0, "bool_or": _INF}[kind]
            rows.add(terms, const, lower, upper)
        else:
            lin = ct.linear
            if len(lin.domain) != 2:
                raise ValueError("a linear constraint with a split domain is not translated")
            coefs = np.array(lin.coeffs, dtype=np.float64)
            terms = list(zip(list(lin.vars), coefs.tolist(), strict=True))
            lo, hi = lin.domain[0], lin.domain[1]
            lower = -_INF if lo <= _INT64_MIN else float(lo)
            upper = _INF if hi >= _INT64_MAX else float(hi)
            if not enforce:
                rows.add(terms, 0.0, lower, upper)
                continue
            # Big-M: the row may be violated by at most its activity range when any
            # enforcement literal is false (sum(1 - e) >= 1).
            least, most = float(coefs[coefs < 0].sum()), float(coefs[coefs > 0].sum())
            k = len(enforce)
            const_e = float(sum(ek for _, _, ek in enforce))
            if lower > least:
                m = lower - least
                rows.add(terms + [(ev, -m * ec) for ev, ec, _ in enforce],
                         -m * const_e, lower - m * k, _INF)
            if upper < most:
                m = most - upper
                rows.add(terms + [(ev, m * ec) for ev, ec, _ in enforce],
                         m * const_e, -_INF, upper + m * k)


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing: it writes a banner on file descriptor 1 when
    created, before any option can be set, which would land in the CLI's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    return highs


@dataclass(frozen=True)
class HighsLimits:
    """HiGHS's work budget: branch-and-bound nodes and simplex iterations (each counted by
    HiGHS itself, the same on any machine)."""

    nodes: int = 2_000
    iterations: int = 2_000_000


DEFAULT_LIMITS = HighsLimits()


def configure(highs: highspy.Highs, limits: HighsLimits, deadline: Deadline, seed: int) -> None:
    """One thread, the seed, exact gaps, the work limits, and the safety net's time left."""
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("random_seed", int(seed))
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.5)
    highs.setOptionValue("mip_max_nodes", int(limits.nodes))
    highs.setOptionValue("simplex_iteration_limit", int(limits.iterations))
    highs.setOptionValue("time_limit", float(deadline.left()))


def solution_is_its_objective(highs: highspy.Highs, cost: np.ndarray,
                              offset: float = 0.0) -> bool:
    """Whether the 0-1 solution HiGHS returns is worth the objective it reports. HiGHS (1.16)
    may report the optimum's objective while its solution is still the MIP start (seen on a
    4-pupil model solved at the root): only a solution worth it is the proven optimum."""
    x = np.asarray(highs.getSolution().col_value) > 0.5
    return abs(float(cost @ x) + offset - highs.getInfo().objective_function_value) < 0.5


def stopped_by_clock(highs: highspy.Highs, deadline: Deadline, stage: str) -> None:
    """Record on `deadline` when HiGHS stopped at its wall-clock limit (the safety net)."""
    if highs.getModelStatus() == highspy.HighsModelStatus.kTimeLimit:
        deadline.fire(stage)


def column_lp(cost: np.ndarray, counts: np.ndarray, index: np.ndarray, values: np.ndarray,
              lower: np.ndarray, upper: np.ndarray) -> highspy.HighsLp:
    """The LP maximising `cost` over columns in [0, 1] given column-wise (`counts` entries per
    column, their row `index` and `values`) within the row bounds."""
    n_cols, n_rows = len(counts), len(lower)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    lp.a_matrix_.start_ = np.r_[0, np.cumsum(counts)].astype(np.int32)
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = values
    return lp


def solve_binary_columns(cost: np.ndarray, counts: np.ndarray, index: np.ndarray,
                         values: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                         start: np.ndarray, limits: HighsLimits, deadline: Deadline, seed: int,
                         stage: str) -> highspy.Highs:
    """Maximise `cost` over 0-1 columns given column-wise (`counts` entries per column, their
    row `index` and `values`) within the row bounds, from the feasible `start`; the HiGHS run
    is returned for its status and solution. Shared by the exact solve and the territories."""
    lp = column_lp(cost, counts, index, values, lower, upper)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(counts)
    highs = quiet_highs()
    configure(highs, limits, deadline, seed)
    highs.passModel(lp)
    solution = highspy.HighsSolution()
    solution.col_value = start.tolist()
    solution.value_valid = True
    highs.setSolution(solution)
    highs.run()
    stopped_by_clock(highs, deadline, stage)
    return highs


@dataclass(frozen=True)
class MipOutcome:
    """What HiGHS returned: the allocation (None without a solution) and its statistics."""

    allocation: np.ndarray | None
    optimal: bool
    info: dict[str, Any]


def translatable(built: Built) -> bool:
    """Whether every variable of the CP-SAT model is 0-1 (else it cannot be translated)."""
    return all(list(var.domain) == [0, 1] for var in built.model.proto.variables)


def solve_mip(instance: Instance, built: Built, hood: Neighbourhood, allocation: np.ndarray,
              deadline: Deadline, limits: HighsLimits | None = None, start: bool = True,
              seed: int = 0) -> MipOutcome:
    """Solve the CP-SAT model `built` (over `hood`, kept weeks from `allocation`) by HiGHS within
    `limits`; with `start`, the model's hint (the current allocation) is the MIP start."""
    started = time.perf_counter()
    proto = built.model.proto
    n = len(proto.variables)
    if not translatable(built):
        raise ValueError("only 0-1 variables are translated")
    rows = _Rows()
    _translate(proto, rows)
    cost = np.zeros(n)
    obj = proto.objective
    scale = obj.scaling_factor or 1.0
    offset = 0.0
    for ref, c in zip(obj.vars, obj.coeffs, strict=True):
        v, sign, k = _literal(ref)
        cost[v] += scale * c * sign
        offset += scale * c * k
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(rows.lower)
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.array(rows.lower)
    lp.row_upper_ = np.array(rows.upper)
    lp.offset_ = offset
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = len(rows.lower)
    lp.a_matrix_.start_ = np.r_[0, np.cumsum([len(i) for i in rows.index])].astype(np.int32)
    lp.a_matrix_.index_ = (np.concatenate(rows.index) if rows.index
                           else np.zeros(0)).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(rows.value) if rows.value else np.zeros(0)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    highs = quiet_highs()
    configure(highs, limits or DEFAULT_LIMITS, deadline, seed)
    highs.passModel(lp)
    if start and len(proto.solution_hint.vars):
        values = np.zeros(n)
        values[np.asarray(proto.solution_hint.vars)] = np.asarray(proto.solution_hint.values)
        solution = highspy.HighsSolution()
        solution.col_value = values.tolist()
        solution.value_valid = True
        highs.setSolution(solution)
    model_s = time.perf_counter() - started
    highs.run()
    stopped_by_clock(highs, deadline, "search")
    model_status = highs.getModelStatus()
    info_h = highs.getInfo()
    has_solution = info_h.primal_solution_status == 2  # kSolutionStatusFeasible
    info: dict[str, Any] = {
        "mip_status": highs.modelStatusToString(model_status),
        "mip_columns": n,
        "mip_rows": len(rows.lower),
        "mip_build_s": round(model_s, 3),
        "mip_solve_s": round(time.perf_counter() - started - model_s, 3),
        "mip_objective": info_h.objective_function_value if has_solution else None,
        "mip_dual_bound": info_h.mip_dual_bound,
        "mip_gap": info_h.mip_gap if has_solution else None,
        "mip_nodes": int(info_h.mip_node_count),
    }
    if not has_solution:
        return MipOutcome(None, False, info)
    x = np.asarray(highs.getSolution().col_value)
    new = read_allocation(_Values(x), built, instance, allocation, hood)
    proved = (model_status == highspy.HighsModelStatus.kOptimal
              and solution_is_its_objective(highs, cost, offset))
    return MipOutcome(new, proved, info)
