"""GTFS reading: stations, calendars, frequencies, encodings and bad rows (gtfs.py)."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file
from gtfs_scenarios import GTFS_FIXTURES, TINY

from affectation.domain.params import FeedParams
from affectation.errors import InputError
from affectation.io.gtfs import decode, read_network, weekdays


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"feed/{file.name}")  # a sub-folder, as some exports do
    return target


def _trip_names(net: object, trips: np.ndarray) -> set[str]:
    return {str(net.trip_id[t]).split(":", 1)[1].split("#")[0] for t in trips}  # type: ignore


def test_tiny_feed_folder_and_zip_read_the_same(tmp_path: Path) -> None:
    folder = read_network([FeedParams(TINY)])
    zipped = read_network([FeedParams(_zip(TINY, tmp_path / "tiny.zip"))])
    for net in (folder, zipped):
        # Platforms G1 and G2 are merged into their parent station G: 9 stations.
        assert net.n_stations == 9
        assert sorted(s.split(":", 1)[1] for s in net.station_id) == sorted("ABCDEFGKT")
        # 17 timed trips, and g_freq expanded every 15 min from 06:00 to 08:45 (12 copies;
        # the template itself keeps no stop time).
        assert net.n_trips == 18 + 12
        assert len(np.unique(net.st_trip)) == 17 + 12
    np.testing.assert_array_equal(folder.st_departure, zipped.st_departure)


def test_parent_station_and_frequencies() -> None:
    net = read_network([FeedParams(TINY)])
    g = int(np.flatnonzero(net.station_id == "0:G")[0])
    copies = [t for t in range(net.n_trips) if "g_freq#" in str(net.trip_id[t])]
    first_stops = [int(np.flatnonzero(net.st_trip == t)[0]) for t in copies]
    departures = sorted(net.st_departure[first_stops] / 60)
    assert departures == [360 + 15 * k for k in range(12)]
    last_stops = [int(np.flatnonzero(net.st_trip == t)[-1]) for t in copies]
    assert set(net.st_station[last_stops].tolist()) == {g}  # platform G1 -> station G
    assert set((net.st_arrival[last_stops] - net.st_departure[first_stops]).tolist()) == {1200}


def test_calendar_and_calendar_dates() -> None:
    net = read_network([FeedParams(TINY)])
    wednesday, thursday = date(2026, 6, 17), date(2026, 6, 18)
    assert "m_e" not in _trip_names(net, net.active_trips(wednesday))
    assert "m_e" in _trip_names(net, net.active_trips(thursday))
    removed = _trip_names(net, net.active_trips(date(2026, 6, 24)))
    assert "m_k" not in removed and "e_k" not in removed and "m_fast" in removed
    assert "m_k" in _trip_names(net, net.active_trips(date(2026, 6, 17)))
    assert not len(net.active_trips(date(2026, 6, 20)))  # Saturday


def test_shift_weeks_moves_dates_keeping_weekdays() -> None:
    net = read_network([FeedParams(TINY, shift_weeks=-52)])
    wednesday = date(2026, 6, 17).toordinal() - 52 * 7
    assert "m_e" not in _trip_names(net, net.active_trips(date.fromordinal(wednesday)))
    assert not len(net.active_trips(date(2026, 6, 17)))


def test_times_past_midnight_and_interpolation(tmp_path: Path) -> None:
    feed = tmp_path / "night"
    shutil.copytree(TINY, feed)
    (feed / "frequencies.txt").unlink()
    (feed / "stop_times.txt").write_text(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "m_fast,23:50:00,23:50:00,A,1\nm_fast,,,T,2\nm_fast,25:10:00,25:12:00,B,3\n",
        encoding="utf-8")
    net = read_network([FeedParams(feed)])
    times = net.st_arrival[net.st_trip == 0]
    assert times.tolist() == [85800.0, 88200.0, 90600.0]  # 24:30 interpolated at T


def test_cp1252_is_decoded_and_unknown_encoding_is_reported() -> None:
    raw = (TINY / "stops.txt").read_bytes()
    assert b"Arr\xeat A" in raw  # the fixture really is Windows-1252
    assert "Arrêt A (église)" in decode(raw, "stops.txt")
    assert decode("é".encode("utf-8-sig"), "x") == "é"
    with pytest.raises(InputError) as err:
        decode("stop_id\nA\n".encode("utf-16"), "réseau.zip/stops.txt")
    assert "réseau.zip/stops.txt" in str(err.value) and "encodage" in str(err.value)


def test_bad_rows_are_reported_with_file_line_column_value() -> None:
    with pytest.raises(InputError) as err:
        read_network([FeedParams(GTFS_FIXTURES / "bad_rows")])
    found = {(p.file, p.line, p.column, p.value) for p in err.value.problems}
    assert ("bad_rows/stops.txt", 3, "stop_lat", "91.5") in found
    assert ("bad_rows/stops.txt", 4, "parent_station", "NOPE") in found
    assert ("bad_rows/calendar.txt", 2, "end_date", "20261341") in found
    assert ("bad_rows/trips.txt", 3, "service_id", "XX") in found
    assert ("bad_rows/stop_times.txt", 3, "arrival_time", "7h30") in found
    assert ("bad_rows/stop_times.txt", 3, "stop_id", "Z") in found
    assert ("bad_rows/stop_times.txt", 4, "trip_id", "t9") in found


def test_missing_files_and_not_a_feed(tmp_path: Path) -> None:
    feed = tmp_path / "partial"
    shutil.copytree(TINY, feed)
    (feed / "stops.txt").unlink()
    (feed / "calendar.txt").unlink()
    (feed / "calendar_dates.txt").unlink()
    with pytest.raises(InputError) as err:
        read_network([FeedParams(feed)])
    text = str(err.value)
    assert "partial/stops.txt" in text and "calendar_dates.txt" in text
    bad = tmp_path / "feed.zip"
    bad.write_text("not a zip")
    with pytest.raises(InputError, match="zip"):
        read_network([FeedParams(bad)])
    with pytest.raises(InputError, match="existant"):
        read_network([FeedParams(tmp_path / "absent.zip")])


def test_weekdays_of_iso_week() -> None:
    assert weekdays("2026-W25") == [date(2026, 6, d) for d in range(15, 20)]


# -- the real feeds of ../shared (read there, never copied) ----------------------------------


def _shared(name: str) -> Path:
    return shared_file("gtfs", name)


def test_sncf_normandy_feed() -> None:
    net = read_network([FeedParams(_shared("sncf-intercites-normandie-2014.zip"))])
    assert net.n_trips == 378
    # StopPoints are merged into their StopArea: every station is a StopArea.
    assert all(":StopArea:" in s for s in net.station_id)
    assert len(net.active_trips(date(2014, 1, 14))) > 50
    assert not len(net.active_trips(date(2026, 6, 16)))
    shifted = read_network([FeedParams(_shared("sncf-intercites-normandie-2014.zip"), 648)])
    assert len(shifted.active_trips(date(2026, 6, 16))) == len(net.active_trips(
        date(2014, 1, 14)))


def test_rural_bus_feed_is_latin1() -> None:
    path = _shared("rural-bus-trondelag-sample.zip")
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("stops.txt")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Olsøya" in decode(raw, "stops.txt")
    net = read_network([FeedParams(path)])
    assert net.n_trips == 1098 and net.n_stations > 3000
    assert len(net.active_trips(date(2019, 1, 7))) > 0  # calendar_dates only


def test_small_multi_file_sample_with_frequencies() -> None:
    net = read_network([FeedParams(_shared("sample-gtfs.zip"))])
    # STBA runs every 30 min from 06:00 to 22:00: 32 copies.
    assert sum("STBA#" in str(t) for t in net.trip_id) == 32
    assert len(net.active_trips(date(2007, 6, 5))) > 0
    assert not len(net.active_trips(date(2007, 6, 4)))  # FULLW removed that day


def test_several_feeds_are_kept_apart(tmp_path: Path) -> None:
    """Two feeds using the same identifiers (here: two copies of the tiny feed) stay two
    networks: no station, stop or trip of one is merged with the other's."""
    copy = tmp_path / "copy"
    shutil.copytree(TINY, copy)
    net = read_network([FeedParams(TINY), FeedParams(copy)])
    one = read_network([FeedParams(TINY)])
    assert net.n_stations == 2 * one.n_stations
    assert net.n_trips == 2 * one.n_trips
    assert len(set(net.station_id)) == net.n_stations
