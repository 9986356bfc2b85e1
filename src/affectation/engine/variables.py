"""The CP-SAT variable container: one boolean per candidate option of a pupil the model decides
(the neighbourhood's free pupils), with the option each one stands for; the model's rules
(`model`) and the objective (`objective`) both read it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from affectation.domain.allocation import pair_counts, seats_left
from affectation.domain.instance import Instance
from affectation.engine.candidates import Candidates, RoleArcs


@dataclass(eq=False)
class Variables:
    """CP-SAT variables with the option each one stands for (arrays aligned with `vars`)."""

    single_student: np.ndarray
    single_offer: np.ndarray
    single: list[cp_model.IntVar]
    stay_student: list[np.ndarray]
    stay_offer: list[np.ndarray]
    stay_is_extension: list[np.ndarray]
    stay: list[list[cp_model.IntVar]]
    pair_student: np.ndarray
    pair_index: np.ndarray
    pair_direction: np.ndarray
    pair: list[cp_model.IntVar]
    split_student: np.ndarray
    split: list[cp_model.IntVar]
    open_pair: dict[int, cp_model.IntVar] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Neighbourhood:
    """The part of the problem the model decides: free pupils, and what the others leave."""

    free: np.ndarray  # bool per pupil: decided by the model
    capacity_left: np.ndarray  # (offers, 2) seats left by the pupils kept as they are
    pair_count_kept: np.ndarray  # pupils kept in each pair
    pair_forced_open: np.ndarray  # bool per pair: a convention or a kept pupil is in it
    full_kept: np.ndarray  # bool per pupil: kept as it is, and placed for both weeks


def neighbourhood(instance: Instance, allocation: np.ndarray, free: np.ndarray) -> Neighbourhood:
    """Free `free` pupils' unsigned weeks of allocation `allocation`; keep everything else."""
    kept = allocation.copy()
    fixed = instance.fixed
    for w in (0, 1):
        release = free & (fixed[:, w] < 0)
        kept[release, w] = -1
    capacity_left = seats_left(instance, kept)
    count = pair_counts(instance, kept)
    return Neighbourhood(free=free, capacity_left=capacity_left, pair_count_kept=count,
                         pair_forced_open=count > 0,
                         full_kept=~free & (kept >= 0).all(axis=1))


def create_variables(model: cp_model.CpModel, instance: Instance, cands: Candidates,
                     hood: Neighbourhood) -> Variables:
    """One boolean per candidate option of a free pupil."""
    free = hood.free
    fixed = instance.fixed

    def sub(arcs: RoleArcs) -> tuple[np.ndarray, np.ndarray]:
        sel = free[arcs.student]
        return arcs.student[sel], arcs.offer[sel]

    s_s, s_o = sub(cands.single)
    stay_s, stay_o, stay_ext = [], [], []
    for w in (0, 1):
        s, o = sub(cands.stays(w))
        # Pupils with the other week signed may also extend their signed offer to this week.
        half = np.flatnonzero(free & (fixed[:, w] < 0) & (fixed[:, 1 - w] >= 0)
                              & (cands.extension >= 0))
        s = np.r_[s, half]
        o = np.r_[o, cands.extension[half]]
        ext = np.r_[np.zeros(len(s) - len(half), dtype=bool), np.ones(len(half), dtype=bool)]
        order = np.lexsort((o, s))
        s, o, ext = s[order], o[order], ext[order]
        # A pupil's extension may also be one of its ordinary stays: keep one variable.
        dup = np.zeros(len(s), dtype=bool)
        dup[1:] = (s[1:] == s[:-1]) & (o[1:] == o[:-1])
        ext_of_next = np.zeros(len(s), dtype=bool)
        ext_of_next[:-1] = dup[1:] & ext[1:]
        stay_s.append(s[~dup])
        stay_o.append(o[~dup])
        stay_ext.append((ext | ext_of_next)[~dup])
    po = cands.pairs
    sel = free[po.student]
    both_free = free & (fixed[:, 0] < 0) & (fixed[:, 1] < 0)
    split_s = np.intersect1d(stay_s[0][both_free[stay_s[0]]], stay_s[1][both_free[stay_s[1]]])

    def bools(n: int) -> list[cp_model.IntVar]:
        return [model.new_bool_var("") for _ in range(n)]

    v = Variables(
        single_student=s_s, single_offer=s_o, single=bools(len(s_s)),
        stay_student=stay_s, stay_offer=stay_o, stay_is_extension=stay_ext,
        stay=[bools(len(stay_s[0])), bools(len(stay_s[1]))],
        pair_student=po.student[sel], pair_index=po.pair[sel], pair_direction=po.direction[sel],
        pair=bools(int(sel.sum())),
        split_student=split_s, split=bools(len(split_s)),
    )
    for k in np.unique(v.pair_index):
        v.open_pair[int(k)] = model.new_bool_var("")
    return v
