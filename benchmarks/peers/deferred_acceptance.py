"""Pupil-proposing deferred acceptance (Gale-Shapley) with the `matching` library.

What a matching specialist would run: the hospital-resident game, pupils as residents and
two-week offers as hospitals. Pupils rank every two-week offer they may take (reachable,
reserved and accessibility rules) by travel time, nearest first; offers rank the pupils who
rank them priority pupils first, then by travel time (the nearest first), then by input
order. The resident-optimal stable matching places each matched pupil at one offer for both
weeks (`single`).

Scope, stated plainly: one-week offers (splits) and mutualised pairs are not part of the game
(a stable matching has no notion of a pupil combining two offers, nor of a group that only
opens at `min_group`). Signed conventions and the pairs they open are placed first
(`base.signed_start`); their pupils, and pupils with one signed week, keep what is signed and
take no part. An offer's capacity in the game is its seats left in both weeks.

The library is called through its public players (`matching.players.Player`, `Hospital`) and
algorithm (`matching.algorithms.hospital_resident`), not its `HospitalResident` game class:
the game deep-copies the players, which overflows Python's recursion limit from about 400
players (daffidwilde/matching#139: already at 1,200 pupils here), and its input checks scale
cubically (daffidwilde/matching#26). Both only guard against inconsistent preference lists,
which are consistent here by construction (an offer ranks exactly the pupils who rank it).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from matching.algorithms import hospital_resident
from matching.players import Hospital, Player

from affectation.domain.allocation import seats_left

from .base import Setting


def deferred_acceptance(setting: Setting, start: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The resident-optimal stable matching on two-week offers, added to `start`."""
    inst, problem = setting.instance, setting.problem
    st, reach = inst.students, problem.reach
    allocation = start.copy()
    left = seats_left(inst, allocation)
    capacity = np.minimum(left[:, 0], left[:, 1])
    resident = st.to_place & (allocation < 0).all(axis=1)
    student = reach.student_of_pair()
    offer = reach.offer.astype(np.int64)
    keep = (setting.allowed & problem.roles.single[offer] & resident[student]
            & (capacity[offer] > 0))
    s, o, d = student[keep].astype(np.int64), offer[keep], reach.deciminutes[keep]
    # Pupils' lists: the reach order (minutes, then offer index) is already theirs.
    resident_prefs: dict[int, list[int]] = {}
    bounds = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1, len(s)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            resident_prefs[int(s[lo])] = o[lo:hi].tolist()
    # Offers' lists: priority pupils first, then the nearest, then input order.
    by_offer = np.lexsort((s, d, ~st.priority[s], o))
    s2, o2 = s[by_offer], o[by_offer]
    hospital_prefs: dict[int, list[int]] = {}
    bounds = np.r_[0, np.flatnonzero(o2[1:] != o2[:-1]) + 1, len(o2)]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            hospital_prefs[int(o2[lo])] = s2[lo:hi].tolist()
    started = time.perf_counter()
    pupils = {r: Player(r) for r in resident_prefs}
    offers = {h: Hospital(h, int(capacity[h])) for h in hospital_prefs}
    for r, prefs in resident_prefs.items():
        pupils[r].set_prefs([offers[h] for h in prefs])
    for h, prefs in hospital_prefs.items():
        offers[h].set_prefs([pupils[r] for r in prefs])
    built = time.perf_counter()
    result = hospital_resident(list(pupils.values()), list(offers.values()), optimal="resident")
    solved = time.perf_counter()
    for hospital, residents in result.items():
        for r in residents:
            allocation[r.name] = hospital.name
    info: dict[str, Any] = {
        "residents": len(resident_prefs),
        "hospitals": len(hospital_prefs),
        "ranked_pairs": int(len(s)),
        "library_setup_s": round(built - started, 3),
        "library_solve_s": round(solved - built, 3),
    }
    return allocation, info
