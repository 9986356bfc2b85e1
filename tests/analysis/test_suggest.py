"""`affectation suggest`: the ranking, and the move counts against a brute force."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from conftest import check_week, independent_usable, make_scenario, near, solve_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.analysis.suggest import suggest
from affectation.cli import main
from affectation.domain.instance import Instance
from affectation.engine.chains import BOTH, WEEK1, WEEK2
from affectation.travel.loading import load_instance
from affectation.travel.reach import pupil_travel, reachable


def _suggest(inst: Instance, allocation: np.ndarray, s: int) -> list[Any]:
    travel = pupil_travel(inst)
    return suggest(inst, allocation, reachable(inst, travel), travel, s)


def _brute_moves(inst: Instance, allocation: np.ndarray, s: int, offer: int, layer: str,
                 usable: np.ndarray) -> int | None:
    """Fewest re-assigned pupils of the layer (singles, or one week's stays) so that `s` gets
    `offer` in the layer's week(s), everyone else unchanged: every subset, every re-assignment."""
    of, fixed = inst.offers, inst.fixed
    cap = of.capacity[:, None] * np.stack([(of.capacity > 0) & (of.period != 2),
                                           (of.capacity > 0) & (of.period != 1)], axis=1)
    weeks = (0, 1) if layer == BOTH else ((0,) if layer == WEEK1 else (1,))
    base = allocation.copy()
    base[s, fixed[s] < 0] = -1
    for w in weeks:
        base[s, w] = offer
    if layer == BOTH:
        kind_ok = of.period == 0
        movable = [p for p in range(inst.students.n) if p != s and (fixed[p] < 0).all()
                   and allocation[p, 0] >= 0 and allocation[p, 0] == allocation[p, 1]]
    else:
        w = weeks[0]
        kind_ok = of.period == w + 1
        movable = [p for p in range(inst.students.n) if p != s and fixed[p, w] < 0
                   and allocation[p, w] >= 0 and allocation[p, w] != allocation[p, 1 - w]
                   and of.period[allocation[p, w]] == w + 1]

    def fits(trial: np.ndarray) -> bool:
        for w in (0, 1):
            used = np.bincount(trial[trial[:, w] >= 0, w], minlength=of.n)
            if (used > cap[:, w]).any():
                return False
        return True

    if fits(base):
        return 0
    for k in range(1, len(movable) + 1):
        for group in itertools.combinations(movable, k):
            choices = [[o for o in range(of.n) if kind_ok[o] and usable[p, o]
                        and o != allocation[p, weeks[0]]] for p in group]
            for pick in itertools.product(*choices):
                trial = base.copy()
                for p, o in zip(group, pick, strict=True):
                    for w in weeks:
                        trial[p, w] = o
                if fits(trial):
                    return k
    return None


@st.composite
def _cases(draw: Any) -> dict[str, Any]:
    coord = st.floats(-0.03, 0.03, allow_nan=False).map(lambda x: round(x, 4))
    n_s, n_o = draw(st.integers(3, 6)), draw(st.integers(2, 5))
    students = [{"student_id": f"S{i}", **near(draw(coord), draw(coord)),
                 "priority": draw(st.booleans())} for i in range(n_s)]
    offers = [{"offer_id": f"O{j}", **near(draw(coord), draw(coord)),
               "capacity": draw(st.integers(1, 2)), "period": draw(st.sampled_from([0, 0, 1, 2])),
               "reserved": draw(st.integers(0, 4)) == 0} for j in range(n_o)]
    choice = [draw(st.integers(0, 100)) for _ in range(n_s)]
    return {"students": students, "offers": offers, "choice": choice}


def _random_allocation(inst: Instance, usable: np.ndarray, choice: list[int]) -> np.ndarray:
    """A valid allocation of singles and splits, each pupil taking the option `choice` picks."""
    of = inst.offers
    left = np.stack([of.capacity * (of.period != 2), of.capacity * (of.period != 1)], axis=1)
    allocation = np.full((inst.students.n, 2), -1, dtype=np.int64)
    for p in range(inst.students.n):
        options = [(o, o) for o in range(of.n) if of.period[o] == 0 and usable[p, o]]
        ones = [[o for o in range(of.n) if of.period[o] == w + 1 and usable[p, o]]
                for w in (0, 1)]
        options += [(a, b) for a in ones[0] for b in ones[1]]
        options = [(a, b) for a, b in options if left[a, 0] > 0 and left[b, 1] > 0]
        if options and choice[p] % 4:
            a, b = options[choice[p] % len(options)]
            allocation[p] = (a, b)
            left[a, 0] -= 1
            left[b, 1] -= 1
    return allocation


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_cases())
def test_move_counts_match_brute_force(tmp_path_factory: Any, case: dict[str, Any]) -> None:
    path = make_scenario(tmp_path_factory.mktemp("s"), case["students"], case["offers"])
    inst = load_instance(path)
    usable = independent_usable(inst)
    allocation = _random_allocation(inst, usable, case["choice"])
    assert check_week(inst, allocation) == []
    for s in range(inst.students.n):
        found = _suggest(inst, allocation, s)
        listed = {(x.offer, x.weeks) for x in found}
        for o in range(inst.offers.n):
            kind = {0: BOTH, 1: WEEK1, 2: WEEK2}[int(inst.offers.period[o])]
            assert ((o, kind) in listed) == bool(usable[s, o]), (s, o)
        for x in found:
            assert x.moves == _brute_moves(inst, allocation, s, x.offer, x.weeks, usable), (s, x)
            # The chain itself is valid: applying it gives an allocation the checker accepts.
            if x.moves is not None:
                trial = allocation.copy()
                trial[s, inst.fixed[s] < 0] = -1
                weeks = (0, 1) if x.weeks == BOTH else ((0,) if x.weeks == WEEK1 else (1,))
                for w in weeks:
                    trial[s, w] = x.offer
                for p, o in x.moved:
                    for w in weeks:
                        trial[p, w] = o
                if x.weeks == BOTH:
                    assert check_week(inst, trial) == []
        keys = [(x.moves is None, x.moves or 0, x.sector_rank or 99, x.minutes) for x in found]
        assert keys == sorted(keys)


