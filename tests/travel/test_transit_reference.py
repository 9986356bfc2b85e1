"""The optimised timetable minutes equal a plain reference: for random small networks, every
home departure time is tried with a textbook connection scan (no pruning, no sharing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gtfs_scenarios import gtfs_scenario

from affectation.domain.params import FeedParams
from affectation.io.gtfs import read_network
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes
from affectation.travel.transit import all_connections, pairs_within

LAT, LON = 49.18, -0.40


def _random_feed(folder: Path, rng: np.random.Generator, n_stations: int = 12,
                 n_trips: int = 40) -> None:
    folder.mkdir()
    lat = LAT + rng.uniform(0, 0.06, n_stations)
    lon = LON + rng.uniform(0, 0.08, n_stations)
    (folder / "agency.txt").write_text("agency_id,agency_name,agency_url,agency_timezone\n"
                                       "A,a,https://example.org,Europe/Paris\n")
    (folder / "routes.txt").write_text("route_id,agency_id,route_type\nR,A,3\n")
    (folder / "calendar.txt").write_text(
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,"
        "end_date\nS,1,1,1,1,1,0,0,20260101,20261231\n")
    (folder / "stops.txt").write_text("stop_id,stop_lat,stop_lon\n" + "".join(
        f"s{i},{lat[i]:.6f},{lon[i]:.6f}\n" for i in range(n_stations)))
    trips, times = ["route_id,service_id,trip_id\n"], [
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"]
    for t in range(n_trips):
        trips.append(f"R,S,t{t}\n")
        stops = rng.choice(n_stations, size=int(rng.integers(2, 6)), replace=False)
        clock = int(rng.choice([rng.integers(6 * 60 + 30, 9 * 60),
                                rng.integers(16 * 60 + 20, 18 * 60 + 30)]))
        for k, s in enumerate(stops):
            text = f"{clock // 60:02d}:{clock % 60:02d}:00"
            times.append(f"t{t},{text},{text},s{s},{k}\n")
            clock += int(rng.integers(3, 15))
    (folder / "trips.txt").write_text("".join(trips))
    (folder / "stop_times.txt").write_text("".join(times))


def _reference(net: object, home: tuple[float, float], site: tuple[float, float],
               arrive_by: float, leave_after: float, window: float, walk_ms: float,
               max_walk: float, vehicles: int, slack: float, transfer_m: float) -> float:
    """Worse of morning and evening door-to-door seconds (inf = impossible)."""
    conn = all_connections(net)  # type: ignore[arg-type]
    st_lat, st_lon = net.station_lat, net.station_lon  # type: ignore[attr-defined]
    n = len(st_lat)

    def near(lat: float, lon: float, metres: float) -> dict[int, float]:
        _, j, m = pairs_within(np.array([lat]), np.array([lon]), st_lat, st_lon, metres)
        return {int(a): float(b) / walk_ms for a, b in zip(j, m, strict=True)}

    fi, fj, fm = pairs_within(st_lat, st_lon, st_lat, st_lon, transfer_m)
    foot = [(int(a), int(b), float(c) / walk_ms) for a, b, c in zip(fi, fj, fm, strict=True)
            if a != b]
    walk_all = pairs_within(np.array([home[0]]), np.array([home[1]]), np.array([site[0]]),
                            np.array([site[1]]), max_walk)[2]
    direct = float(walk_all[0]) / walk_ms if len(walk_all) else np.inf

    def fastest(dep: np.ndarray, arr: np.ndarray, u_st: np.ndarray, v_st: np.ndarray,
                trip: np.ndarray, board: np.ndarray, alight: np.ndarray, start_pt: tuple,
                end_pt: tuple, deadline: float) -> float:
        order = np.lexsort((conn["seq"] if dep is conn["dep"] else -conn["seq"], dep))
        access, egress = near(*start_pt, max_walk), near(*end_pt, max_walk)
        best = np.inf
        starts = {dep[c] - access[int(u_st[c])] for c in range(len(dep))
                  if board[c] and int(u_st[c]) in access}
        for t in sorted(starts):
            if t < deadline - window or t > deadline:
                continue
            ready = np.full((vehicles, n), np.inf)
            for s, w in access.items():
                ready[:, s] = t + w
            out = np.full(n, np.inf)
            used: dict[int, int] = {}
            for c in order:
                if dep[c] < t or arr[c] > deadline:
                    continue
                k_on = used.get(int(trip[c]), vehicles + 1)
                if board[c]:
                    for k in range(vehicles):
                        if ready[k, int(u_st[c])] <= dep[c]:
                            k_on = min(k_on, k + 1)
                            break
                    used[int(trip[c])] = k_on
                if k_on <= vehicles and alight[c]:
                    v = int(v_st[c])
                    out[v] = min(out[v], arr[c])
                    for k in range(k_on, vehicles):
                        ready[k, v] = min(ready[k, v], arr[c] + slack)
                        for a, b, d in foot:
                            if a == v:
                                ready[k, b] = min(ready[k, b], arr[c] + slack + d)
            for s, w in egress.items():
                if out[s] + w <= deadline:
                    best = min(best, out[s] + w - t)
        return min(best, direct)

    morning = fastest(conn["dep"], conn["arr"], conn["dep_station"], conn["arr_station"],
                      conn["trip"], conn["board"], conn["alight"], home, site, arrive_by)
    evening = fastest(-conn["arr"], -conn["dep"], conn["arr_station"], conn["dep_station"],
                      conn["trip"], conn["alight"], conn["board"], home, site, -leave_after)
    return max(morning, evening)


@pytest.mark.parametrize("seed", range(6))
def test_random_networks_match_the_reference(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    feed = tmp_path / "feed"
    _random_feed(feed, rng)
    students = [{"student_id": f"p{i}", "lat": round(LAT + rng.uniform(0, 0.06), 6),
                 "lon": round(LON + rng.uniform(0, 0.08), 6), "mode": "public"}
                for i in range(6)]
    offers = [{"offer_id": f"o{i}", "lat": round(LAT + rng.uniform(0, 0.06), 6),
               "lon": round(LON + rng.uniform(0, 0.08), 6), "capacity": 1} for i in range(6)]
    params = {"max_walk_m": 1500.0, "max_transfers": seed % 3, "window_minutes": 90.0}
    instance = load_instance(gtfs_scenario(tmp_path, students, offers, feeds=[str(feed)],
                                           **params))
    net = read_network([FeedParams(feed)])
    g = instance.scenario.travel.gtfs
    assert g is not None
    checked = 0
    for s in range(len(students)):
        got = exact_minutes(instance, np.full(len(offers), s), np.arange(len(offers)))
        for o in range(len(offers)):
            ref = _reference(net, (instance.students.lat[s], instance.students.lon[s]),
                             (instance.offers.lat[o], instance.offers.lon[o]), g.arrive_by,
                             g.leave_after, g.window_minutes * 60, g.walk_kmh / 3.6,
                             g.max_walk_m, g.max_transfers + 1, g.min_transfer_minutes * 60,
                             400.0) / 60.0
            if ref <= 60.0:
                assert got[o] == pytest.approx(ref, abs=0.02), (s, o)
                checked += 1
            else:
                assert got[o] == np.inf, (s, o, ref)
    assert checked > 0
