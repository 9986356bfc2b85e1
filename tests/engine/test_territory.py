"""HiGHS on territory-sized neighbourhoods (`territory`): the exact optimum of the freed
pupils, never worse than the allocation it starts from, always valid, and run by `solve` on
instances too large to be solved whole."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from conftest import brute_force, check_week, make_scenario, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.domain.allocation import lexicographic_score
from affectation.engine.budget import never
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.engine.search import SearchSettings
from affectation.engine.solve import SolveSettings, solve
from affectation.engine.territory import Territory, solve_territory, territory_search
from affectation.synthetic.scenario import generate_scenario
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, database=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Every option kept: the neighbourhood's model is then the whole model of the freed pupils.
WHOLE = Territory(pupils=10_000, options=10_000)


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    return random_case(draw, n_students=(1, 6), n_offers=(1, 5))


@FAST
@given(case=cases())
def test_every_pupil_freed_gives_the_brute_force_optimum(case: dict[str, Any]) -> None:
    """Every pupil freed, every option kept, from the signed weeks alone: the neighbourhood is
    the whole problem, and HiGHS's allocation is valid and optimal on levels 1-4."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    start = inst.fixed.copy()
    free = np.ones(inst.students.n, dtype=bool)
    out, info = solve_territory(inst, offer_roles(inst), reach, allowed_pairs(inst, reach),
                                start, free, WHOLE, never())
    assert check_week(inst, out) == []
    best, _ = brute_force(inst)
    if info["optimal"]:
        assert lexicographic_score(inst, out)[:4] == best
    assert lexicographic_score(inst, out)[:4] <= best


@FAST
@given(case=cases(), data=st.data())
def test_a_neighbourhood_never_makes_the_allocation_worse(case: dict[str, Any],
                                                          data: Any) -> None:
    """From a valid allocation (the best on level 1 only) and any set of freed pupils, the
    result is valid, never worse on levels 1-4, and the pupils not freed keep their
    placement."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    roles, allowed = offer_roles(inst), allowed_pairs(inst, reach)
    _, start_week = brute_force(inst, key=(0,))
    n = inst.students.n
    free = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    out, _ = solve_territory(inst, roles, reach, allowed, start_week, free, WHOLE, never())
    assert check_week(inst, out) == []
    assert lexicographic_score(inst, out) >= lexicographic_score(inst, start_week)
    kept = ~free | ~inst.students.to_place
    assert (out[kept] == start_week[kept]).all()


def test_solve_runs_territories_when_the_instance_is_not_solved_whole(tmp_path: Path) -> None:
    """Above the whole-model and exact sizes (lowered here by settings only), `solve` runs the
    territories after the chains of moves: valid, reported in the summary's search figures,
    never below the moves' result, and the same allocation twice."""
    folder = tmp_path / "g"
    generate_scenario(folder, scale=0.03, seed=5)
    inst = load_instance(folder / "scenario.toml")
    settings_ = SolveSettings(
        time_limit_s=120, exact_max_pupils=0,
        search=SearchSettings(whole_model_pupils=0, mip_pupils=0, max_neighbourhoods=0),
        territory=Territory(neighbourhoods=6, pupils=150))
    first = solve(inst, settings_)
    assert check_week(inst, first.allocation) == []
    assert "territories" in first.timings
    assert first.search["territory_neighbourhoods"] > 0
    assert first.search["territory_placed_gain"] >= 0
    again = solve(inst, settings_)
    assert np.array_equal(first.allocation, again.allocation)


def test_pupils_with_no_reachable_offer_are_no_centre(tmp_path: Path) -> None:
    """A pupil no offer can take is not worth a neighbourhood: none is run."""
    folder = make_scenario(
        tmp_path, students=[{"student_id": "far", "lat": 49.0, "lon": -1.0}],
        offers=[{"offer_id": "o", "lat": 49.6, "lon": -1.0, "capacity": 1}])
    inst = load_instance(folder)
    reach = reachable(inst)
    out, stats = territory_search(inst, offer_roles(inst), reach, allowed_pairs(inst, reach),
                                  inst.fixed.copy(), Territory(), never())
    assert stats.neighbourhoods == 0
    assert (out < 0).all()


@FAST
@given(case=cases(), data=st.data())
def test_waves_of_neighbourhoods_keep_every_rule(case: dict[str, Any], data: Any) -> None:
    """Neighbourhoods of one to three pupils, solved up to three at once when they share no
    pupil and no offer: from the best allocation on level 1 only, the result is valid, never
    worse on levels 1-4, and the same on a second run."""
    with tempfile.TemporaryDirectory() as tmp:
        inst = load_instance(make_scenario(Path(tmp), **case))
    reach = reachable(inst)
    roles, allowed = offer_roles(inst), allowed_pairs(inst, reach)
    _, start_week = brute_force(inst, key=(0,))
    territory = Territory(pupils=data.draw(st.integers(1, 3)), options=10_000,
                          neighbourhoods=10, concurrent=data.draw(st.integers(1, 3)),
                          lookahead=data.draw(st.integers(1, 6)))
    out, stats = territory_search(inst, roles, reach, allowed, start_week, territory, never())
    assert check_week(inst, out) == []
    assert lexicographic_score(inst, out) >= lexicographic_score(inst, start_week)
    assert stats.waves <= stats.neighbourhoods
    again, _ = territory_search(inst, roles, reach, allowed, start_week, territory, never())
    assert np.array_equal(out, again)


def test_disjoint_neighbourhoods_are_solved_in_waves(tmp_path: Path) -> None:
    """On a generated region, neighbourhoods far apart share a wave: fewer waves than
    neighbourhoods, the result valid and never below the allocation it starts from."""
    folder = tmp_path / "g"
    generate_scenario(folder, scale=0.1, seed=2)
    inst = load_instance(folder / "scenario.toml")
    reach = reachable(inst)
    roles, allowed = offer_roles(inst), allowed_pairs(inst, reach)
    start = inst.fixed.copy()
    out, stats = territory_search(inst, roles, reach, allowed, start,
                                  Territory(neighbourhoods=8, pupils=30, concurrent=2), never())
    assert stats.neighbourhoods == 8
    assert stats.waves < stats.neighbourhoods
    assert check_week(inst, out) == []
    assert lexicographic_score(inst, out) > lexicographic_score(inst, start)
