"""The engine's own model solved whole as a MIP by HiGHS, from scratch: the peer an
operations-research user would write.

Every rule and the lexicographic objective (levels 1-4, weighted as in
`affectation.objective`) over every pupil and every reachable option, handed to HiGHS in one
piece: the engine's CP-SAT model of the whole instance translated constraint by constraint
(`affectation.mip`, which the engine itself uses on small instances, there with its own
allocation as a MIP start). Here HiGHS starts from the signed conventions only, with the
benchmark's time limit; its status and the best solution found are reported. Levels 5-6
(sectors, travel) are not in the MIP.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from affectation.engine.budget import Deadline
from affectation.engine.candidates import NO_PRUNING, build_candidates
from affectation.engine.mip import HighsLimits, solve_mip
from affectation.engine.model import build_model
from affectation.engine.variables import neighbourhood

from .base import Setting


def highs_mip(setting: Setting, time_limit_s: float, seed: int = 0
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """Solve the whole model by HiGHS; the best allocation found (the signed weeks when none)."""
    inst, problem = setting.instance, setting.problem
    started = time.perf_counter()
    cands = build_candidates(inst, problem.reach, setting.allowed, problem.roles, NO_PRUNING)
    allocation = inst.fixed.copy()
    free = inst.students.to_place & (inst.fixed < 0).any(axis=1)
    hood = neighbourhood(inst, allocation, free)
    built = build_model(inst, problem.roles, cands, hood)
    # A peer: what an OR user would run, HiGHS alone with a wall-clock limit (no work budget).
    deadline = Deadline(started + time_limit_s)
    unlimited = HighsLimits(nodes=2**31 - 1, iterations=2**31 - 1)
    outcome = solve_mip(inst, built, hood, allocation, deadline, unlimited, start=False,
                        seed=seed)
    info = {**outcome.info, "mip_has_solution": outcome.allocation is not None}
    return (outcome.allocation if outcome.allocation is not None else allocation), info
