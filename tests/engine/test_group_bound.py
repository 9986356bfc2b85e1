"""The group bound built from the reach's rows equals `three_layer_bound` on the restricted
reach: random groups and row prefixes of small random instances, with the arcs loaded first,
the arcs added per round and the round limit small enough that every path of the loop runs.
The witness that a group can be placed whole is found exactly when it can."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from conftest import make_scenario, near, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import affectation.engine.group_bound as group_module
from affectation.domain.instance import Instance
from affectation.engine.bound import three_layer_bound
from affectation.engine.candidates import allowed_pairs
from affectation.engine.group_bound import group_places_every_pupil, group_three_layer_bound
from affectation.travel.loading import load_instance
from affectation.travel.reach import Reach, reachable, restrict_reach

FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# (first arcs per pupil and week, arcs added per round, round limit): the defaults; one
# arc at a time (many cut rounds); and a round limit of 2 (every arc loaded at once).
LOOPS = [(24, 4, 30), (1, 1, 30), (1, 1, 2)]


@st.composite
def case_and_groups(draw: Any) -> tuple[dict[str, Any], int]:
    """A random instance (up to 40 pupils, 15 offers, many within reach) and a seed for the
    groups and the row prefixes drawn on it."""
    case = random_case(draw, n_students=(5, 40), n_offers=(2, 15))
    return case, draw(st.integers(0, 2**31 - 1))


def _restricted_flow(inst: Any, reach: Reach, allowed: np.ndarray, pupils: np.ndarray,
                     lengths: np.ndarray) -> int:
    """The plain way: `three_layer_bound` on the restricted reach."""
    sub, idx = restrict_reach(reach, pupils, lengths)
    mask = np.zeros(inst.students.n, dtype=bool)
    mask[pupils] = True
    return three_layer_bound(inst, sub, allowed[idx], mask)[0].value


def _drawn_instance(drawn: tuple[dict[str, Any], int]) -> tuple[
        Instance, Reach, np.ndarray, np.random.Generator, np.ndarray, np.ndarray]:
    """The drawn case's instance, reach, usable pairs, a generator from the drawn seed, the
    pupils to place and each pupil's row length."""
    case, seed = drawn
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    return (inst, reach, allowed_pairs(inst, reach), np.random.default_rng(seed),
            np.flatnonzero(inst.students.to_place), np.diff(reach.indptr))


@pytest.mark.parametrize("loop", LOOPS)
@settings(FAST, max_examples=25)
@given(drawn=case_and_groups())
def test_group_bound_equals_three_layer_bound_on_restricted_reach(
        drawn: tuple[dict[str, Any], int], loop: tuple[int, int, int]) -> None:
    inst, reach, allowed, rng, to_place, row = _drawn_instance(drawn)
    first, added, rounds = loop
    with mock.patch.multiple(group_module, INITIAL_ARCS_PER_PUPIL=first,
                             ARCS_ADDED_PER_ROUND=added, MAX_ROUNDS=rounds):
        for _ in range(4):
            pupils = np.sort(rng.choice(to_place, int(rng.integers(1, len(to_place) + 1)),
                                        replace=False))
            whole = row[pupils]
            # Whole rows, or random prefixes (an empty row included).
            lengths = whole if rng.integers(2) else rng.integers(0, whole + 1)
            got = group_three_layer_bound(inst, reach, allowed, pupils, lengths)
            assert got == _restricted_flow(inst, reach, allowed, pupils, lengths)


def test_group_bound_refuses_a_capped_reach(tmp_path: Path) -> None:
    """A capped row leaves reachable pairs out, which the rows-only network would miss."""
    inst = load_instance(make_scenario(tmp_path, [{"student_id": "S0", **near()}],
                                       [{"offer_id": "O0", **near(0.001), "capacity": 1}]))
    reach = reachable(inst)
    capped = Reach(reach.indptr, reach.offer, reach.deciminutes,
                   capped=np.ones(inst.students.n, dtype=bool))
    with pytest.raises(ValueError):
        group_three_layer_bound(inst, capped, allowed_pairs(inst, capped), np.array([0]),
                                np.diff(reach.indptr)[:1])


