"""Sweeps: the grid's table shape, byte-identical reruns, plots, and bad keys refused (exit 2)
before anything runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_scenario, near

from affectation.cli import main
from affectation.errors import InputError
from affectation.pipeline.sweep import parse_vary, plan


def _scenario(tmp_path: Path) -> Path:
    # Offer B is 0.04 degree (4.4 km, 21.7 min by public transport) away: within 30 minutes,
    # not within 15. Offer A is at the pupils' homes.
    return make_scenario(tmp_path, students=[
        {"student_id": "S1", "priority": True}, {"student_id": "S2"}, {"student_id": "S3"},
    ], offers=[
        {"offer_id": "A", "capacity": 1},
        {"offer_id": "B", **near(0.04, 0.0), "capacity": 2},
    ])


def _sweep(tmp_path: Path, path: Path, out: str, jobs: str) -> Path:
    result = CliRunner().invoke(main, [
        "sweep", str(path), "--vary", "travel.modes.public.max_minutes=15,30",
        "--vary", "rules.split_two_week_offers=false,true", "--out", str(tmp_path / out),
        "--jobs", jobs])
    assert result.exit_code == 0, result.output
    return tmp_path / out


def test_sweep_table_shape_determinism_and_plots(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    out = _sweep(tmp_path, path, "a", "2")
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text(encoding="utf-8"))))
    header = list(rows[0])
    assert header[:3] == ["run", "travel.modes.public.max_minutes", "rules.split_two_week_offers"]
    runs = sorted({r["run"] for r in rows})
    assert runs == ["run-001", "run-002", "run-003", "run-004"]
    # Per run: region, département 14, one EPCI, one school, priority and other pupils.
    types = [r["territory_type"] for r in rows if r["run"] == "run-001"]
    assert types == ["region", "department", "epci", "school", "priority", "priority"]
    region = {(r["travel.modes.public.max_minutes"], r["rules.split_two_week_offers"]):
              r for r in rows if r["territory_type"] == "region"}
    # 15 minutes: only A (one seat) is reachable; 30 minutes: A and B place all three.
    assert region["15", "false"]["placed_full"] == "1"
    assert region["30", "false"]["placed_full"] == "3"
    assert region["30", "true"]["rate_full"] == "1.0"
    prio = [r for r in rows if r["territory"] == "prioritaire" and r["run"] == "run-001"][0]
    assert prio["placed_full"] == "1" and prio["priority_rate_full"] == "1.0"
    timings = list(csv.DictReader((out / "sweep_timings.csv").open(encoding="utf-8")))
    assert [t["run"] for t in timings] == runs and float(timings[0]["wall_seconds"]) > 0
    for name in ("taux_travel_modes_public_max_minutes_departements.png",
                 "taux_rules_split_two_week_offers_priorite.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "runs" / "run-004" / "assignments.csv").exists()
    again = _sweep(tmp_path, path, "b", "1")
    for name in ("sweep.csv", "taux_travel_modes_public_max_minutes_departements.png"):
        assert (again / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.parametrize("vary", [
    "travel.modes.public.max_minute=30",  # typo in the key
    "travel.modes.publik.max_minutes=30",  # no such mode
    "nosuch.key=1",
    "rules.split_two_week_offers=maybe",  # a string where a boolean is needed
    "travel.modes.public.max_minutes=-5",
    "travel.modes.public.max_minutes",  # no values
])
def test_bad_vary_exits_2_before_anything_runs(tmp_path: Path, vary: str) -> None:
    path = _scenario(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", vary, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Erreur" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_plan_validates_every_point_and_parses_toml_literals(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    vary = parse_vary("travel.modes.public.max_minutes=30, 45.5")
    assert vary.values == (30, 45.5)
    points = plan(path, [vary, parse_vary("output.language=\"en\",fr")])
    assert [p[1].travel.modes["public"].max_minutes for p in points] == [30, 30, 45.5, 45.5]
    assert [p[1].output.language for p in points] == ["en", "fr", "en", "fr"]
    with pytest.raises(InputError):
        plan(path, [parse_vary("solver.seed=1,2"), parse_vary("solver.seed=3")])
