"""Zone-to-zone matrix minutes (matrix.py): commune zones by default, a `zone` column when
given, missing pairs unreachable, bad rows reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CAR, FIXTURES, PUBLIC, crowfly_minutes, make_scenario, solve_cli

from affectation.errors import InputError
from affectation.travel.loading import load_instance
from affectation.travel.matrix import read_matrix
from affectation.travel.reach import exact_minutes, reachable

CAEN = (49.18504, -0.36981)  # centroid of commune 14118
BAYEUX = (49.27776, -0.70524)  # 14047
MATRIX = FIXTURES / "matrix"
MODES = {"public": {**PUBLIC, "max_minutes": 40.0}, "car": CAR}


def matrix_scenario(tmp_path: Path, rows: str, students: list[dict[str, Any]],
                    offers: list[dict[str, Any]], extra: str = "") -> Path:
    path = make_scenario(tmp_path, students, offers, modes=MODES)
    (path.parent / "minutes.csv").write_text("origin,destination,minutes\n" + rows)
    text = path.read_text().replace('model = "crowfly"', 'model = "matrix"')
    path.write_text(text + '\n[travel.matrix]\nfile = "minutes.csv"\nmodes = ["public"]\n'
                    + extra)
    return path


STUDENTS = [{"student_id": "s1", "lat": CAEN[0] + 0.001, "lon": CAEN[1], "mode": "public"},
            {"student_id": "s2", "lat": CAEN[0], "lon": CAEN[1], "mode": "car"}]
OFFERS = [{"offer_id": "bayeux", "lat": BAYEUX[0], "lon": BAYEUX[1], "capacity": 1},
          {"offer_id": "caen", "lat": CAEN[0], "lon": CAEN[1] + 0.01, "capacity": 1},
          {"offer_id": "bayeux2", "lat": BAYEUX[0] + 0.002, "lon": BAYEUX[1], "capacity": 1}]


def test_commune_zones_and_missing_pairs(tmp_path: Path) -> None:
    path = matrix_scenario(tmp_path, "14118,14047,35.5\n14047,14118,50\n", STUDENTS, OFFERS)
    instance = load_instance(path)
    got = exact_minutes(instance, np.zeros(3, dtype=np.int64), np.arange(3))
    # Both Bayeux offers take the Caen -> Bayeux entry; Caen -> Caen is absent: unreachable.
    assert got.tolist() == [35.5, np.inf, 35.5]
    offers, deci = reachable(instance).row(0)
    assert sorted(instance.offers.ids[offers].tolist()) == ["bayeux", "bayeux2"]
    assert set(deci.tolist()) == {355}
    # The car pupil keeps crowfly minutes.
    car = exact_minutes(instance, np.array([1]), np.array([0]))[0]
    assert car == pytest.approx(crowfly_minutes(*CAEN, *BAYEUX, CAR), abs=1e-9)


def test_zone_column_overrides_the_commune(tmp_path: Path) -> None:
    students = [{**STUDENTS[0]}, STUDENTS[1]]
    offers = [{**OFFERS[0]}, OFFERS[1], OFFERS[2]]
    path = matrix_scenario(tmp_path, "home,site,12\n14118,14118,3\n", students, offers)
    # Add a zone column: s1 lives in zone "home", the first offer is in zone "site"; empty
    # cells fall back to the commune.
    st = path.parent / "students.csv"
    lines = st.read_text().splitlines()
    st.write_text("\n".join([lines[0] + ",zone", lines[1] + ",home", lines[2] + ","]) + "\n")
    of = path.parent / "offers.csv"
    lines = of.read_text().splitlines()
    of.write_text("\n".join([lines[0] + ",zone", lines[1] + ",site", lines[2] + ",",
                             lines[3] + ","]) + "\n")
    instance = load_instance(path)
    got = exact_minutes(instance, np.zeros(3, dtype=np.int64), np.arange(3))
    assert got.tolist() == [12.0, np.inf, np.inf]


def test_bad_matrix_rows() -> None:
    with pytest.raises(InputError) as err:
        read_matrix(MATRIX / "bad_matrix.csv")
    found = {(p.line, p.column, p.value) for p in err.value.problems}
    assert any(p.line == 3 and p.column == "destination" for p in err.value.problems)
    assert (4, "minutes", "abc") in found
    assert (5, "minutes", "-3") in found
    assert any(p.line == 6 and "déjà ligne 2" in p.expected for p in err.value.problems)


def test_missing_matrix_file_and_table(tmp_path: Path) -> None:
    path = matrix_scenario(tmp_path, "", STUDENTS, OFFERS)
    (path.parent / "minutes.csv").unlink()
    with pytest.raises(InputError, match="minutes.csv"):
        load_instance(path)  # the matrix is read with the other inputs
    path.write_text(path.read_text().split("[travel.matrix]")[0])
    with pytest.raises(InputError, match=r"travel\.matrix"):
        load_instance(path)


def test_solve_and_check_with_a_matrix(tmp_path: Path) -> None:
    path = matrix_scenario(tmp_path, "14118,14047,35.5\n14118,14118,5\n", STUDENTS, OFFERS)
    outcome = solve_cli(path)
    assert outcome.violations == []
    row = outcome.rows["s1"]
    assert row["week1_offer_id"] in ("bayeux", "caen", "bayeux2")
    assert float(row["week1_minutes"]) in (35.5, 5.0)


def test_matrix_table_rejects_unknown_keys_and_modes(tmp_path: Path) -> None:
    path = matrix_scenario(tmp_path, "14118,14047,35.5\n", STUDENTS, OFFERS)
    path.write_text(path.read_text().replace('modes = ["public"]', 'modes = ["bus"]\nfile_x = 1'))
    with pytest.raises(InputError) as err:
        load_instance(path)
    text = str(err.value)
    assert "travel.matrix.file_x" in text and "travel.matrix.modes" in text


def test_minutes_of_covered_and_uncovered_pupils_in_one_call(tmp_path: Path) -> None:
    """One call mixing pupils the matrix covers and pupils it does not (the geodesic is
    computed for the latter only) gives each pair the minutes of its own model, in order."""
    path = matrix_scenario(tmp_path, "14118,14047,35.5\n", STUDENTS, OFFERS)
    instance = load_instance(path)
    students = np.array([1, 0, 1, 0, 0, 1])
    offers = np.array([0, 0, 1, 1, 2, 2])
    got = exact_minutes(instance, students, offers)
    one_by_one = [exact_minutes(instance, np.array([s]), np.array([o]))[0]
                  for s, o in zip(students, offers, strict=True)]
    assert got.tolist() == one_by_one
    assert got[[1, 3, 4]].tolist() == [35.5, np.inf, 35.5]
    assert got[0] == pytest.approx(crowfly_minutes(*CAEN, *BAYEUX, CAR), abs=1e-9)
