"""Proven upper bounds on the pupils placed for both weeks: never below the true optimum
(exhaustive search on tiny instances), the three-layer bound is exactly the max flow of its
network (networkx), and the certified pruned flow equals the unpruned one."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from conftest import brute_force, independent_usable, make_scenario, near, random_case, tiny_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import affectation.engine.bound as bound_module
from affectation.domain.instance import Instance
from affectation.engine.bound import full_placement_bound, three_layer_bound
from affectation.engine.candidates import allowed_pairs, offer_roles
from affectation.synthetic.scenario import generate_scenario
from affectation.travel.loading import load_instance
from affectation.travel.reach import nearest_reach, reachable

FAST = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _bounds(inst: Instance, mask: np.ndarray | None = None) -> dict[str, int]:
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    roles = offer_roles(inst)
    if mask is None:
        mask = inst.students.to_place
    return {
        "full": full_placement_bound(inst, reach, allowed, roles, mask)[0].value,
        "full_3": full_placement_bound(inst, reach, allowed, roles, mask,
                                       three_layer=True)[0].value,
        "three_layer": three_layer_bound(inst, reach, allowed, mask)[0].value,
    }


def _load(case: dict[str, Any], folder: Path) -> Instance:
    return load_instance(make_scenario(folder, **case))


@st.composite
def tiny(draw: Any) -> dict[str, Any]:
    return tiny_case(draw, pair=None)


@settings(FAST, max_examples=60)
@given(case=tiny())
def test_bound_never_below_exhaustive_optimum(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = _load(case, Path(tmp))
    best_full, _ = brute_force(inst, key=(1,))
    b = _bounds(inst)
    assert b["full"] >= best_full[0], (b, best_full)
    assert b["full_3"] >= best_full[0], (b, best_full)
    assert b["three_layer"] >= best_full[0], (b, best_full)
    assert b["full_3"] <= b["full"]
    assert b["full"] <= int(inst.students.to_place.sum())
    # The priority bound (same functions, priority pupils only).
    best_priority, _ = brute_force(inst, key=(0,))
    prio = inst.students.to_place & inst.students.priority
    bp = _bounds(inst, prio)
    assert min(bp.values()) >= best_priority[0], (bp, best_priority)


def test_bound_is_tight_on_simple_cases(tmp_path: Path) -> None:
    """Three pupils, one two-week offer with 2 seats: the bound is 2, not 3."""
    students = [{"student_id": f"S{i}", **near(0.001 * i)} for i in range(3)]
    offers = [{"offer_id": "O", "capacity": 2, **near(0.01)}]
    inst = load_instance(make_scenario(tmp_path, students=students, offers=offers))
    assert _bounds(inst) == {"full": 2, "full_3": 2, "three_layer": 2}


@pytest.mark.parametrize(("min_group", "expected"), [(2, 2), (3, 0)])
def test_pair_that_cannot_reach_its_minimum_group_adds_nothing(
        tmp_path: Path, min_group: int, expected: int) -> None:
    """A pair of one-seat offers hosts at most two pupils (one per direction): with a minimum
    group of 3 it never opens, and no bound counts its seats."""
    students = [{"student_id": f"S{i}", **near(0.001 * i)} for i in range(3)]
    offers = [{"offer_id": o, "capacity": 1, "pair_id": "M", "min_group": min_group,
               **near(0.01)} for o in ("A", "B")]
    inst = load_instance(make_scenario(tmp_path, students=students, offers=offers))
    assert _bounds(inst)["full"] == expected
    reach = reachable(inst)
    closed = bound_module.closed_pair_offers(inst, reach, allowed_pairs(inst, reach))
    assert closed.tolist() == [expected == 0] * 2


def networkx_three_layer(inst: Instance, mask: np.ndarray) -> int:
    """The three-layer network built from the spec's rules alone, solved by networkx."""
    of = inst.offers
    usable = independent_usable(inst)
    open_w = np.stack([(of.capacity > 0) & (of.period != 2),
                       (of.capacity > 0) & (of.period != 1)], axis=1)
    fixed = inst.fixed
    g = nx.DiGraph()
    for o in range(of.n):
        g.add_edge("s", ("w1", o), capacity=int(of.capacity[o] * open_w[o, 0]))
        g.add_edge(("w2", o), "t", capacity=int(of.capacity[o] * open_w[o, 1]))
    for s in np.flatnonzero(mask):
        g.add_edge(("in", s), ("out", s), capacity=1)
        for o in range(of.n):
            if (fixed[s, 0] == o) or (fixed[s, 0] < 0 and usable[s, o] and open_w[o, 0]):
                g.add_edge(("w1", o), ("in", s), capacity=1)
            if (fixed[s, 1] == o) or (fixed[s, 1] < 0 and usable[s, o] and open_w[o, 1]):
                g.add_edge(("out", s), ("w2", o), capacity=1)
    g.add_nodes_from(["s", "t"])
    return int(nx.maximum_flow_value(g, "s", "t"))


