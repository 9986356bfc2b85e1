"""Timetable minutes (transit.py) on hand-built feeds where every answer is known by hand,
their use by reachable/exact_minutes/solve/check, the disk cache, and the real feeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import CAR, crowfly_minutes, shared_file, solve_cli
from gtfs_scenarios import (
    CAR_30,
    EXPECTED_P1,
    LAT,
    OFFERS,
    STATION_LON,
    STUDENTS,
    TINY,
    gtfs_scenario,
)
from pyproj import Geod

from affectation.analysis.check import check_files
from affectation.cli import main
from affectation.domain.instance import Instance
from affectation.errors import InputError
from affectation.io.scenario import load_scenario
from affectation.travel import transit
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes, reachable
from affectation.travel.transit import CACHE_DIR, pairs_within, zone_cells

GEOD = Geod(ellps="WGS84")
TOLERANCE = 0.02  # minutes: homes sit within 0.7 m of their 1 m cell's centre


def minutes_of(instance: Instance, student: int) -> dict[str, float]:
    of = instance.offers
    values = exact_minutes(instance, np.full(of.n, student), np.arange(of.n))
    return dict(zip(of.ids.tolist(), values.tolist(), strict=True))


def assert_expected(got: dict[str, float], expected: dict[str, float | None],
                    limit: float = 60.0, offset: float = 0.0) -> None:
    for offer, value in expected.items():
        if value is None:
            assert got[offer] > limit, offer
        else:
            assert got[offer] == pytest.approx(value + offset, abs=TOLERANCE), offer


def test_hand_built_feed_minutes(tmp_path: Path) -> None:
    """Fastest morning trip (not the latest departure), a missed connection, a service that
    does not run on Wednesday, a last bus at 16:10, a transfer, a parent station with
    frequencies, a one-week offer whose other week loses its service, a direct walk."""
    instance = load_instance(gtfs_scenario(tmp_path))
    assert_expected(minutes_of(instance, 0), EXPECTED_P1)


def test_reachable_uses_the_timetable_and_crowfly_for_other_modes(tmp_path: Path) -> None:
    instance = load_instance(gtfs_scenario(tmp_path))
    reach = reachable(instance)
    offers, deci = reach.row(0)
    ids = instance.offers.ids
    expected = {o for o, v in EXPECTED_P1.items() if v is not None}
    assert {str(ids[o]) for o in offers} == expected
    for o, d in zip(offers, deci, strict=True):
        assert d == int(np.floor(minutes_of(instance, 0)[str(ids[o])] * 10))
    # The car pupil keeps the crowfly model, exactly.
    car_offers, _ = reach.row(1)
    for o in range(instance.offers.n):
        m = crowfly_minutes(LAT, -0.40, instance.offers.lat[o], instance.offers.lon[o], CAR_30)
        assert minutes_of(instance, 1)[str(ids[o])] == pytest.approx(m, abs=1e-9)
        assert (o in car_offers) == (m <= CAR_30["max_minutes"])


def test_max_transfers_and_pupil_limit(tmp_path: Path) -> None:
    direct_only = load_instance(gtfs_scenario(tmp_path, max_transfers=0, folder="a"))
    assert minutes_of(direct_only, 0)["oD"] == np.inf  # D needs a change at T
    assert minutes_of(direct_only, 0)["oB"] == pytest.approx(20.0, abs=TOLERANCE)
    own = [{**STUDENTS[0], "max_minutes": 25}]
    limited = load_instance(gtfs_scenario(tmp_path, students=own, folder="b"))
    offers, _ = reachable(limited).row(0)
    assert sorted(str(limited.offers.ids[o]) for o in offers) == ["oB", "oG", "oNear"]


def test_longer_transfer_time_misses_the_connection(tmp_path: Path) -> None:
    # T->D leaves 5 minutes after the feeder arrives: missed with 6-minute transfers.
    instance = load_instance(gtfs_scenario(tmp_path, min_transfer_minutes=6.0))
    assert minutes_of(instance, 0)["oD"] == np.inf


def test_walking_to_the_stop_counts(tmp_path: Path) -> None:
    """A home 450 m north of A: the walk is added to both trips; 'oNear' is 150 m away."""
    home = {"student_id": "w", "lat": LAT + 0.00405, "lon": -0.40, "mode": "public"}
    # Within a 2-hour window the walk to the 07:05 train would start before 07:00.
    narrow = load_instance(gtfs_scenario(tmp_path, students=[home], folder="narrow"))
    assert minutes_of(narrow, 0)["oB"] > 50.0  # the 08:00 slow train
    instance = load_instance(gtfs_scenario(tmp_path, students=[home], window_minutes=150.0))
    _, _, to_a = GEOD.inv(-0.40, home["lat"], -0.40, LAT)
    _, _, to_near = GEOD.inv(-0.40, home["lat"], -0.40, 49.1827)
    walk = to_a / 75.0  # 4.5 km/h = 75 m per minute
    got = minutes_of(instance, 0)
    assert got["oB"] == pytest.approx(20.0 + walk, abs=TOLERANCE)
    assert got["oNear"] == pytest.approx(to_near / 75.0, abs=TOLERANCE)
    # Too far to walk to A at all: nothing but the near offer.
    far = load_instance(gtfs_scenario(tmp_path, students=[home], max_walk_m=400.0,
                                      folder="far"))
    assert {o for o, v in minutes_of(far, 0).items() if v <= 60} == {"oNear"}


def test_arrive_by_and_leave_after(tmp_path: Path) -> None:
    # Leaving at 16:00 the 16:10 bus from F is fine; arriving by 07:40 only the fast train.
    early = load_instance(gtfs_scenario(tmp_path, leave_after="16:00", folder="a"))
    assert minutes_of(early, 0)["oF"] == pytest.approx(30.0, abs=TOLERANCE)
    # Arrive by 07:20: the 07:05 train arrives 07:25, too late; only the walk remains.
    tight = load_instance(gtfs_scenario(tmp_path, arrive_by="07:20", folder="b"))
    got = minutes_of(tight, 0)
    assert got["oB"] == np.inf and got["oNear"] == pytest.approx(4.0, abs=TOLERANCE)


def test_weeks_without_service_are_an_input_error(tmp_path: Path) -> None:
    path = gtfs_scenario(tmp_path, feeds=[{"path": str(TINY), "shift_weeks": 60}])
    with pytest.raises(InputError, match="shift_weeks"):
        load_instance(path)


def test_cache_is_reused_and_keyed_by_parameters(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = gtfs_scenario(tmp_path)
    first = minutes_of(load_instance(path), 0)
    cache = list((path.parent / CACHE_DIR).glob("transit-*.npz"))
    assert len(cache) == 1

    def no_feed(*args: object, **kwargs: object) -> None:
        raise AssertionError("feeds read although cached")

    monkeypatch.setattr(transit, "read_network", no_feed)
    assert minutes_of(load_instance(path), 0) == first
    # Another parameter is another key: the feeds are read again.
    other = path.read_text().replace("zone_m = 1.0", "zone_m = 1.0\nmax_transfers = 1")
    path.write_text(other)
    with pytest.raises(AssertionError, match="feeds read"):
        minutes_of(load_instance(path), 0)


def test_solve_and_check_use_the_timetable_minutes(tmp_path: Path) -> None:
    students = [{"student_id": f"p{k}", "lat": LAT, "lon": -0.40, "mode": "public"}
                for k in range(4)]
    lost = {"student_id": "lost", "lat": 49.5, "lon": -0.9, "mode": "public"}
    outcome = solve_cli(gtfs_scenario(tmp_path, students=[*students, lost]))
    assert outcome.violations == []
    assert outcome.kind("lost") == "unplaced"
    assert "aucune offre joignable" in outcome.reason("lost")
    placed = {outcome.weeks(f"p{k}")[0] for k in range(4)}
    reachable_offers = {o for o, v in EXPECTED_P1.items() if v is not None}
    assert placed <= reachable_offers | {""}
    for k in range(4):
        row = outcome.rows[f"p{k}"]
        offer = row["week1_offer_id"]
        if offer:
            assert float(row["week1_minutes"]) == pytest.approx(EXPECTED_P1[offer], abs=0.06)


def test_check_flags_a_placement_the_timetable_cannot_serve(tmp_path: Path) -> None:
    from affectation.analysis.check import check_allocation
    from affectation.io.tables import read_table

    path = gtfs_scenario(tmp_path, students=STUDENTS[:1])
    outcome = solve_cli(path)
    text = (outcome.out / "assignments.csv").read_text()
    offer = outcome.weeks("p1")[0]
    assert offer
    minutes = outcome.rows["p1"]["week1_minutes"]
    bad = text.replace(offer, "oE").replace(minutes, "30.0")  # no bus on Wednesdays
    (outcome.out / "bad.csv").write_text(bad)
    violations = check_allocation(load_instance(path), read_table(outcome.out / "bad.csv",
                                                                  ("student_id",)))
    assert any(v.rule == "travel_limit" for v in violations)


def test_added_line_between_communes(tmp_path: Path) -> None:
    """A "what if" line Caen (14118) -> Bayeux (14047) at 08:00, back at 17:00, 25 min."""
    caen, bayeux = (49.18504, -0.36981), (49.27776, -0.70524)
    students = [{"student_id": "c", "lat": caen[0], "lon": caen[1], "mode": "public"}]
    offers = [{"offer_id": "bayeux", "lat": bayeux[0], "lon": bayeux[1], "capacity": 1}]
    line = {"name": "Caen-Bayeux", "communes": ["14118", "14047"],
            "departures": ["08:00", "17:00"], "minutes": 25}
    without = load_instance(gtfs_scenario(tmp_path, students, offers, folder="a"))
    assert minutes_of(without, 0)["bayeux"] == np.inf
    with_line = load_instance(gtfs_scenario(tmp_path, students, offers, folder="b",
                                            added_lines=[line]))
    assert minutes_of(with_line, 0)["bayeux"] == pytest.approx(25.0, abs=TOLERANCE)
    only = load_instance(gtfs_scenario(tmp_path, students, offers, feeds=[], folder="c",
                                       added_lines=[line]))
    assert minutes_of(only, 0)["bayeux"] == pytest.approx(25.0, abs=TOLERANCE)
    bad = gtfs_scenario(tmp_path, students, offers, folder="d",
                        added_lines=[{**line, "communes": ["14118", "99999"]}])
    with pytest.raises(InputError, match="99999"):
        load_instance(bad)


def test_gtfs_params_are_validated(tmp_path: Path) -> None:
    path = gtfs_scenario(tmp_path, arrive_by="9h", walk_kmh=-1.0, modes=["bus"], speed=3)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    text = str(err.value)
    for key in ("travel.gtfs.arrive_by", "travel.gtfs.walk_kmh", "travel.gtfs.modes",
                "travel.gtfs.speed"):
        assert key in text
    missing = gtfs_scenario(tmp_path, folder="m")
    missing.write_text(missing.read_text().split("[travel.gtfs]")[0])
    with pytest.raises(InputError, match=r"travel\.gtfs"):
        load_scenario(missing)


def test_crowfly_scenarios_are_untouched(tmp_path: Path) -> None:
    from conftest import make_scenario

    instance = load_instance(make_scenario(tmp_path, STUDENTS, OFFERS,
                                           modes={"public": CAR, "car": CAR}))
    assert instance.scenario.travel.gtfs is None
    assert not (tmp_path / "scenario" / CACHE_DIR).exists()
    m = minutes_of(instance, 0)
    assert m["oB"] == pytest.approx(crowfly_minutes(LAT, -0.40, LAT, STATION_LON["B"], CAR),
                                    abs=1e-9)


def test_zone_cells_and_pairs_within() -> None:
    rng = np.random.default_rng(0)
    lat = 49.0 + rng.random(300) * 0.05
    lon = -0.5 + rng.random(300) * 0.05
    zone, c_lat, c_lon = zone_cells(lat, lon, 200.0)
    _, _, metres = GEOD.inv(lon, lat, c_lon[zone], c_lat[zone])
    assert np.max(metres) <= 200.0 / np.sqrt(2) + 1.0
    i, j, m = pairs_within(lat, lon, lat[:50], lon[:50], 800.0)
    _, _, exact = GEOD.inv(np.repeat(lon, 50), np.repeat(lat, 50), np.tile(lon[:50], 300),
                           np.tile(lat[:50], 300))
    brute = {(a, b) for a, b, d in zip(np.repeat(np.arange(300), 50),
                                       np.tile(np.arange(50), 300), exact, strict=True)
             if d <= 799.0}
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert brute <= got
    assert np.all(m <= 800.0)


# -- the real SNCF feed of ../shared, dates shifted to the scenario weeks -------------------


def test_sncf_feed_caen_lisieux(tmp_path: Path) -> None:
    feed = shared_file("gtfs", "sncf-intercites-normandie-2014.zip")
    stations = {"caen": (49.17654371, -0.34826957), "lisieux": (49.1372519, 0.23168224),
                "evreux": (49.01855876, 1.14988767)}
    students = [{"student_id": "caen", "lat": 49.1770, "lon": -0.3480, "mode": "public"}]
    offers = [{"offer_id": k, "lat": la, "lon": lo, "capacity": 1}
              for k, (la, lo) in stations.items()]
    # 2026-W25 is 648 weeks after the week of 13 January 2014, within the feed's dates.
    instance = load_instance(gtfs_scenario(
        tmp_path, students, offers, feeds=[{"path": str(feed), "shift_weeks": 648}],
        arrive_by="10:00", leave_after="17:00", window_minutes=180.0))
    got = minutes_of(instance, 0)
    assert 20.0 < got["lisieux"] < 40.0  # Intercités Caen - Lisieux: about 26 minutes
    assert got["caen"] < 2.0  # a walk across the station forecourt
    assert got["evreux"] > got["lisieux"]


def test_copy_of_feed_gives_same_minutes_and_same_cache_key(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(TINY, copy)
    a = minutes_of(load_instance(gtfs_scenario(tmp_path, folder="a")), 0)
    b = minutes_of(load_instance(gtfs_scenario(tmp_path, feeds=[str(copy)], folder="b")), 0)
    assert a == b


def test_sample_feed_frequencies_and_a_holiday(tmp_path: Path) -> None:
    """gtfs_kit's sample (Nevada, 2007): the city loop runs by frequencies.txt (every 10 min
    at peak), 26 minutes from Stagecoach to E Main St and back; Monday 4 June 2007 has no
    service at all (calendar_dates), so it counts as a public holiday."""
    feed = shared_file("gtfs", "sample-gtfs.zip")
    students = [{"student_id": "s", "lat": 36.915682, "lon": -116.751677, "mode": "public"}]
    offers = [{"offer_id": "emsi", "lat": 36.905697, "lon": -116.762180, "capacity": 1}]
    path = gtfs_scenario(tmp_path, students, offers, feeds=[str(feed)], max_walk_m=300.0)
    path.write_text(path.read_text().replace('"2026-W25", "2026-W26"', '"2007-W23", "2007-W24"'))
    got = minutes_of(load_instance(path), 0)
    assert got["emsi"] == pytest.approx(26.0, abs=TOLERANCE)


def test_signed_convention_without_journey(tmp_path: Path) -> None:
    """A signed convention is a fact even where no timetable serves it: kept, valid, no `inf`
    anywhere: the minutes cells are empty, the reason says so in French, the summary counts
    it; the checker accepts exactly that."""
    from conftest import CONVENTION_COLUMNS, write_csv

    students = [STUDENTS[0], {**STUDENTS[0], "student_id": "p3"}]
    path = gtfs_scenario(tmp_path, students=students)
    write_csv(path.parent / "conventions.csv", [{"student_id": "p1", "offer_id": "oE"}],
              CONVENTION_COLUMNS, required=("student_id", "offer_id"))
    path.write_text(path.read_text().replace('offers = "offers.csv"',
                                             'offers = "offers.csv"\n'
                                             'conventions = "conventions.csv"'))
    outcome = solve_cli(path)
    assert outcome.violations == []
    assert outcome.weeks("p1") == ("oE", "oE")
    row = outcome.rows["p1"]
    assert (row["week1_minutes"], row["week2_minutes"], row["kind"]) == ("", "", "single")
    assert row["reason"] == ("convention signée mais hors de portée du réseau de transport "
                             "(semaines 1 et 2 : aucun trajet dans la limite)")
    assert outcome.summary["conventions_unreachable"] == 1
    for name in ("assignments.csv", "summary.json", "fairness.csv", "indicators.csv"):
        assert "inf" not in (outcome.out / name).read_text(encoding="utf-8").lower().replace(
            "information", ""), name
    story = CliRunner().invoke(main, ["explain", str(path), str(outcome.out), "p1"])
    assert story.exit_code == 0 and "inf" not in story.stdout
    assert "oE (convention signée, hors de portée du réseau de transport)" in story.stdout
    # The checker wants the empty cell and the reason.
    text = (outcome.out / "assignments.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("p1,"))
    for bad, rule in ((lines[k].replace(",oE,oE,,", ",oE,oE,inf,"), "minutes"),
                      (lines[k].replace(row["reason"], ""), "reason")):
        (outcome.out / "assignments.csv").write_text(
            "\n".join([*lines[:k], bad, *lines[k + 1:]]) + "\n", encoding="utf-8")
        assert rule in {v.rule for v in check_files(path, outcome.out / "assignments.csv")}


def test_rural_bus_feed_routes_despite_latin1(tmp_path: Path) -> None:
    """The Trøndelag sample (Latin-1 stop names, calendar_dates only): two stops about
    1.1 km apart on a route served every weekday of January 2019, morning and evening."""
    feed = shared_file("gtfs", "rural-bus-trondelag-sample.zip")
    students = [{"student_id": "s", "lat": 63.745, "lon": 11.3, "mode": "public"}]
    offers = [{"offer_id": "o", "lat": 63.754, "lon": 11.312, "capacity": 1}]
    path = gtfs_scenario(tmp_path, students, offers, feeds=[str(feed)], max_walk_m=300.0)
    path.write_text(path.read_text().replace('"2026-W25", "2026-W26"', '"2019-W02", "2019-W03"'))
    got = minutes_of(load_instance(path), 0)["o"]
    assert 2.0 < got < 30.0  # a bus ride, not a walk (1.1 km is beyond max_walk_m)
