"""A synthetic but plausible Normandy public-transport network, written as GTFS.

No open timetable of Normandy's coaches and town buses is at hand, so `affectation generate
--gtfs` draws one from the bundled geography (communes with population and centroid, lycées):

- town networks: every commune of at least `TOWN_POPULATION` inhabitants gets lines crossing
  its centre (2 to 4 axes, stops every 500 m over 4 km each side) running every 10 to 30
  minutes from 06:00 to 20:30, at 20 km/h;
- intercity lines: each town is joined to its 3 nearest towns within 60 km, stopping at the
  communes of at least 1,500 inhabitants within 2 km of the way, hourly from 06:00 to 20:00,
  at 55 km/h straight-line;
- rural coaches: every commune farther than 1.5 km from a town stop is served by a coach to its
  nearest hub (a town or a commune with a lycée) within 30 km: communes are grouped by
  direction (8 sectors, at most 12 stops a line), a few trips a day timed for school hours
  (arriving at the hub at 07:45, 08:45 and 13:15, leaving it at 12:10, 16:50, 17:40 and
  18:30), at 45 km/h over a road 1.3 times the straight line.

Everything runs on weekdays from 2025 to 2028. The same seed gives the same bytes (there is no
randomness beyond the sectors' orientation).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.geo import flat_km
from affectation.geodata import load_communes, load_lycees
from affectation.io.atomic import write_file

TOWN_POPULATION = 8000
_KM_LAT = 110.574
SERVICE = "semaine"
INBOUND_ARRIVALS = ("07:45", "08:45", "13:15")
OUTBOUND_DEPARTURES = ("12:10", "16:50", "17:40", "18:30")


def _seconds(clock: str) -> int:
    h, m = clock.split(":")
    return int(h) * 3600 + int(m) * 60


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Builder:
    """Accumulates stops, routes, trips and stop times."""

    def __init__(self) -> None:
        self.stops: dict[str, tuple[str, float, float]] = {}
        self.routes: list[tuple[str, str, int]] = []
        self.trips: list[tuple[str, str]] = []
        self.times: list[tuple[str, str, str, int]] = []

    def stop(self, stop_id: str, name: str, lat: float, lon: float) -> str:
        self.stops.setdefault(stop_id, (name, lat, lon))
        return stop_id

    def route(self, route_id: str, name: str, kind: int) -> None:
        self.routes.append((route_id, name, kind))

    def trip(self, route_id: str, stops: list[str], offsets: np.ndarray, start: float) -> None:
        trip_id = f"{route_id}-{len(self.trips)}"
        self.trips.append((route_id, trip_id))
        for seq, (stop, offset) in enumerate(zip(stops, offsets, strict=True)):
            self.times.append((trip_id, _clock(start + offset), stop, seq))

    def both_ways(self, route_id: str, stops: list[str], offsets: np.ndarray,
                  starts: list[float]) -> None:
        back = offsets[-1] - offsets[::-1]
        for start in starts:
            self.trip(route_id, stops, offsets, start)
            self.trip(route_id, stops[::-1], back, start)

    def files(self) -> dict[str, str]:
        def csv(header: str, rows: list[str]) -> str:
            return header + "\n" + "".join(r + "\n" for r in rows)

        def text(value: str) -> str:
            return '"' + value.replace('"', '""') + '"'

        return {
            "agency.txt": csv("agency_id,agency_name,agency_url,agency_timezone",
                              ["SYN,Réseau synthétique normand,https://example.org,"
                               "Europe/Paris"]),
            "stops.txt": csv("stop_id,stop_name,stop_lat,stop_lon", [
                f"{sid},{text(name)},{lat:.6f},{lon:.6f}"
                for sid, (name, lat, lon) in self.stops.items()]),
            "routes.txt": csv("route_id,agency_id,route_short_name,route_long_name,route_type",
                              [f"{r},SYN,{r},{text(n)},{k}" for r, n, k in self.routes]),
            "trips.txt": csv("route_id,service_id,trip_id",
                             [f"{r},{SERVICE},{t}" for r, t in self.trips]),
            "stop_times.txt": csv("trip_id,arrival_time,departure_time,stop_id,stop_sequence",
                                  [f"{t},{c},{c},{s},{q}" for t, c, s, q in self.times]),
            "calendar.txt": csv("service_id,monday,tuesday,wednesday,thursday,friday,saturday,"
                                "sunday,start_date,end_date",
                                [f"{SERVICE},1,1,1,1,1,0,0,20250101,20281231"]),
        }


def _offset(lat: float, lon: float, km_east: float, km_north: float) -> tuple[float, float]:
    return (lat + km_north / _KM_LAT,
            lon + km_east / (111.320 * np.cos(np.radians(lat))))


def synthetic_network(seed: int = 0) -> dict[str, str]:
    """The network's GTFS files (name -> text)."""
    rng = np.random.default_rng(seed)
    communes = load_communes()
    lycees = load_lycees()
    b = _Builder()
    lat = communes["lat"].to_numpy(np.float64)
    lon = communes["lon"].to_numpy(np.float64)
    pop = communes["population"].to_numpy(np.int64)
    insee = communes["insee"].to_numpy(str)
    names = communes["name"].to_numpy(str)

    def centre(i: int) -> str:
        return b.stop(f"C{insee[i]}", names[i], lat[i], lon[i])

    # Town networks.
    towns = np.flatnonzero(pop >= TOWN_POPULATION)
    town_stop_lat: list[float] = []
    town_stop_lon: list[float] = []
    for i in towns.tolist():
        axes = 4 if pop[i] >= 50000 else 3 if pop[i] >= 20000 else 2
        headway = 10 if pop[i] >= 50000 else 15 if pop[i] >= 20000 else 20 \
            if pop[i] >= 12000 else 30
        turn = rng.uniform(0, np.pi / axes)
        for a in range(axes):
            angle = turn + a * np.pi / axes
            stops = []
            for k in range(-8, 9):
                if k == 0:
                    stops.append(centre(i))
                    continue
                s_lat, s_lon = _offset(lat[i], lon[i], 0.5 * k * np.cos(angle),
                                       0.5 * k * np.sin(angle))
                stops.append(b.stop(f"U{insee[i]}-{a}-{k}", f"{names[i]} ligne {a + 1} "
                                    f"arrêt {k + 9}", s_lat, s_lon))
                town_stop_lat.append(s_lat)
                town_stop_lon.append(s_lon)
            route = f"U{insee[i]}-{a + 1}"
            b.route(route, f"{names[i]} ligne {a + 1}", 3)
            offsets = np.arange(len(stops)) * 90.0  # 500 m in 1.5 min
            b.both_ways(route, stops, offsets,
                        [float(t) for t in range(6 * 3600, 20 * 3600 + 1801, headway * 60)])
        town_stop_lat.append(lat[i])
        town_stop_lon.append(lon[i])

    # Intercity lines between towns.
    t_lat, t_lon = lat[towns], lon[towns]
    pairs: set[tuple[int, int]] = set()
    for k, i in enumerate(towns.tolist()):
        km = flat_km(np.full(len(towns), t_lat[k]), np.full(len(towns), t_lon[k]), t_lat, t_lon)
        for j in np.argsort(km, kind="stable")[1:4]:
            if km[j] <= 60.0:
                pairs.add((int(min(i, towns[j])), int(max(i, towns[j]))))
    medium = np.flatnonzero(pop >= 1500)
    for i, j in sorted(pairs):
        # Communes near the segment i -> j, in order along it.
        y0, x0 = lat[i] * _KM_LAT, lon[i] * 111.320 * np.cos(np.radians(lat[i]))
        kx = 111.320 * np.cos(np.radians(lat[i]))
        dy, dx = lat[j] * _KM_LAT - y0, lon[j] * kx - x0
        length2 = dx * dx + dy * dy
        my, mx = lat[medium] * _KM_LAT - y0, lon[medium] * kx - x0
        along = (mx * dx + my * dy) / length2
        across = np.abs(mx * dy - my * dx) / np.sqrt(length2)
        mid = medium[(along > 0.02) & (along < 0.98) & (across <= 2.0)
                     & (medium != i) & (medium != j)]
        mid = mid[np.argsort(((lon[mid] * kx - x0) * dx + (lat[mid] * _KM_LAT - y0) * dy),
                             kind="stable")]
        path = [i, *mid.tolist(), j]
        legs = flat_km(lat[path[:-1]], lon[path[:-1]], lat[path[1:]], lon[path[1:]])
        offsets = np.r_[0.0, np.cumsum(legs / 55.0 * 3600.0 + 60.0)]
        route = f"I{insee[i]}-{insee[j]}"
        b.route(route, f"{names[i]} - {names[j]}", 3)
        b.both_ways(route, [centre(p) for p in path], offsets,
                    [float(t) for t in range(6 * 3600, 20 * 3600 + 1, 3600)])

    # Rural coaches to the nearest hub.
    hub_codes = set(insee[towns]) | set(lycees.loc[lycees["teaches_gt"] == 1, "insee"])
    hubs = np.flatnonzero(np.isin(insee, sorted(hub_codes)))
    served = np.zeros(len(insee), dtype=bool)
    if town_stop_lat:
        from affectation.travel.transit import pairs_within

        near, _, _ = pairs_within(lat, lon, np.array(town_stop_lat), np.array(town_stop_lon),
                                  1500.0)
        served[near] = True
    served[hubs] = True
    rural = np.flatnonzero(~served)
    km_to_hub = np.stack([flat_km(lat[rural], lon[rural], np.full(len(rural), lat[h]),
                                  np.full(len(rural), lon[h])) for h in hubs], axis=1)
    nearest = np.argmin(km_to_hub, axis=1)
    reach = km_to_hub[np.arange(len(rural)), nearest] <= 30.0
    for h_pos, h in enumerate(hubs):
        members = rural[(nearest == h_pos) & reach]
        if not len(members):
            continue
        kx = 111.320 * np.cos(np.radians(lat[h]))
        angle = np.arctan2((lat[members] - lat[h]) * _KM_LAT, (lon[members] - lon[h]) * kx)
        sector = np.floor((angle + np.pi) / (np.pi / 4)).astype(np.int64) % 8
        for s in range(8):
            group = members[sector == s]
            if not len(group):
                continue
            group = group[np.argsort(angle[sector == s], kind="stable")]
            for c, chunk in enumerate(np.array_split(group, -(-len(group) // 12))):
                d = flat_km(lat[chunk], lon[chunk], np.full(len(chunk), lat[h]),
                            np.full(len(chunk), lon[h]))
                path = [*chunk[np.argsort(-d, kind="stable")].tolist(), int(h)]
                legs = flat_km(lat[path[:-1]], lon[path[:-1]], lat[path[1:]], lon[path[1:]])
                offsets = np.r_[0.0, np.cumsum(legs * 1.3 / 45.0 * 3600.0 + 30.0)]
                route = f"R{insee[h]}-{s}-{c}"
                b.route(route, f"Car {names[path[0]]} - {names[h]}", 3)
                stops = [centre(p) for p in path]
                for arrival in INBOUND_ARRIVALS:
                    b.trip(route, stops, offsets, _seconds(arrival) - offsets[-1])
                back = offsets[-1] - offsets[::-1]
                for departure in OUTBOUND_DEPARTURES:
                    b.trip(route, stops[::-1], back, float(_seconds(departure)))
    return b.files()


def network_zip(seed: int = 0) -> tuple[bytes, dict[str, int]]:
    """The network as the bytes of a GTFS zip (fixed dates inside), and its sizes."""
    files = synthetic_network(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    frame = pd.read_csv(io.StringIO(files["stop_times.txt"]))
    return buffer.getvalue(), {"stops": files["stops.txt"].count("\n") - 1,
                               "trips": files["trips.txt"].count("\n") - 1,
                               "stop_times": len(frame)}


def write_network(path: Path, seed: int = 0) -> dict[str, int]:
    """Write the network as a GTFS zip at `path` (atomically); return its sizes."""
    data, sizes = network_zip(seed)
    write_file(Path(path), data)
    return sizes


NETWORK_FILE = "reseau-synthetique.zip"


def with_network(toml_text: str) -> str:
    """A generated scenario's text switched to the synthetic network (`gtfs`) for the
    `public` mode (other modes keep crowfly)."""
    if 'model = "crowfly"' not in toml_text:
        return toml_text
    return (toml_text.replace('model = "crowfly"', 'model = "gtfs"', 1)
            + "\n[travel.gtfs]\n"
            f'feeds = ["{NETWORK_FILE}"]\n'
            'modes = ["public"]\n'
            'arrive_by = "09:00"\n'
            'leave_after = "16:30"\n')


def add_network_to_scenario(folder: Path, seed: int = 0) -> dict[str, int]:
    """Write the synthetic network beside a generated scenario and switch its travel model to
    `gtfs` for the `public` mode (other modes keep crowfly)."""
    folder = Path(folder)
    sizes = write_network(folder / NETWORK_FILE, seed)
    path = folder / "scenario.toml"
    text = path.read_text(encoding="utf-8")
    switched = with_network(text)
    if switched != text:
        write_file(path, switched)
    return sizes
