"""Where to recruit: the gains of extra seats at an EPCI's main commune, against brute-force
optima of the whole model on tiny instances, a hand-built chain of moves, and the command."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from conftest import brute_force, make_scenario, near, random_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affectation.analysis.mobilisation import COLUMNS, mobilisation_table, sites, with_site
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
    assert (row["pupils_within_reach"], row["waiting_within_reach"]) == (1, 0)
    # Every site gains at most the one pupil waiting.
    assert table["gain_10"].max() == 1


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
    assert rows[0]["confirmed_gain_10"] == "3" and rows[1]["confirmed_gain_10"] == ""
    assert (out / "assignments.csv").read_bytes() == before
    assert (out / "resultats.xlsx").exists()
    bad = runner.invoke(main, ["mobilise", str(path), str(tmp_path / "none")])
    assert bad.exit_code == 2 and "assignments.csv" in bad.output
