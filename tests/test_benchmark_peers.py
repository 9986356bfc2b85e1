"""The benchmark's peer methods (benchmarks/peers): valid allocations, never above the bound.

The peers are what `benchmarks/compare.py` measures the engine against; a peer that broke a
hard rule, or placed more pupils than the engine's proven upper bound, would make the
comparison meaningless (or the bound wrong).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from affectation.analysis.check import check_allocation
from affectation.domain.allocation import lexicographic_score
from affectation.domain.instance import Instance
from affectation.engine.bound import full_placement_bound
from affectation.io.output import assignments_csv
from affectation.synthetic.scenario import generate_scenario
from affectation.travel.loading import load_instance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers.base import Setting, prepare, signed_start  # noqa: E402
from benchmarks.peers.deferred_acceptance import deferred_acceptance  # noqa: E402
from benchmarks.peers.fcfs import first_come_first_served  # noqa: E402
from benchmarks.peers.mip import highs_mip  # noqa: E402
from benchmarks.run_method import result_of  # noqa: E402


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Setting:
    folder = tmp_path_factory.mktemp("peers")
    generate_scenario(folder, scale=0.015, seed=3)
    return prepare(load_instance(folder / "scenario.toml"))


def _violations(instance: Instance, allocation: np.ndarray, setting: Setting) -> list[str]:
    text = assignments_csv(instance, result_of(instance, allocation, setting.problem.reach))
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return [str(v) for v in check_allocation(instance, table)]


def _bounds(setting: Setting) -> tuple[int, int]:
    inst, p = setting.instance, setting.problem
    st = inst.students
    full, _ = full_placement_bound(inst, p.reach, setting.allowed, p.roles, three_layer=True)
    prio, _ = full_placement_bound(inst, p.reach, setting.allowed, p.roles,
                                   st.to_place & st.priority, three_layer=True)
    return full.value, prio.value


@pytest.mark.parametrize("seed", [0, 1])
def test_fcfs_is_valid_and_within_the_bound(setting: Setting, seed: int) -> None:
    inst = setting.instance
    allocation = first_come_first_served(setting, seed)
    assert _violations(inst, allocation, setting) == []
    priority, full, _, _ = lexicographic_score(inst, allocation)
    bound_full, bound_priority = _bounds(setting)
    assert 0 < full <= bound_full
    assert priority <= bound_priority


def test_fcfs_depends_on_the_arrival_order(setting: Setting) -> None:
    a = first_come_first_served(setting, 0)
    assert np.array_equal(a, first_come_first_served(setting, 0))
    assert not np.array_equal(a, first_come_first_served(setting, 1))


def test_deferred_acceptance_is_valid_stable_and_within_the_bound(setting: Setting) -> None:
    inst = setting.instance
    start = signed_start(setting)
    allocation, info = deferred_acceptance(setting, start)
    assert _violations(inst, allocation, setting) == []
    priority, full, _, _ = lexicographic_score(inst, allocation)
    bound_full, bound_priority = _bounds(setting)
    assert 0 < full <= bound_full
    assert priority <= bound_priority
    # Only two-week offers, and only pupils with nothing placed at the start, take part.
    moved = (allocation != start).any(axis=1)
    assert 0 < moved.sum() <= info["residents"]
    assert (start[moved] < 0).all()
    assert (allocation[moved, 0] == allocation[moved, 1]).all()
    assert setting.problem.roles.single[allocation[moved, 0]].all()
    _assert_stable(setting, start, allocation)


def _assert_stable(setting: Setting, start: np.ndarray, allocation: np.ndarray) -> None:
    """No blocking pair: a pupil preferring an offer finds it full of pupils it ranks higher."""
    inst, p = setting.instance, setting.problem
    st = inst.students
    left = inst.offers.seats - np.stack([np.bincount(start[:, w][start[:, w] >= 0],
                                                     minlength=inst.offers.n)
                                         for w in (0, 1)], axis=1)
    capacity = left.min(axis=1)
    minutes: dict[tuple[int, int], int] = {}
    prefs: dict[int, list[int]] = {}
    for s in np.flatnonzero(st.to_place & (start < 0).all(axis=1)):
        lo, hi = p.reach.indptr[s], p.reach.indptr[s + 1]
        for i in range(lo, hi):
            o = int(p.reach.offer[i])
            if setting.allowed[i] and p.roles.single[o] and capacity[o] > 0:
                prefs.setdefault(int(s), []).append(o)
                minutes[int(s), o] = int(p.reach.deciminutes[i])
    holders: dict[int, list[int]] = {}
    for s in prefs:
        if allocation[s, 0] >= 0:
            holders.setdefault(int(allocation[s, 0]), []).append(s)

    def rank(o: int, s: int) -> tuple[bool, int, int]:
        return (not st.priority[s], minutes[s, o], s)

    for s, offers in prefs.items():
        for o in offers:
            if o == allocation[s, 0]:
                break
            held = holders.get(o, [])
            assert len(held) == capacity[o], (s, o)
            assert all(rank(o, h) < rank(o, s) for h in held), (s, o)


def test_highs_mip_is_valid_and_reaches_at_most_the_bound(setting: Setting) -> None:
    inst = setting.instance
    allocation, info = highs_mip(setting, time_limit_s=120)
    assert info["mip_status"] == "Optimal"
    assert _violations(inst, allocation, setting) == []
    priority, full, _, _ = lexicographic_score(inst, allocation)
    bound_full, bound_priority = _bounds(setting)
    assert full <= bound_full
    assert priority <= bound_priority
    # The MIP optimises the same levels: it is never worse than first come, first served.
    assert lexicographic_score(inst, allocation) >= lexicographic_score(
        inst, first_come_first_served(setting, 0))
