"""The group bound built from the reach's rows equals `three_layer_bound` on the restricted
reach: random groups and row prefixes of small random instances, with the arcs loaded first,
the arcs added per round and the round limit small enough that every path of the loop runs."""

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
from affectation.engine.bound import three_layer_bound
from affectation.engine.candidates import allowed_pairs
from affectation.engine.group_bound import group_three_layer_bound
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


@pytest.mark.parametrize("loop", LOOPS)
@settings(FAST, max_examples=25)
@given(drawn=case_and_groups())
def test_group_bound_equals_three_layer_bound_on_restricted_reach(
        drawn: tuple[dict[str, Any], int], loop: tuple[int, int, int]) -> None:
    case, seed = drawn
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    rng = np.random.default_rng(seed)
    to_place = np.flatnonzero(inst.students.to_place)
    row = np.diff(reach.indptr)
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
