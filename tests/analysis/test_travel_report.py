"""`affectation travel`: reachable offers per pupil under each model, pupils reaching
nothing per commune and EPCI."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from gtfs_scenarios import EXPECTED_P1, gtfs_scenario

from affectation.cli import main


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_travel_command_writes_both_tables(tmp_path: Path) -> None:
    students = [{"student_id": "p1", "lat": 49.18, "lon": -0.40, "mode": "public"},
                {"student_id": "lost", "lat": 49.5, "lon": -0.90, "mode": "public"},
                {"student_id": "p2", "lat": 49.18, "lon": -0.40, "mode": "car"}]
    path = gtfs_scenario(tmp_path, students=students)
    out = tmp_path / "travel"
    result = CliRunner().invoke(main, ["travel", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pupils = {r["student_id"]: r for r in _rows(out / "reach_by_pupil.csv")}
    assert list(pupils["p1"]) == ["student_id", "school_id", "mode", "commune", "epci",
                                  "offers_crowfly", "offers_gtfs"]
    assert int(pupils["p1"]["offers_gtfs"]) == sum(v is not None for v in EXPECTED_P1.values())
    assert pupils["lost"]["offers_gtfs"] == "0"
    assert pupils["p2"]["offers_gtfs"] == pupils["p2"]["offers_crowfly"]  # car: crowfly
    territories = _rows(out / "no_reach_by_territory.csv")
    assert {r["territory"] for r in territories} == {"commune", "epci"}
    for kind in ("commune", "epci"):
        rows = [r for r in territories if r["territory"] == kind]
        assert sum(int(r["students"]) for r in rows) == 3
        assert sum(int(r["no_offer_gtfs"]) for r in rows) == 1
    again = tmp_path / "again"
    CliRunner().invoke(main, ["travel", str(path), "--out", str(again)])
    for name in ("reach_by_pupil.csv", "no_reach_by_territory.csv"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


def test_travel_command_bad_input_exits_2(tmp_path: Path) -> None:
    path = gtfs_scenario(tmp_path, feeds=[str(tmp_path / "absent.zip")])
    out = tmp_path / "travel"
    result = CliRunner().invoke(main, ["travel", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "absent.zip" in result.output
    assert not out.exists()
