"""Where to recruit: the gain curves of new seats at an EPCI's main commune, against
brute-force optima of the whole model on tiny instances (with 1, 5, 10 seats and up to
saturation), against OR-Tools' maximum flow on a generated instance, hand-built chains and
rankings, the timetable model, and the command."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from conftest import brute_force, make_scenario, near, point_at, random_case, solve_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.graph.python import max_flow

from affectation.analysis.mobilisation import (
    COLUMNS,
    SinglesNetwork,
    Site,
    mobilisation_table,
    reach_of_sites,
    sites,
    with_site,
)
from affectation.cli import main
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable

FAST = settings(deadline=None, database=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CAEN_CU = next(s for s in sites() if s.insee == "14118")  # Caen, its EPCI's largest commune


def _full(allocation: np.ndarray) -> int:
    return int((allocation >= 0).all(axis=1).sum())


@st.composite
def singles_case(draw: Any) -> dict[str, Any]:
    """A tiny scenario where every placement for both weeks is a single (two-week offers, no
    pairs, no conventions): the singles network is then the whole model."""
    case = random_case(draw, n_students=(1, 5), n_offers=(1, 3), pairs=False,
                       conventions=False)
    for offer in case["offers"]:
        offer["period"] = 0
    case["rules"] = {"split_two_week_offers": False}
    return case


@FAST
@given(case=singles_case(), start=st.sampled_from(["empty", "optimal"]))
def test_gains_equal_brute_force_optima(tmp_path_factory: Any, case: dict[str, Any],
                                        start: str) -> None:
    path = make_scenario(tmp_path_factory.mktemp("m"), **case)
    inst = load_instance(path)
    best, optimal = brute_force(inst, key=(1,))
    allocation = optimal if start == "optimal" else inst.fixed.copy()
    table = mobilisation_table(inst, allocation, reachable(inst))
    row = table[table["epci"] == CAEN_CU.epci].iloc[0]
    for k in (1, 5, 10):
        with_seats, _ = brute_force(with_site(inst, CAEN_CU, k), key=(1,))
        assert row[f"gain_{k}"] == with_seats[0] - best[0], k
    # Up to saturation: as many seats as pupils is as good as unbounded seats.
    unbounded, _ = brute_force(with_site(inst, CAEN_CU, inst.students.n), key=(1,))
    assert row["gain_total"] == row["saturation_seats"] == unbounded[0] - best[0]
    assert 0 <= row["direct_gain"] <= row["gain_total"]
    assert all(row[f"gain_{k}"] == min(k, row["gain_total"]) for k in (1, 5, 10))


def test_a_chain_of_moves_is_found(tmp_path: Path) -> None:
    # FAR cannot reach the new site; NEAR holds the only seat FAR can reach, and can reach the
    # site: one seat at the site places both (NEAR moves there, FAR takes its seat).
    site = near(CAEN_CU.lat - 49.18, CAEN_CU.lon + 0.37)
    far = {"lat": CAEN_CU.lat + 0.09, "lon": CAEN_CU.lon}
    path = make_scenario(tmp_path, students=[
        {"student_id": "NEAR", "lat": (site["lat"] + far["lat"]) / 2, "lon": site["lon"]},
        {"student_id": "FAR", **far},
    ], offers=[{"offer_id": "O", "lat": (site["lat"] + far["lat"]) / 2 + 0.02,
                "lon": site["lon"], "capacity": 1}])
    inst = load_instance(path)
    table = mobilisation_table(inst, np.array([[0, 0], [-1, -1]]), reachable(inst))
    assert list(table.columns) == list(COLUMNS)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert list(table["gain_10"]) == sorted(table["gain_10"], reverse=True)
    row = table[table["epci"] == CAEN_CU.epci].iloc[0]
    assert (row["gain_1"], row["gain_5"], row["gain_10"]) == (1, 1, 1)
    assert (row["gain_total"], row["saturation_seats"], row["direct_gain"]) == (1, 1, 0)
    assert (row["pupils_within_reach"], row["waiting_within_reach"]) == (1, 0)
    # Every site gains at most the one pupil waiting.
    assert table["gain_total"].max() == 1


def _bayeux_site() -> Site:
    return next(s for s in sites() if s.insee == "14047")


def test_sites_rank_by_their_total_gain_up_to_saturation(tmp_path: Path) -> None:
    # Caen: two pupils waiting there (direct), and a chain: P, placed at O 5 km east, may use
    # the site; F, 9 km further east, may only use O. Three seats place all three (F takes
    # P's seat), a fourth places nobody: saturation at 3 seats. Bayeux: two pupils waiting
    # there, placed directly: saturation at 2. Old ranking keys (gain at 1 seat, waiting
    # pupils within reach) would not separate them.
    bayeux = _bayeux_site()
    caen = {"lat": CAEN_CU.lat, "lon": CAEN_CU.lon}
    o = point_at(CAEN_CU.lat, CAEN_CU.lon, 5.5)
    f = point_at(o["lat"], o["lon"], 5.0)
    p = point_at(CAEN_CU.lat, CAEN_CU.lon, 3.0)
    b = {"lat": bayeux.lat, "lon": bayeux.lon}
    path = make_scenario(tmp_path, students=[
        {"student_id": "W1", **caen}, {"student_id": "W2", **caen}, {"student_id": "P", **p},
        {"student_id": "F", **f}, {"student_id": "B1", **b}, {"student_id": "B2", **b},
        {"student_id": "B3", **b}],
        offers=[{"offer_id": "O", **o, "capacity": 1},
                {"offer_id": "OB", **b, "capacity": 1}])
    inst = load_instance(path)
    allocation = np.array([[-1, -1], [-1, -1], [0, 0], [-1, -1], [1, 1], [-1, -1], [-1, -1]])
    table = mobilisation_table(inst, allocation, reachable(inst))
    top = table.head(2).set_index("epci")
    assert list(top.index) == [CAEN_CU.epci, bayeux.epci]
    c, by = top.loc[CAEN_CU.epci], top.loc[bayeux.epci]
    assert (c["gain_total"], c["saturation_seats"], c["direct_gain"]) == (3, 3, 2)
    assert (c["gain_1"], c["gain_5"], c["gain_10"]) == (1, 3, 3)
    assert (by["gain_total"], by["saturation_seats"], by["direct_gain"]) == (2, 2, 2)
    assert c["waiting_within_reach"] == by["waiting_within_reach"] == 2
    assert c["gain_1"] == by["gain_1"] == 1
    assert list(table["rank"][:2]) == [1, 2] and table["gain_total"].iloc[2:].max() == 0
    # The curve at 3 seats and beyond, by the whole model (brute force).
    plain, _ = brute_force(inst, key=(1,))
    for seats, gain in ((2, 2), (3, 3), (4, 3)):
        got, _ = brute_force(with_site(inst, CAEN_CU, seats), key=(1,))
        assert got[0] - plain[0] == gain, seats


def test_total_gains_equal_a_maximum_flow_from_scratch(tmp_path: Path) -> None:
    # A generated instance (about 250 pupils): each site's total gain is the increase of the
    # singles network's maximum flow, recomputed by OR-Tools with the site's arcs added.
    out = tmp_path / "gen"
    assert CliRunner().invoke(main, ["generate", "--out", str(out), "--scale", "0.01",
                                     "--seed", "4"]).exit_code == 0
    inst = load_instance(out / "scenario.toml")
    result = solve_cli(out / "scenario.toml", tmp_path / "res", time_limit=5.0, check=False)
    from affectation.io.results import read_assignments
    allocation = read_assignments(inst, result.out / "assignments.csv").allocation
    reach = reachable(inst)
    network = SinglesNetwork(inst, allocation, reach)
    where, near_sets = reach_of_sites(inst, sites())
    total, direct = network.gains(near_sets)
    assert total.sum() > 0 and (direct <= total).all()
    n_s, n_o = network.n_students, network.n_offers
    pupils = np.flatnonzero(network.movable)

    def singles_flow() -> max_flow.SimpleMaxFlow:
        flow = max_flow.SimpleMaxFlow()
        flow.add_arcs_with_capacity(np.zeros(len(pupils), dtype=np.int64), 2 + pupils,
                                    np.ones(len(pupils), dtype=np.int64))
        flow.add_arcs_with_capacity(2 + network.arc_student, 2 + n_s + network.arc_offer,
                                    np.ones(len(network.arc_student), dtype=np.int64))
        flow.add_arcs_with_capacity(2 + n_s + np.arange(n_o), np.ones(n_o, dtype=np.int64),
                                    network.cap.astype(np.int64))
        return flow

    # The solver's singles are a maximum flow: kept, with the same source side as OR-Tools'.
    flow = singles_flow()
    assert flow.solve(0, 1) == flow.OPTIMAL and flow.optimal_flow() == network.base
    assert network.base == network.current_singles and (network.held == network.current).all()
    side = np.zeros(2 + n_s + n_o, dtype=bool)
    side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
    assert (network.reached == (side[2:2 + n_s] & network.movable)).all()
    for k in np.argsort(-total, kind="stable")[:12].tolist():
        flow = singles_flow()
        users = near_sets[k][network.movable[near_sets[k]]]
        site = 2 + n_s + n_o
        flow.add_arcs_with_capacity(2 + users, np.full(len(users), site),
                                    np.ones(len(users), dtype=np.int64))
        flow.add_arcs_with_capacity(np.array([site]), np.array([1]), np.array([len(users)]))
        assert flow.solve(0, 1) == flow.OPTIMAL
        assert total[k] == flow.optimal_flow() - network.base, where[k].commune


def test_mobilise_command_writes_the_ranking_and_confirms(tmp_path: Path) -> None:
    path = make_scenario(tmp_path, students=[{"student_id": f"S{i}"} for i in range(4)],
                         offers=[{"offer_id": "O", "capacity": 1}])
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["solve", str(path), "--out", str(out)]).exit_code == 0
    before = (out / "assignments.csv").read_bytes()
    result = runner.invoke(main, ["mobilise", str(path), str(out), "--confirm", "1",
                                  "--time-limit", "5", "--xlsx"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "mobilisation.csv").open(encoding="utf-8")))
    assert rows[0]["epci"] == CAEN_CU.epci
    assert (rows[0]["gain_1"], rows[0]["gain_5"], rows[0]["gain_10"]) == ("1", "3", "3")
    assert (rows[0]["gain_total"], rows[0]["saturation_seats"]) == ("3", "3")
    assert rows[0]["confirmed_gain_10"] == "3" and rows[1]["confirmed_gain_10"] == ""
    assert (out / "assignments.csv").read_bytes() == before
    assert (out / "resultats.xlsx").exists()
    bad = runner.invoke(main, ["mobilise", str(path), str(tmp_path / "none")])
    assert bad.exit_code == 2 and "assignments.csv" in bad.output


def test_a_chain_of_twenty_moves_is_found(tmp_path: Path) -> None:
    # Offers O1..O20 every 5 km east of Caen's centroid (the site), one seat each; pupil Qi
    # 2.5 km east of Oi (Q0 2.5 km east of the site) may use Oi and Oi+1 only (crowfly radius
    # 6.7 km). Qi holds Oi+1; Q20 waits. One seat at the site places Q20: Q0 moves to the
    # site, Q1 to O1, ..., Q20 to O20: a chain of 20 moves (more levels than the search
    # starts with).
    n = 20
    offers = [{"offer_id": f"O{i}", **point_at(CAEN_CU.lat, CAEN_CU.lon, 5.0 * i),
               "capacity": 1} for i in range(1, n + 1)]
    students = [{"student_id": f"Q{i}", **point_at(CAEN_CU.lat, CAEN_CU.lon, 5.0 * i + 2.5)}
                for i in range(n + 1)]
    path = make_scenario(tmp_path, students=students, offers=offers)
    inst = load_instance(path)
    allocation = np.array([[i, i] for i in range(n)] + [[-1, -1]])
    table = mobilisation_table(inst, allocation, reachable(inst))
    row = table[table["epci"] == CAEN_CU.epci].iloc[0]
    assert (row["gain_total"], row["saturation_seats"], row["direct_gain"]) == (1, 1, 0)
    assert (row["pupils_within_reach"], row["waiting_within_reach"]) == (1, 0)