@st.composite
def small(draw: Any) -> dict[str, Any]:
    return random_case(draw, n_students=(5, 40), n_offers=(2, 15))


@settings(FAST, max_examples=20)
@given(case=small())
def test_three_layer_bound_equals_networkx_max_flow(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = _load(case, Path(tmp))
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    for mask in (inst.students.to_place, inst.students.to_place & inst.students.priority):
        got = three_layer_bound(inst, reach, allowed, mask)[0].value
        assert got == networkx_three_layer(inst, mask)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Instance]:
    """The generator's scenario at scale 0.01, with both values of the split rule."""
    folder = tmp_path_factory.mktemp("generated")
    generate_scenario(folder, scale=0.01, seed=3)
    text = (folder / "scenario.toml").read_text(encoding="utf-8")
    out = {False: load_instance(folder / "scenario.toml")}
    assert "split_two_week_offers = false" in text
    (folder / "split.toml").write_text(
        text.replace("split_two_week_offers = false", "split_two_week_offers = true"),
        encoding="utf-8")
    out[True] = load_instance(folder / "split.toml")
    return out


@pytest.mark.parametrize("split", [False, True])
def test_certified_pruned_flow_equals_unpruned(generated: dict[bool, Instance], split: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inst = generated[split]
    assert inst.scenario.rules.split_two_week_offers is split
    masks = {"all": inst.students.to_place,
             "priority": inst.students.to_place & inst.students.priority}
    values: dict[int, dict[str, dict[str, int]]] = {}
    rounds: dict[int, int] = {}
    for arcs in (1, 10**6):
        monkeypatch.setattr(bound_module, "INITIAL_ARCS_PER_PUPIL", arcs)
        values[arcs] = {name: _bounds(inst, m) for name, m in masks.items()}
        reach = reachable(inst)
        rounds[arcs] = three_layer_bound(inst, reach, allowed_pairs(inst, reach),
                                         masks["all"])[0].rounds
    assert values[1] == values[10**6]
    # The pruned run really was pruned (it needed extra rounds to certify its cut).
    assert rounds[10**6] == 1
    assert rounds[1] > 1


def test_three_layer_equals_networkx_on_generated(generated: dict[bool, Instance]) -> None:
    inst = generated[False]
    reach = reachable(inst)
    got = three_layer_bound(inst, reach, allowed_pairs(inst, reach), inst.students.to_place)
    assert got[0].value == networkx_three_layer(inst, inst.students.to_place)


def _capped_bounds(inst: Instance, k: int, mask: np.ndarray | None = None) -> dict[str, int]:
    reach = nearest_reach(inst, k)
    assert reach.any_capped
    allowed = allowed_pairs(inst, reach)
    roles = offer_roles(inst)
    if mask is None:
        mask = inst.students.to_place
    return {
        "full": full_placement_bound(inst, reach, allowed, roles, mask)[0].value,
        "full_3": full_placement_bound(inst, reach, allowed, roles, mask,
                                       three_layer=True)[0].value,
        "three_layer": three_layer_bound(inst, reach, allowed, mask)[0].value,
    }


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("k", [1, 5])
def test_bounds_on_a_capped_reach_equal_those_on_every_pair(
        generated: dict[bool, Instance], split: bool, k: int) -> None:
    """Each pupil's k nearest offers only: the cuts checked against the pairs left out give
    the values of the full reach. With a single offer per row, a capped pupil may enter the
    shared-pupil flow without a single or pair option in its row (a relaxation: never lower,
    here one above); from a few offers per row on, the very values."""
    inst = generated[split]
    masks = {"all": inst.students.to_place,
             "priority": inst.students.to_place & inst.students.priority}
    for mask in masks.values():
        capped, full = _capped_bounds(inst, k, mask), _bounds(inst, mask)
        assert capped["three_layer"] == full["three_layer"]
        if k == 1:
            assert all(capped[key] >= full[key] for key in full), (capped, full)
            assert all(capped[key] <= full[key] + 1 for key in full), (capped, full)
        else:
            assert capped == full


def test_pairs_beyond_capped_rows_are_checked_in_a_logarithmic_number_of_rounds(
        generated: dict[bool, Instance], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cut check beyond capped rows takes twice as many pairs per pupil as the check
    before it in the same flow (up to a ceiling), and the second flow of the shared-pupil
    bound starts from the pairs the first found: checks stay logarithmic in the row lengths
    left out."""
    inst = generated[False]
    asked: list[int] = []
    crossing = bound_module._Beyond.crossing

    def spy(self: Any, families: Any, side: Any, added: Any, per_pupil: int = 32) -> Any:
        asked.append(per_pupil)
        return crossing(self, families, side, added, per_pupil)

    monkeypatch.setattr(bound_module._Beyond, "crossing", spy)
    reach = nearest_reach(inst, 1)
    got = full_placement_bound(inst, reach, allowed_pairs(inst, reach), offer_roles(inst))[0]
    flows = [[]]  # per_pupil of each check, split where a new flow starts over at 32
    for per in asked:
        if per == bound_module.ARCS_BEYOND_PER_ROUND and flows[-1]:
            flows.append([])
        flows[-1].append(per)
    assert len(flows) == 2, asked
    for checks in flows:
        first = bound_module.ARCS_BEYOND_PER_ROUND
        assert checks == [min(first * bound_module.ARCS_GROWTH ** i,
                              bound_module.ARCS_BEYOND_MAX_PER_ROUND)
                          for i in range(len(checks))]
        assert len(checks) <= 2 + int(np.ceil(np.log2(max(inst.offers.n / first, 1))))
    # The second flow found less than the first: it started from the first's pairs.
    assert len(flows[1]) <= len(flows[0]), flows
    # One offer per row: a capped pupil may enter without a single or pair option (see
    # above), a relaxation of one pupil at most here.
    assert _bounds(inst)["full"] <= got.value <= _bounds(inst)["full"] + 1


@settings(FAST, max_examples=40)
@given(case=tiny())
def test_bound_on_a_capped_reach_never_below_exhaustive_optimum(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inst = _load(case, Path(tmp))
    if not nearest_reach(inst, 1).any_capped:
        return
    best_full, _ = brute_force(inst, key=(1,))
    b = _capped_bounds(inst, 1)
    assert min(b.values()) >= best_full[0], (b, best_full)


@pytest.mark.parametrize("share", [0.02, 0.3, 1.0])
def test_usable_roles_reads_rows_until_every_role_is_found(generated: dict[bool, Instance],
                                                           share: float) -> None:
    """The roles found per pupil (a row read until all three are found) are those of every
    pair of the row, whatever the share of offers having each role."""
    inst = generated[True]
    reach = reachable(inst)
    allowed = allowed_pairs(inst, reach)
    rng = np.random.default_rng(int(share * 100))
    ok = [rng.random(inst.offers.n) < share for _ in range(3)]
    single = np.zeros(inst.students.n, dtype=bool)
    stay = np.zeros((inst.students.n, 2), dtype=bool)
    bound_module._usable_roles(reach.indptr, reach.offer, allowed, *ok, single, stay)
    student = reach.student_of_pair()
    expected = []
    for role in ok:
        found = np.zeros(inst.students.n, dtype=bool)
        found[student[allowed & role[reach.offer]]] = True
        expected.append(found)
    assert (single == expected[0]).all()
    assert (stay == np.stack(expected[1:], axis=1)).all()
    assert single.any()


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                   st.integers(0, 5)), min_size=1, max_size=40))))
def test_max_flow_cut_gives_the_max_flow_and_a_cut_of_that_capacity(
        case: tuple[int, list[tuple[int, int, int]]]) -> None:
    """The shared max-flow step (int32 nodes for OR-Tools, the solver freed on return): its
    value is networkx's, and the source side it returns is a cut of exactly that capacity."""
    n, arcs = case
    arcs = [(t, h, c) for t, h, c in arcs if t != h]
    tails = np.array([a[0] for a in arcs], dtype=np.int64)
    heads = np.array([a[1] for a in arcs], dtype=np.int64)
    caps = np.array([a[2] for a in arcs], dtype=np.int64)
    value, side = bound_module.max_flow_cut(tails, heads, caps, n)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for t, h, c in arcs:
        old = graph.get_edge_data(t, h, {"capacity": 0})["capacity"]
        graph.add_edge(t, h, capacity=old + c)
    assert value == nx.maximum_flow_value(graph, 0, 1)
    assert side[0] and not side[1]
    crossing = side[tails] & ~side[heads] if len(arcs) else np.zeros(0, dtype=bool)
    assert int(caps[crossing].sum()) == value


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(5, 9), st.integers(0, 4)), max_size=30),
       st.lists(st.tuples(st.integers(5, 9), st.integers(0, 4)), max_size=30),
       st.booleans())
def test_not_loaded_is_set_membership(loaded: list[tuple[int, int]],
                                      asked: list[tuple[int, int]], into_pupil: bool) -> None:
    """Loaded arcs in either direction (offer nodes 0-4, pupil nodes 5-9), asked by pupil."""
    loaded = sorted(set(loaded))
    pupil = np.array([p for p, _ in loaded], dtype=np.int32)
    offer = np.array([o for _, o in loaded], dtype=np.int32)
    tails, heads = (offer, pupil) if into_pupil else (pupil, offer)
    csr = bound_module._loaded_by_pupil(tails, heads, 10)
    out = np.empty(len(asked), dtype=bool)
    bound_module._not_loaded(np.array([p for p, _ in asked], dtype=np.int64),
                             np.array([o for _, o in asked], dtype=np.int64), csr.indptr,
                             csr.offer, out)
    assert out.tolist() == [pair not in set(loaded) for pair in asked]