def _chain_case(tmp_path: Path) -> Path:
    # One seat each at A (nearest), B, C. S0 holds A, S1 holds B; C is free but only S1
    # reaches it; S0 reaches A and B. The target T wants A: S0 -> B, S1 -> C (2 moves).
    students = [{"student_id": "T", **near(0.0, -0.02), "sectors": ["s3", "s7"]},
                {"student_id": "S0", **near(0.0, -0.025)},
                {"student_id": "S1", **near(0.0, 0.04)}]
    offers = [{"offer_id": "A", "capacity": 1, "sector": "s7", **near(0.0, -0.02)},
              {"offer_id": "B", "capacity": 1, "sector": "s3", **near(0.0, 0.02)},
              {"offer_id": "C", "capacity": 1, "sector": "s3", **near(0.0, 0.08)}]
    return make_scenario(tmp_path, students, offers)


def test_chain_of_two_moves_and_ranking(tmp_path: Path) -> None:
    inst = load_instance(_chain_case(tmp_path))
    allocation = np.array([[-1, -1], [0, 0], [1, 1]])
    found = _suggest(inst, allocation, 0)
    ids = inst.offers.ids
    summary = [(ids[x.offer], x.moves, x.sector_rank) for x in found]
    # B needs one move (S1 -> C) and is the first sector choice; A needs two.
    assert summary == [("B", 1, 1), ("A", 2, 2)]
    assert [(inst.students.ids[p], ids[o]) for p, o in found[1].moved] == [("S0", "B"),
                                                                          ("S1", "C")]


def test_cli_table_and_csv(tmp_path: Path) -> None:
    scenario = _chain_case(tmp_path)
    out = solve_cli(scenario)
    runner = CliRunner()
    text = runner.invoke(main, ["suggest", str(scenario), str(out.out), "T"])
    assert text.exit_code == 0, text.output
    assert "offre" in text.output and "déplacer" in text.output
    csv_out = runner.invoke(main, ["suggest", str(scenario), str(out.out), "T", "--csv",
                                   "--top", "1"])
    assert csv_out.exit_code == 0
    lines = csv_out.output.splitlines()
    assert lines[0].startswith("rank,offer_id,partner_offer_id,weeks,minutes")
    assert len(lines) == 2
    unknown = runner.invoke(main, ["suggest", str(scenario), str(out.out), "NOBODY"])
    assert unknown.exit_code == 2


def test_signed_pupil_gets_no_suggestion(tmp_path: Path) -> None:
    students = [{"student_id": "T"}]
    offers = [{"offer_id": "A", "capacity": 1}]
    inst = load_instance(make_scenario(tmp_path, students, offers,
                                       conventions=[{"student_id": "T", "offer_id": "A"}]))
    assert _suggest(inst, inst.fixed.copy(), 0) == []