def _random_seed(inst: Any, reach: Reach, allowed: np.ndarray, pupils: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Offers of a random valid allocation of some of `pupils` for both weeks (-1 else):
    signed weeks kept, usable reachable offers in the weeks they run, seats respected."""
    seats = inst.offers.seats.copy()
    seed = np.full((len(pupils), 2), -1, dtype=np.int64)
    for k in rng.permutation(len(pupils)):
        if rng.integers(3) == 0:
            continue
        p = pupils[k]
        lo, hi = reach.indptr[p], reach.indptr[p + 1]
        chosen = []
        for w in (0, 1):
            o = inst.fixed[p, w]
            if o < 0:
                ok = [int(reach.offer[i]) for i in range(lo, hi)
                      if allowed[i] and inst.offers.open_week[reach.offer[i], w]]
                o = int(rng.choice(ok)) if ok else -1
            chosen.append(o)
        if min(chosen) >= 0 and all(seats[o, w] > 0 for w, o in enumerate(chosen)):
            for w, o in enumerate(chosen):
                seats[o, w] -= 1
            seed[k] = chosen
    return seed


@settings(FAST, max_examples=60)
@given(drawn=case_and_groups())
def test_witness_exactly_when_every_pupil_can_be_placed(
        drawn: tuple[dict[str, Any], int]) -> None:
    """The witness is found exactly when the group's maximum flow places every pupil, from a
    random valid allocation of some of them or from none."""
    inst, reach, allowed, rng, to_place, row = _drawn_instance(drawn)
    for _ in range(4):
        pupils = np.sort(rng.choice(to_place, int(rng.integers(1, len(to_place) + 1)),
                                    replace=False))
        seed = _random_seed(inst, reach, allowed, pupils, rng)
        if rng.integers(2):
            seed[:] = -1  # no allocation: the greedy alone
        found = group_places_every_pupil(inst, reach, allowed, pupils, seed)
        whole = _restricted_flow(inst, reach, allowed, pupils, row[pupils]) == len(pupils)
        assert found == whole


def test_witness_cases(tmp_path: Path) -> None:
    """Two pupils and one seat: no witness; two seats: one, also when the seeded pupil holds
    the only seat the other reaches (it moves to the other seat); an overused seed: none."""
    students = [{"student_id": "S0", **near(0, -0.07)}, {"student_id": "S1", **near()}]
    offers = [{"offer_id": "A", **near(0, -0.03), "capacity": 1},
              {"offer_id": "B", **near(0, 0.06), "capacity": 1}]
    inst = load_instance(make_scenario(tmp_path, students, offers))
    reach = reachable(inst)
    a, b = (list(inst.offers.ids).index(x) for x in ("A", "B"))
    s0, s1 = (list(inst.students.ids).index(x) for x in ("S0", "S1"))
    assert list(reach.row(s0)[0]) == [a] and sorted(reach.row(s1)[0]) == sorted([a, b])
    allowed = allowed_pairs(inst, reach)
    pupils = np.array(sorted([s0, s1]))
    seeded = np.full((2, 2), -1)
    assert group_places_every_pupil(inst, reach, allowed, pupils, seeded)
    seeded[list(pupils).index(s1)] = a  # S1 on A: S0 reaches A only
    assert group_places_every_pupil(inst, reach, allowed, pupils, seeded)
    seeded[list(pupils).index(s0)] = [a, b]  # A twice in week 1
    assert not group_places_every_pupil(inst, reach, allowed, pupils, seeded)
    one = load_instance(make_scenario(tmp_path, students, offers[:1], folder="one"))
    reach1 = reachable(one)
    none = np.full((2, 2), -1)
    assert not group_places_every_pupil(one, reach1, allowed_pairs(one, reach1), pupils, none)
    assert group_places_every_pupil(one, reach1, allowed_pairs(one, reach1), pupils[:1],
                                    none[:1])
