"""What every peer shares: reachable pairs, offer roles, candidates and the signed start."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from affectation.domain.instance import Instance
from affectation.engine.candidates import (
    NO_PRUNING,
    Pruning,
    allowed_pairs,
    build_candidates,
    offer_roles,
)
from affectation.engine.start import StartInputs, greedy_allocation
from affectation.travel.reach import PupilTravel, pupil_travel, reachable


@dataclass(frozen=True, eq=False)
class Setting:
    """An instance with its reachable pairs, the pairs each pupil may use and the roles."""

    problem: StartInputs
    travel: PupilTravel
    allowed: np.ndarray  # mask over problem.reach: reserved and accessibility rules

    @property
    def instance(self) -> Instance:
        return self.problem.instance


def prepare(instance: Instance, every_option: bool = False) -> Setting:
    """Reachable pairs and candidate options (every reachable one when `every_option`)."""
    travel = pupil_travel(instance)
    reach = reachable(instance, travel)
    allowed = allowed_pairs(instance, reach)
    roles = offer_roles(instance)
    cands = build_candidates(instance, reach, allowed, roles,
                             NO_PRUNING if every_option else Pruning())
    return Setting(StartInputs(instance, roles, cands, reach), travel, allowed)


def signed_start(setting: Setting) -> np.ndarray:
    """The signed conventions, and the pairs they open filled up to their minimum group.

    Every method must start here: a signed convention never moves, and the pair it opens is
    only valid with `min_group` pupils (the nearest eligible ones, priority pupils first, as
    the engine does). No other pupil is placed.
    """
    return greedy_allocation(setting.problem, order=np.zeros(0, dtype=np.int64))
