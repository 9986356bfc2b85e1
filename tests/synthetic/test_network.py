"""The synthetic Normandy network (`generate --gtfs`): a valid, deterministic GTFS feed that
the timetable model uses for the generated scenario's public-transport pupils."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from affectation.cli import main
from affectation.domain.params import FeedParams
from affectation.geodata import load_communes
from affectation.io.gtfs import read_network, weekdays
from affectation.synthetic.network import NETWORK_FILE, write_network
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes, reachable


def test_network_is_deterministic_and_valid(tmp_path: Path) -> None:
    write_network(tmp_path / "a.zip")
    write_network(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    net = read_network([FeedParams(tmp_path / "a.zip")])
    communes = load_communes()
    towns = communes[communes["population"] >= 8000]["insee"]
    assert {f"0:C{code}" for code in towns} <= set(net.station_id)
    monday = weekdays("2026-W25")[0]
    assert len(net.active_trips(monday)) == net.n_trips
    assert not len(net.active_trips(weekdays("2026-W25")[0].replace(day=20)))  # Saturday
    # Rural coaches reach the hub before 09:00 and leave it after 16:30.
    arrivals = net.st_arrival[np.r_[net.st_trip[1:] != net.st_trip[:-1], True]]
    assert ((arrivals > 7 * 3600) & (arrivals <= 9 * 3600)).any()


def test_generate_with_gtfs(tmp_path: Path) -> None:
    out = tmp_path / "scenario"
    result = CliRunner().invoke(main, ["generate", "--out", str(out), "--scale", "0.01",
                                       "--gtfs"])
    assert result.exit_code == 0, result.output
    assert (out / NETWORK_FILE).is_file()
    instance = load_instance(out / "scenario.toml")
    travel = instance.scenario.travel
    assert travel.model == "gtfs" and travel.gtfs is not None
    assert travel.gtfs.modes == ("public",)
    reach = reachable(instance)
    public = travel.mode_names.index("public")
    pupils = np.flatnonzero((instance.students.mode == public) & instance.students.to_place)
    counts = np.diff(reach.indptr)[pupils]
    assert (counts > 0).mean() > 0.3  # many public-transport pupils reach something
    s = int(pupils[np.argmax(counts)])
    offers, deci = reach.row(s)
    minutes = exact_minutes(instance, np.full(len(offers), s), offers.astype(np.int64))
    assert np.all(minutes <= 45.0)
    assert np.array_equal(np.floor(minutes * 10).astype(np.int64), deci.astype(np.int64))