def test_pair_needs_room_and_min_group(tmp_path: Path) -> None:
    students = [{"student_id": "T"}, {"student_id": "U"}]
    offers = [{"offer_id": "P1", "capacity": 2, "period": 1, "pair_id": "K", "min_group": 2},
              {"offer_id": "P2", "capacity": 2, "period": 2, "pair_id": "K", "min_group": 2}]
    inst = load_instance(make_scenario(tmp_path, students, offers))
    empty = np.full((2, 2), -1)
    found = _suggest(inst, empty, 0)
    assert [(x.weeks, x.moves) for x in found] == [("pair", None)]
    joined = np.array([[-1, -1], [0, 1]])
    assert [(x.weeks, x.moves) for x in _suggest(inst, joined, 0)] == [("pair", 0)]


def test_exclusions_hold_for_the_pupil_and_the_movers(tmp_path: Path) -> None:
    # As `_chain_case`, with T excluded from B and S1 from C: B is not offered, and A's chain
    # (S0 -> B, S1 -> C) is no longer possible.
    base = _chain_case(tmp_path)
    scenario = make_scenario(
        tmp_path, *_rows_of(base), folder="excl",
        exclusions=[{"student_id": "T", "offer_id": "B"}, {"student_id": "S1", "offer_id": "C"}])
    inst = load_instance(scenario)
    allocation = np.array([[-1, -1], [0, 0], [1, 1]])
    found = _suggest(inst, allocation, 0)
    assert [(inst.offers.ids[x.offer], x.moves) for x in found] == [("A", None)]


def _rows_of(scenario: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    import csv

    out = []
    for name in ("students.csv", "offers.csv"):
        with open(scenario.parent / name, encoding="utf-8", newline="") as handle:
            out.append([{k: v for k, v in r.items() if v != "" and k != "school_id"}
                        for r in csv.DictReader(handle)])
    return out[0], out[1]


def _reference_chains(inst: Instance, allocation: np.ndarray, layer: str) -> tuple[np.ndarray, ...]:
    """The breadth-first search of `move_chains` written plainly: level by level, each newly
    labelled offer takes the first option (in row order of its holders) to the frontier."""
    from affectation.engine.candidates import offer_roles, usable
    from affectation.engine.chains import MAX_MOVES, layer_state

    state = layer_state(inst, offer_roles(inst), allocation, layer)
    reach = reachable(inst)
    n_o = inst.offers.n
    dist = np.full(n_o, -1, dtype=np.int64)
    holder = np.full(n_o, -1, dtype=np.int64)
    nxt = np.full(n_o, -1, dtype=np.int64)
    dist[state.free] = 0
    options = [(int(p), int(o)) for p in np.flatnonzero(state.movable)
               for o in reach.row(int(p))[0] if state.role[o]]
    frontier = set(np.flatnonzero(state.free).tolist())
    level = 0
    while frontier and level < MAX_MOVES:
        labelled: dict[int, tuple[int, int]] = {}
        for p, o in options:
            ho = int(state.holds[p])
            if (o in frontier and dist[ho] < 0 and o != state.other[p]
                    and usable(inst, p, o) and ho not in labelled):
                labelled[ho] = (p, o)
        if not labelled:
            break
        level += 1
        for ho, (p, o) in labelled.items():
            dist[ho], holder[ho], nxt[ho] = level, p, o
        frontier = set(labelled)
    return dist, holder, nxt


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=_cases())
def test_move_chains_match_the_plain_search(tmp_path_factory: Any, case: dict[str, Any]) -> None:
    """Same labels, holders and moves as the plain search, with and without reused options."""
    from affectation.engine.candidates import offer_roles
    from affectation.engine.chains import layer_options, layer_state, move_chains

    path = make_scenario(tmp_path_factory.mktemp("s"), case["students"], case["offers"])
    inst = load_instance(path)
    allocation = _random_allocation(inst, independent_usable(inst), case["choice"])
    reach, roles = reachable(inst), offer_roles(inst)
    for layer in (BOTH, WEEK1, WEEK2):
        expected = _reference_chains(inst, allocation, layer)
        state = layer_state(inst, roles, allocation, layer)
        for options in (None, layer_options(reach, state, state.movable)):
            got = move_chains(inst, reach, roles, allocation, layer, options=options)
            for a, b in zip((got.dist, got.holder, got.next_offer), expected, strict=True):
                assert np.array_equal(a, b), layer
