"""The LP bound (`lp_bound`): never below the optimum, at any round; the LP's value when
converged; only on a whole reach."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import brute_force, make_scenario, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.domain.instance import Instance
from affectation.engine.bound import open_allowed
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.exact import _columns, _model
from affectation.engine.lp_bound import LpSettings, lp_bound
from affectation.engine.mip import column_lp, quiet_highs
from affectation.synthetic.scenario import generate_scenario
from affectation.travel.loading import load_instance
from affectation.travel.reach import nearest_reach, reachable

FAST = settings(deadline=None, database=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    case = random_case(draw, n_students=(1, 7), n_offers=(1, 5))
    case["_lp"] = LpSettings(first_options=draw(st.sampled_from([1, 2, 4])),
                             added_options=draw(st.sampled_from([1, 4])),
                             rounds=draw(st.sampled_from([1, 2, 30])),
                             iterations=draw(st.sampled_from([1, 5, 400_000])))
    case["_start"] = draw(st.sampled_from(["none", "signed", "best"]))
    return case


@FAST
@given(case=cases())
def test_lp_bound_never_below_the_exhaustive_optimum(case: dict[str, Any]) -> None:
    """At any budget (one round: the first master only, far from converged; a few simplex
    iterations over all rounds) and whichever allocation seeds the first master (none; the
    signed weeks alone; an optimum), the bound on every pupil, and on the priority pupils
    alone, is at least the exhaustive optimum and at most the pupils themselves."""
    lp_settings = case.pop("_lp")
    start = case.pop("_start")
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    allowed, roles = allowed_pairs(inst, reach), offer_roles(inst)
    pupils = inst.students.to_place
    priority = pupils & inst.students.priority
    best_full, best_allocation = brute_force(inst, key=(1,))
    best_priority, _ = brute_force(inst, key=(0,))
    allocation = {"none": None, "signed": inst.fixed.copy(), "best": best_allocation}[start]
    full = lp_bound(inst, roles, reach, allowed, pupils, lp_settings, allocation)
    prio = lp_bound(inst, roles, reach, allowed, priority, lp_settings, allocation)
    assert best_full[0] <= full.value <= int(pupils.sum()), (full, best_full)
    assert best_priority[0] <= prio.value <= int(priority.sum()), (prio, best_priority)


def _full_lp(inst: Instance, mask: np.ndarray) -> float:
    """The LP relaxation of `exact`'s model over every option, solved directly."""
    reach = reachable(inst)
    allowed, _ = open_allowed(inst, reach, allowed_pairs(inst, reach))
    cols = _columns(inst, offer_roles(inst), reach, allowed, mask)
    model = _model(inst, cols, mask.astype(np.float64))
    highs = quiet_highs()
    lp = column_lp(model.cost, model.counts, model.index, model.values, model.lower,
                   model.upper)
    highs.passModel(lp)
    highs.run()
    _, signed_both, _ = inst.signed_groups(mask)
    return float(highs.getInfo().objective_function_value) + int(signed_both.sum())


@pytest.fixture(scope="module")
def generated() -> Instance:
    with tempfile.TemporaryDirectory() as tmp:
        generate_scenario(Path(tmp) / "g", scale=0.03, seed=5)
        return load_instance(Path(tmp) / "g" / "scenario.toml")


def test_converged_bound_is_the_floor_of_the_lp_over_every_option(generated: Instance) -> None:
    """From one option per pupil and family, column generation ends on the LP of the whole
    model: its bound is that LP's floor, and it never exceeds the flow bound's pupils."""
    inst = generated
    reach = reachable(inst)
    allowed, roles = allowed_pairs(inst, reach), offer_roles(inst)
    mask = inst.students.to_place
    out = lp_bound(inst, roles, reach, allowed, mask,
                   LpSettings(first_options=1, added_options=2, rounds=100))
    whole = _full_lp(inst, mask)
    assert out.converged
    assert out.rounds > 1
    assert out.columns < out.options
    assert out.value == int(np.floor(whole + 1e-6))
    assert out.lp_value <= whole + 1e-6
    assert out.value <= int(mask.sum())


def test_an_allocation_leaves_every_seat_priced(generated: Instance) -> None:
    """An allocation only seeds the first master: with one that fills the signed seats alone,
    the converged bound is still the floor of the LP over every option, not every pupil who
    could reach a seat it leaves free."""
    inst = generated
    reach = reachable(inst)
    allowed, roles = allowed_pairs(inst, reach), offer_roles(inst)
    mask = inst.students.to_place
    out = lp_bound(inst, roles, reach, allowed, mask,
                   LpSettings(first_options=1, added_options=2, rounds=100),
                   inst.fixed.copy())
    assert out.converged
    assert out.value == int(np.floor(_full_lp(inst, mask) + 1e-6))
    assert out.value < int(mask.sum())


def test_lp_bound_refuses_a_capped_reach(generated: Instance) -> None:
    """A capped reach leaves options out that the pricing would have to see."""
    inst = generated
    reach = nearest_reach(inst, 2)
    assert reach.any_capped
    with pytest.raises(ValueError):
        lp_bound(inst, offer_roles(inst), reach, allowed_pairs(inst, reach),
                 inst.students.to_place)


def test_priority_lp_bound_runs_beside_the_next_stages(tmp_path: Path) -> None:
    """Priority pupils below their flow bound after the start (constrained profile, scale
    0.1): `solve` prices them by the LP on a thread beside the next stages, from the start's
    allocation. The bound is reported, between the priority pupils placed and the
    flow bound, and two runs agree."""
    from affectation.domain.allocation import lexicographic_score
    from affectation.engine.search import SearchSettings
    from affectation.engine.solve import SolveSettings, solve
    from affectation.engine.territory import Territory
    from affectation.synthetic.profiles import PROFILES

    generate_scenario(tmp_path / "c", scale=0.1, seed=0, profile=PROFILES["constrained"])
    inst = load_instance(tmp_path / "c" / "scenario.toml")
    settings_ = SolveSettings(
        time_limit_s=120, exact_max_pupils=0,
        search=SearchSettings(whole_model_pupils=0, mip_pupils=0, max_neighbourhoods=0),
        territory=Territory(neighbourhoods=4, pupils=100))
    first = solve(inst, settings_)
    priority = lexicographic_score(inst, first.allocation)[0]
    lp = first.bounds["lp_upper_bound_priority_full"]
    assert priority <= lp <= first.bounds["flow_upper_bound_priority_full"]
    assert priority < first.bounds["flow_upper_bound_priority_full"]
    assert first.upper_bound_priority_full == lp
    assert "lp_priority_seconds" in first.search
    again = solve(inst, settings_)
    assert again.bounds == first.bounds
    assert np.array_equal(again.allocation, first.allocation)
