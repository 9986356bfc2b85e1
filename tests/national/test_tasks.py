"""A block's engine settings: levels 1-2 by HiGHS for small blocks, CP-SAT for the others;
and, on a solved block, HiGHS's levels 1-2 proven optimal and never below what the CP-SAT
path places."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from affectation.engine.solve import SolveSettings, solve
from affectation.national.data import local_reach, read_national, sub_instance
from affectation.national.runner import Cluster, run_national
from affectation.national.tasks import block_settings, pair_exclusions
from affectation.national.work import NationalSettings, load_rows, load_shares
from affectation.synthetic.national import generate_national
from affectation.travel.reach import sorted_unique


def test_small_blocks_take_the_exact_path() -> None:
    base = SolveSettings(time_limit_s=900)
    national = NationalSettings()
    small = block_settings(base, national, 500, 20_000)
    assert small.exact_max_pupils == national.exact_max_pupils
    assert small.search.max_neighbourhoods == 0
    assert small.search.whole_model_pupils == 0 and small.search.mip_pupils == 0
    for pupils, pairs in ((national.exact_max_pupils + 1, 1000),
                          (100, national.exact_max_columns + 1)):
        large = block_settings(base, national, pupils, pairs)
        assert large.exact_max_pupils == 0
        assert large.search.max_neighbourhoods == base.search.max_neighbourhoods
    off = block_settings(base, replace(national, exact_levels=False), 500, 20_000)
    assert off.exact_max_pupils == 0 and off.search.whole_model_pupils > 0
    # --exact: the engine's own HiGHS stages, untouched but for the territories' waves,
    # which take the block's cores, never the machine's.
    exact = block_settings(base, replace(national, exact=True, cores_per_block=3), 500, 20_000)
    assert exact == replace(base, territory=replace(base.territory, concurrent=3))
    assert {block_settings(base, national, p, q).territory.concurrent
            for p, q in ((500, 20_000), (10_000, 10**6))} == {national.cores_per_block}


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("national-tasks")
    generate_national(folder / "in", scale=0.01, seed=2, academies=["normandie", "rennes"])
    run_national(folder / "in" / "scenario.toml", folder / "out", Cluster(workers=1),
                 NationalSettings(windows=False))
    return folder


def test_exact_blocks_place_at_least_the_cp_sat_path(solved: Path) -> None:
    """Each block re-solved on the CP-SAT path (whole model) places no more pupils for both
    weeks (priority first) than the run's HiGHS path did, which proved its levels optimal."""
    import json

    work = solved / "out" / ".work"
    nat = read_national(solved / "in" / "scenario.toml")
    inst = nat.instance
    shares = load_shares(work)
    for block in nat.blocks():
        outcome = json.loads((work / "blocks" / block.code / "outcome.json").read_text())
        assert outcome["search"]["exact_optimal"] == 1
        rows = load_rows(work, block.code, inst.students.n)
        pupils = nat.block_pupils(block)
        capacity = shares.capacity(block.code, inst.offers.capacity)
        offers = sorted_unique(rows.offer.astype(np.int64))
        offers = offers[capacity[offers] > 0]
        extra = pair_exclusions(nat, rows, pupils, shares.pair_academy)
        sub = sub_instance(inst, pupils, offers, capacity=capacity, extra_exclusions=extra)
        reach = local_reach(rows, pupils, sub.local_offer, capacity)
        settings = block_settings(SolveSettings(time_limit_s=900), replace(
            NationalSettings(), exact_levels=False), int(sub.instance.students.to_place.sum()),
            int(reach.n_pairs))
        cp_sat = solve(sub.instance, settings, reach=reach)
        full = (cp_sat.allocation >= 0).all(axis=1) & sub.instance.students.to_place
        prio = full & sub.instance.students.priority
        assert (outcome["priority_placed_full"], outcome["placed_full"]) >= (
            int(prio.sum()), int(full.sum()))
