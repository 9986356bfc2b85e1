"""Public-transport minutes from GTFS timetables (`[travel] model = "gtfs"`).

For a pupil riding public transport and an offer, the one-way minutes are the worse of two
door-to-door trips, on the worst weekday of the weeks the offer runs (both scenario weeks for a
two-week offer, its own week for a one-week offer):

- morning: leave home, arrive on site by `arrive_by`; minutes = arrival on site - departure
  from home, waiting for connections included; time on site before `arrive_by` is not counted
  (the fastest journey arriving in time is taken, not the latest departure);
- evening: leave the site at or after `leave_after`, arrive home; minutes = arrival home -
  departure from site (waiting at the site is not counted, waiting at stops is).

Rules of a journey (all in `GtfsParams`): walk in a straight line at `walk_kmh`, at most
`max_walk_m` from home to the first stop and from the last stop to the site; the whole walk
when home and site are at most `max_walk_m` apart; at most `max_transfers` changes, each at
least `min_transfer_minutes` (within a station, or on foot to a station within
`TRANSFER_WALK_M`); the whole morning journey lies within `window_minutes` before
`arrive_by`, the evening one within `window_minutes` after `leave_after`. A weekday on which
no trip of any feed runs is taken as a public holiday (no internship that day).

Homes are grouped into square cells of `zone_m` metres (an origin zone): walks start from the
cell's centre, so a home's walk is off by at most `zone_m / sqrt(2)`; sites are exact.

Algorithm: the fastest morning journey leaves home just in time for its first vehicle, a
departure event (station, time) at a station near home; its minutes are the arrival on site -
that time + the walk to the station. So a connection scan (CSA, compiled with numba, at most
`max_transfers + 1` vehicles per journey) runs once per departure event of the stations near
a group of nearby zones, and each zone takes the best of its events: the minimum is exact.
Only the stations a zone may reach within the largest limit (a lower bound by the fastest
rides, whatever the hour) and the connections leaving within it are scanned. The evening is
the same computation on the time-reversed timetable (a journey from site to home backwards in
time is a morning journey from home). Weekdays with the same running trips are computed once;
groups of zones run in parallel processes (one per core); results are cached on disk beside
the scenario (`.affectation-cache/`), keyed by the feeds' contents and every parameter.

New places (offers imagined where none is yet, e.g. the sites of `analysis.mobilisation`) get
their minutes from the same computation with the places as destinations
(`transit_places`), after a place far from every stop moves to a station of its commune.

Length: one algorithm (feeds to events, the compiled scan, the parallel groups, the cache)
whose parts only make sense together; kept whole on purpose.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.domain.params import GtfsParams
from affectation.errors import InputError, Problem
from affectation.geo import flat_km, nearest_communes
from affectation.io.atomic import write_file
from affectation.io.gtfs import Network, feed_digest, read_network, weekdays
from affectation.travel.zones import ZoneMinutes

TRANSFER_WALK_M = 400.0
CACHE_DIR = ".affectation-cache"
CACHE_VERSION = 1
QUERY_CHUNK = 2048  # queries scanned together (memory: stations x chunk x vehicles)
_M_PER_DEG_LAT = 110574.0
_M_PER_DEG_LON = 111320.0
_INF = np.float32(np.inf)


# -- zones and distances ---------------------------------------------------------------------


def zone_cells(lat: np.ndarray, lon: np.ndarray, zone_m: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's zone (index into the sorted unique cells) and the cells' centres.

    Rows of cells are `zone_m` of latitude; within a row, columns are `zone_m` wide at the
    row's centre latitude: a point's cell depends on its position only.
    """
    row = np.floor(lat * _M_PER_DEG_LAT / zone_m).astype(np.int64)
    centre_lat = (row + 0.5) * zone_m / _M_PER_DEG_LAT
    kx = _M_PER_DEG_LON * np.cos(np.radians(centre_lat))
    col = np.floor(lon * kx / zone_m).astype(np.int64)
    cells, zone = np.unique(np.stack([row, col], axis=1), axis=0, return_inverse=True)
    c_lat = (cells[:, 0] + 0.5) * zone_m / _M_PER_DEG_LAT
    c_lon = (cells[:, 1] + 0.5) * zone_m / (_M_PER_DEG_LON * np.cos(np.radians(c_lat)))
    return zone.reshape(-1).astype(np.int64), c_lat, c_lon


def pairs_within(lat_a: np.ndarray, lon_a: np.ndarray, lat_b: np.ndarray, lon_b: np.ndarray,
                 max_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (i, j, metres) with point a_i and b_j at most `max_m` apart (flat-earth distance on
    the ellipsoid, as travel.flat_km), found with a grid of `max_m` cells; sorted by (i, j)."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not len(lat_a) or not len(lat_b) or max_m <= 0:
        return empty
    widest = min(max(float(np.abs(lat_a).max()), float(np.abs(lat_b).max())) + 1.0, 89.0)
    size = max_m * 1.05 + 1.0
    ky, kx = _M_PER_DEG_LAT * 0.99 / size, _M_PER_DEG_LON * np.cos(np.radians(widest)) / size
    base = 1 << 30
    bx = np.floor(lon_b * kx).astype(np.int64)
    by = np.floor(lat_b * ky).astype(np.int64)
    b_key = (bx + base) * (1 << 31) + (by + base)
    order = np.argsort(b_key, kind="stable")
    b_sorted = b_key[order]
    ax = np.floor(lon_a * kx).astype(np.int64)
    ay = np.floor(lat_a * ky).astype(np.int64)
    out_i, out_j = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            key = (ax + dx + base) * (1 << 31) + (ay + dy + base)
            lo = np.searchsorted(b_sorted, key, side="left")
            hi = np.searchsorted(b_sorted, key, side="right")
            count = hi - lo
            i = np.repeat(np.arange(len(lat_a)), count)
            start = np.repeat(lo - np.r_[0, np.cumsum(count)[:-1]], count)
            j = order[start + np.arange(len(i))]
            out_i.append(i)
            out_j.append(j)
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    metres = flat_km(lat_a[i], lon_a[i], lat_b[j], lon_b[j]) * 1000.0
    keep = metres <= max_m
    i, j, metres = i[keep], j[keep], metres[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], metres[order]


# -- connections -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Connections:
    """Elementary rides (one vehicle between consecutive stops), sorted by departure time."""

    dep_station: np.ndarray
    arr_station: np.ndarray
    dep: np.ndarray  # seconds
    arr: np.ndarray
    trip: np.ndarray
    board: np.ndarray  # boarding allowed at the departure stop
    alight: np.ndarray  # alighting allowed at the arrival stop
    last_of_trip: np.ndarray  # the trip's last connection in scan order

    @property
    def n(self) -> int:
        return len(self.dep)


def all_connections(net: Network) -> dict[str, np.ndarray]:
    """Every connection of the network (unsorted, times of the trip's service day)."""
    same = net.st_trip[1:] == net.st_trip[:-1]
    a = np.flatnonzero(same)
    return {"dep_station": net.st_station[a], "arr_station": net.st_station[a + 1],
            "dep": net.st_departure[a], "arr": net.st_arrival[a + 1], "trip": net.st_trip[a],
            "board": net.st_pickup[a], "alight": net.st_dropoff[a + 1],
            "seq": np.arange(len(a))}


def day_connections(conn: dict[str, np.ndarray], today: np.ndarray, yesterday: np.ndarray,
                    lo: float, hi: float, reverse: bool) -> Connections:
    """Connections of the trips running `today` (and `yesterday`'s trips after midnight,
    moved back a day) departing at or after `lo` and arriving by `hi`; with `reverse`, the
    time-reversed timetable (times negated, directions swapped), for the evening."""
    parts = []
    for trips, shift in ((today, 0.0), (yesterday, -86400.0)):
        mask = np.isin(conn["trip"], trips)
        dep, arr = conn["dep"][mask] + shift, conn["arr"][mask] + shift
        keep = (dep >= lo) & (arr <= hi)
        parts.append({k: v[mask][keep] for k, v in conn.items()} | {"dep": dep[keep],
                                                                    "arr": arr[keep]})
    c = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if reverse:
        c = {"dep_station": c["arr_station"], "arr_station": c["dep_station"], "dep": -c["arr"],
             "arr": -c["dep"], "trip": c["trip"], "board": c["alight"], "alight": c["board"],
             "seq": -c["seq"]}
    order = np.lexsort((c["seq"], c["dep"]))
    c = {k: v[order] for k, v in c.items()}
    last = np.zeros(len(order), dtype=bool)
    if len(order):
        _, last_idx = np.unique(c["trip"][::-1], return_index=True)
        last[len(order) - 1 - last_idx] = True
    return Connections(dep_station=c["dep_station"], arr_station=c["arr_station"], dep=c["dep"],
                       arr=c["arr"], trip=c["trip"], board=c["board"], alight=c["alight"],
                       last_of_trip=last)


# -- the scan ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Access:
    """Walks between points and stations, CSR by point: stations, seconds."""

    indptr: np.ndarray
    station: np.ndarray
    seconds: np.ndarray

    @staticmethod
    def build(lat: np.ndarray, lon: np.ndarray, net: Network, max_m: float,
              speed_ms: float) -> _Access:
        i, j, metres = pairs_within(lat, lon, net.station_lat, net.station_lon, max_m)
        indptr = np.zeros(len(lat) + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=len(lat)), out=indptr[1:])
        return _Access(indptr, j, metres / speed_ms)


def scan(conns: Connections, n_stations: int, start: np.ndarray, q_station: np.ndarray,
         q_seconds: np.ndarray, q_query: np.ndarray, n_queries: int, vehicles: int,
         slack: float, foot: _Access, cap: float = np.inf) -> np.ndarray:
    """Earliest arrival at every station off a vehicle (at most `vehicles` of them), for each
    query, counting only journeys of at most `cap` seconds.

    Query q leaves at `start[q]` and reaches stations `q_station` (rows of `q_query == q`) on
    foot in `q_seconds`. Returns (stations, queries) float32 seconds (inf = not reached).
    """
    order = np.argsort(q_query, kind="stable")
    q_ptr = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(q_query, minlength=n_queries), out=q_ptr[1:])
    trips, trip_index = np.unique(conns.trip, return_inverse=True)
    out = np.full((n_stations, n_queries), _INF, dtype=np.float32)
    _csa(conns.dep_station.astype(np.int64), conns.arr_station.astype(np.int64),
         conns.dep.astype(np.float64), conns.arr.astype(np.float64),
         trip_index.reshape(-1).astype(np.int64), conns.board.astype(np.bool_),
         conns.alight.astype(np.bool_), len(trips), start.astype(np.float64), q_ptr,
         q_station[order].astype(np.int64), q_seconds[order].astype(np.float64), vehicles,
         float(slack), foot.indptr.astype(np.int64), foot.station.astype(np.int64),
         foot.seconds.astype(np.float64), float(cap), out)
    return out


@numba.njit(cache=True, nogil=True)
def _csa(dep_st: np.ndarray, arr_st: np.ndarray, dep: np.ndarray, arr: np.ndarray,
         trip: np.ndarray, board: np.ndarray, alight: np.ndarray, n_trips: int,
         q_start: np.ndarray, q_ptr: np.ndarray, q_station: np.ndarray,
         q_seconds: np.ndarray, vehicles: int, slack: float, f_ptr: np.ndarray,
         f_st: np.ndarray, f_sec: np.ndarray, cap: float, out: np.ndarray) -> None:
    """The connection scan, one query at a time (compiled).

    `ready[k, s]`: when the query can board at station s having used at most k vehicles (a
    walk from home, an arrival plus the transfer time, or a transfer walk); it decreases
    with k. `used[t]`: fewest vehicles with which the query is on trip t (vehicles + 1 =
    not on it). Only connections leaving within `cap` of the start are scanned.
    """
    n_st = out.shape[0]
    n_conn = len(dep)
    ready = np.empty((vehicles, n_st))
    used = np.empty(n_trips, dtype=np.int64)
    for q in range(len(q_start)):
        ready[:, :] = np.inf
        used[:] = vehicles + 1
        t0 = q_start[q]
        for r in range(q_ptr[q], q_ptr[q + 1]):
            s = q_station[r]
            t = t0 + q_seconds[r]
            for k in range(vehicles):
                if t < ready[k, s]:
                    ready[k, s] = t
        end = t0 + cap
        c = np.searchsorted(dep, t0)
        while c < n_conn and dep[c] <= end:
            if arr[c] - t0 > cap:
                c += 1
                continue
            tr = trip[c]
            n_used = used[tr]
            if board[c]:
                u = dep_st[c]
                for k in range(min(vehicles, n_used - 1)):
                    if ready[k, u] <= dep[c]:
                        n_used = k + 1
                        used[tr] = n_used
                        break
            if n_used <= vehicles and alight[c]:
                v = arr_st[c]
                a = arr[c]
                if a < out[v, q]:
                    out[v, q] = a
                after = a + slack
                for k in range(n_used, vehicles):
                    if after < ready[k, v]:
                        ready[k, v] = after
                    for f in range(f_ptr[v], f_ptr[v + 1]):
                        w = f_st[f]
                        if after + f_sec[f] < ready[k, w]:
                            ready[k, w] = after + f_sec[f]
            c += 1


# -- minutes ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """What one direction's computation needs, independent of the day."""

    zone_lat: np.ndarray
    zone_lon: np.ndarray
    offer_lat: np.ndarray
    offer_lon: np.ndarray
    params: GtfsParams
    net: Network


@dataclass(frozen=True, eq=False)
class _Static:
    """Lower bounds on travel between stations whatever the hour: the fastest ride between
    consecutive stops and the transfer walks, as a CSR graph (lists, for the heap search)."""

    indptr: list[int]
    target: list[int]
    seconds: list[float]

    @staticmethod
    def build(conns: Connections, foot: _Access, n_stations: int) -> _Static:
        f_src = np.repeat(np.arange(n_stations), np.diff(foot.indptr))
        u = np.concatenate([conns.dep_station, f_src])
        v = np.concatenate([conns.arr_station, foot.station])
        w = np.concatenate([conns.arr - conns.dep, foot.seconds])
        key = u.astype(np.int64) * n_stations + v
        order = np.lexsort((w, key))
        first = np.r_[True, key[order][1:] != key[order][:-1]] if len(order) else \
            np.zeros(0, bool)
        keep = order[first]
        u, v, w = u[keep], v[keep], w[keep]
        indptr = np.zeros(n_stations + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=n_stations), out=indptr[1:])
        return _Static(indptr.tolist(), v.tolist(), w.tolist())

    def bounds(self, sources: np.ndarray, start: np.ndarray, n_stations: int,
               cutoff: float) -> np.ndarray:
        """Fewest seconds from the sources (each with its own start) to every station,
        searched up to `cutoff` (inf beyond)."""
        dist = np.full(n_stations, np.inf)
        np.minimum.at(dist, sources, start)
        heap = [(float(dist[s]), int(s)) for s in np.unique(sources)]
        heapq.heapify(heap)
        done = np.zeros(n_stations, dtype=bool)
        indptr, target, seconds = self.indptr, self.target, self.seconds
        while heap:
            d, s = heapq.heappop(heap)
            if done[s]:
                continue
            done[s] = True
            for e in range(indptr[s], indptr[s + 1]):
                t, nd = target[e], d + seconds[e]
                if nd <= cutoff and nd < dist[t]:
                    dist[t] = nd
                    heapq.heappush(heap, (nd, t))
        return dist


def _local(conns: Connections, foot: _Access, stations: np.ndarray, n_stations: int
           ) -> tuple[Connections, _Access, np.ndarray]:
    """The connections and transfer walks among `stations` (sorted), renumbered; and the
    local number of every station (-1 outside)."""
    index = np.full(n_stations, -1, dtype=np.int64)
    index[stations] = np.arange(len(stations))
    keep = (index[conns.dep_station] >= 0) & (index[conns.arr_station] >= 0)
    local = Connections(dep_station=index[conns.dep_station[keep]],
                        arr_station=index[conns.arr_station[keep]], dep=conns.dep[keep],
                        arr=conns.arr[keep], trip=conns.trip[keep], board=conns.board[keep],
                        alight=conns.alight[keep], last_of_trip=conns.last_of_trip[keep])
    f_src = np.repeat(np.arange(n_stations), np.diff(foot.indptr))
    f_keep = (index[f_src] >= 0) & (index[foot.station] >= 0)
    src = index[f_src[f_keep]]
    indptr = np.zeros(len(stations) + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=len(stations)), out=indptr[1:])
    return local, _Access(indptr, index[foot.station[f_keep]], foot.seconds[f_keep]), index


def _direction(conns: Connections, static: _Static, prob: _Problem, home: _Access,
               site: _Access, foot: _Access, zones: np.ndarray, deadline: float,
               cap: float) -> np.ndarray:
    """Fastest door-to-door seconds (offers, len(zones)) of journeys from the zones leaving
    at or after `deadline - window` and arriving by `deadline` (inf = none or longer than
    `cap`: only the stations some zone may reach within `cap` are scanned).

    A journey's first vehicle is some departure (station s, time tau) at a station near
    home; leaving home just in time for it, its minutes are the arrival on site - tau + the
    walk to s. So the scan runs once per such departure event, shared by every zone near s,
    and each zone takes the best of its events: the minimum is exact.
    """
    g = prob.params
    lo = deadline - g.window_minutes * 60.0
    n_off, n_st = len(prob.offer_lat), prob.net.n_stations
    best = np.full((n_off, len(zones)), _INF, dtype=np.float32)
    counts = home.indptr[zones + 1] - home.indptr[zones]
    rows = _spans(home.indptr[zones], counts)
    if not len(rows) or not conns.n:
        return best
    bound = static.bounds(home.station[rows], home.seconds[rows], n_st, cap)
    stations = np.flatnonzero(bound <= cap)
    conns, foot, index = _local(conns, foot, stations, n_st)
    # Departure events at the zones' stations (local numbers), sorted by station then time.
    access = np.unique(index[home.station[rows]])
    access = access[access >= 0]
    boardable = np.flatnonzero(conns.board & np.isin(conns.dep_station, access)
                               & (conns.dep >= lo) & (conns.dep <= deadline))
    if not len(boardable):
        return best
    events = np.unique(np.stack([conns.dep_station[boardable].astype(np.float64),
                                 conns.dep[boardable]], axis=1), axis=0)
    ev_station, ev_time = events[:, 0].astype(np.int64), events[:, 1]
    ev_ptr = np.searchsorted(ev_station, np.arange(len(stations) + 1))
    egress = np.flatnonzero(index[site.station] >= 0)
    egress_offer = np.repeat(np.arange(n_off), np.diff(site.indptr))[egress]
    egress_station = index[site.station[egress]]
    egress_seconds = site.seconds[egress].astype(np.float64)
    offers, egress_local = np.unique(egress_offer, return_inverse=True)
    zone_col = np.repeat(np.arange(len(zones)), counts)
    z_station = index[home.station[rows]]
    z_seconds = home.seconds[rows].astype(np.float64)
    for e0 in range(0, len(ev_time), QUERY_CHUNK):
        e1 = min(e0 + QUERY_CHUNK, len(ev_time))
        n_ev = e1 - e0
        ea = scan(conns, len(stations), ev_time[e0:e1], ev_station[e0:e1],
                  np.zeros(n_ev), np.arange(n_ev), n_ev, g.max_transfers + 1,
                  g.min_transfer_minutes * 60.0, foot, cap)
        _combine(ea, ev_time[e0:e1], e0, ev_ptr, egress_local.reshape(-1), egress_station,
                 egress_seconds, len(offers), float(deadline), lo, zone_col, z_station,
                 z_seconds, offers, best)
    return best


def _spans(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges start[i] .. start[i] + count[i] - 1."""
    return np.repeat(start - np.r_[0, np.cumsum(count)[:-1]], count) + \
        np.arange(int(count.sum()))


@numba.njit(cache=True, nogil=True)
def _combine(ea: np.ndarray, ev_time: np.ndarray, ev_first: int, ev_ptr: np.ndarray,
             egress_offer: np.ndarray, egress_station: np.ndarray, egress_seconds: np.ndarray,
             n_offers: int, deadline: float, lo: float, zone_col: np.ndarray,
             z_station: np.ndarray, z_seconds: np.ndarray, offers: np.ndarray,
             best: np.ndarray) -> None:
    """best[offer, zone] = min over the zone's stations s (walk w) and the events e at s
    leaving home late enough (time - w >= lo) of arrival(offer, e) - time + w, where
    arrival(offer, e) is the earliest arrival on site by `deadline` (compiled)."""
    n_ev = ea.shape[1]
    arrive = np.full((n_offers, n_ev), np.inf)
    for r in range(len(egress_offer)):
        j, s, w = egress_offer[r], egress_station[r], egress_seconds[r]
        for e in range(n_ev):
            a = ea[s, e] + w
            if a <= deadline and a < arrive[j, e]:
                arrive[j, e] = a
    for r in range(len(zone_col)):
        s = z_station[r]
        if s < 0:
            continue
        z, w = zone_col[r], z_seconds[r]
        for e in range(max(ev_ptr[s], ev_first), min(ev_ptr[s + 1], ev_first + n_ev)):
            tau = ev_time[e - ev_first]
            if tau - w < lo:
                continue
            for j in range(n_offers):
                a = arrive[j, e - ev_first]
                if a < np.inf:
                    d = a - tau + w
                    o = offers[j]
                    if d < best[o, z]:
                        best[o, z] = d


@dataclass(frozen=True, eq=False)
class _Days:
    """The distinct service days of the scenario weeks, their connections in both windows,
    and which of them each week holds."""

    morning: list[Connections]
    evening: list[Connections]
    week_days: tuple[list[int], list[int]]
    morning_static: list[_Static]
    evening_static: list[_Static]


def _service_days(net: Network, g: GtfsParams, weeks: tuple[str, str], foot: _Access
                  ) -> _Days:
    conn = all_connections(net)
    window = g.window_minutes * 60.0
    a, e = g.arrive_by, g.leave_after
    keys: dict[bytes, int] = {}
    morning: list[Connections] = []
    evening: list[Connections] = []
    week_days: tuple[list[int], list[int]] = ([], [])
    for w, week in enumerate(weeks):
        for d in weekdays(week):
            today = net.active_trips(d)
            yesterday = net.active_trips(d.fromordinal(d.toordinal() - 1))
            if not len(today):
                continue  # nothing runs: a public holiday
            key = today.tobytes() + b"|" + yesterday.tobytes()
            if key not in keys:
                keys[key] = len(morning)
                morning.append(day_connections(conn, today, yesterday, a - window, a, False))
                evening.append(day_connections(conn, today, yesterday, e, e + window, True))
            if keys[key] not in week_days[w]:
                week_days[w].append(keys[key])
    if not week_days[0] or not week_days[1]:
        raise InputError([Problem(
            "scenario.toml", "des flux GTFS dont des courses circulent pendant les semaines "
            f"du scénario ({weeks[0]}, {weeks[1]}) ; décaler leurs dates avec "
            "{ path = ..., shift_weeks = N }", column="travel.gtfs.feeds")])
    n = net.n_stations
    return _Days(morning, evening, week_days, [_Static.build(c, foot, n) for c in morning],
                 [_Static.build(c, foot, n) for c in evening])


def zone_offer_minutes(prob: _Problem, weeks: tuple[str, str], periods: np.ndarray,
                       cap_minutes: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worst-weekday door-to-door minutes as sparse (zone, offer, minutes), kept when at most
    `cap_minutes`: the worse of morning and evening, over the weeks each offer runs
    (`periods`: 0 both, 1 or 2); a pair absent is impossible on some day or too long."""
    g, net = prob.params, prob.net
    speed = g.walk_kmh / 3.6
    home = _Access.build(prob.zone_lat, prob.zone_lon, net, g.max_walk_m, speed)
    site = _Access.build(prob.offer_lat, prob.offer_lon, net, g.max_walk_m, speed)
    foot_m = min(TRANSFER_WALK_M, g.max_walk_m)
    fi, fj, fm = pairs_within(net.station_lat, net.station_lon, net.station_lat,
                              net.station_lon, foot_m)
    keep = fi != fj
    fptr = np.zeros(net.n_stations + 1, dtype=np.int64)
    np.cumsum(np.bincount(fi[keep], minlength=net.n_stations), out=fptr[1:])
    foot = _Access(fptr, fj[keep], fm[keep] / speed)
    days = _service_days(net, g, weeks, foot)
    wi, wj, wm = pairs_within(prob.offer_lat, prob.offer_lon, prob.zone_lat, prob.zone_lon,
                              g.max_walk_m)
    walk_seconds = (wm / speed).astype(np.float32)
    groups = _zone_groups(prob.zone_lat, prob.zone_lon, g.zone_m)
    state = _GroupState(prob, days, home, site, foot, wi, wj, walk_seconds, periods,
                        np.float32(cap_minutes * 60.0))
    workers = min(_cores(), max(len(groups) // 8, 1))
    # A daemonic process (a Dask worker running a national block) may not have children:
    # the groups are then computed inline.
    if multiprocessing.current_process().daemon:
        workers = 1
    if workers > 1:
        _SHARED["state"] = state  # inherited by the forked workers
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                parts = list(pool.map(_group_in_worker, range(len(groups)),
                                      [groups] * len(groups), chunksize=1))
        finally:
            _SHARED.clear()
    else:
        parts = [state.minutes(zones) for zones in groups]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return tuple(np.concatenate([part[i] for part in parts])  # type: ignore[return-value]
                 for i in range(3))


_SHARED: dict[str, _GroupState] = {}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _group_in_worker(k: int, groups: list[np.ndarray]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _SHARED["state"].minutes(groups[k])


@dataclass(frozen=True, eq=False)
class _GroupState:
    """Everything a group of zones needs; `minutes(zones)` is independent per group."""

    prob: _Problem
    days: _Days
    home: _Access
    site: _Access
    foot: _Access
    walk_offer: np.ndarray  # direct walks: offer, zone, seconds
    walk_zone: np.ndarray
    walk_seconds: np.ndarray
    periods: np.ndarray
    cap: np.float32

    def minutes(self, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g, days = self.prob.params, self.days
        n_off = len(self.prob.offer_lat)
        walk = np.full((n_off, len(zones)), _INF, dtype=np.float32)
        sel = np.isin(self.walk_zone, zones)
        walk[self.walk_offer[sel], np.searchsorted(zones, self.walk_zone[sel])] = \
            self.walk_seconds[sel]
        per_day = []
        for k in range(len(days.morning)):
            morning = _direction(days.morning[k], days.morning_static[k], self.prob,
                                 self.home, self.site, self.foot, zones, float(g.arrive_by),
                                 float(self.cap))
            evening = _direction(days.evening[k], days.evening_static[k], self.prob,
                                 self.home, self.site, self.foot, zones, -float(g.leave_after),
                                 float(self.cap))
            per_day.append(np.maximum(np.minimum(walk, morning), np.minimum(walk, evening)))
        week_worst = []
        for w in (0, 1):
            acc = np.zeros((n_off, len(zones)), dtype=np.float32)
            for k in days.week_days[w]:
                np.maximum(acc, per_day[k], out=acc)
            week_worst.append(acc)
        p = self.periods[:, None]
        worst = np.where(p == 1, week_worst[0],
                         np.where(p == 2, week_worst[1], np.maximum(*week_worst)))
        o_idx, z_idx = np.nonzero(worst <= self.cap)
        return zones[z_idx], o_idx, worst[o_idx, z_idx].astype(np.float64) / 60.0


ZONE_GROUP = 48  # origin zones computed together (they share a connection scan)


def _zone_groups(lat: np.ndarray, lon: np.ndarray, zone_m: float) -> list[np.ndarray]:
    """Zones in groups of nearby ones (blocks of about 5 km), each group sorted: nearby
    homes reach the same part of the network, so that the scan skips the rest."""
    block = max(5000.0 / zone_m, 1.0)
    row = np.floor(lat * _M_PER_DEG_LAT / zone_m / block)
    col = np.floor(lon * _M_PER_DEG_LON * np.cos(np.radians(lat)) / zone_m / block)
    order = np.lexsort((lon, lat, col, row))
    return [np.sort(order[k:k + ZONE_GROUP]) for k in range(0, len(order), ZONE_GROUP)]


def _origins(instance: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Each pupil's origin zone (-1: a mode the timetables do not cover), the zones' centres
    (lat, lon), and the largest limit of the covered modes (longer pairs are not kept)."""
    scenario = instance.scenario
    g = scenario.travel.gtfs
    assert g is not None
    st = instance.students
    names = np.array(scenario.travel.mode_names, dtype=object)
    covered = np.isin(names[st.mode], list(g.modes)) if st.n else np.zeros(0, bool)
    cap = max((scenario.travel.modes[m].max_minutes for m in g.modes
               if m in scenario.travel.modes), default=0.0)
    origin = np.full(st.n, -1, dtype=np.int64)
    zone, z_lat, z_lon = zone_cells(st.lat[covered], st.lon[covered], g.zone_m)
    origin[covered] = zone
    return origin, z_lat, z_lon, cap


def transit_minutes(instance: Instance) -> ZoneMinutes:
    """Minutes by timetable for the pupils whose mode is in `[travel.gtfs] modes` (others:
    origin -1), cached on disk beside the scenario. Pairs longer than the largest limit of
    those modes are not kept (unreachable)."""
    scenario = instance.scenario
    g = scenario.travel.gtfs
    assert g is not None
    of = instance.offers
    origin, z_lat, z_lon, cap = _origins(instance)
    key = _cache_key(g, scenario.scenario.weeks, cap, z_lat, z_lon, of.lat, of.lon, of.period)
    cache = Path(scenario.path).parent / CACHE_DIR / f"transit-{key[:40]}.npz"
    table = _load_cache(cache)
    if table is None:
        net = read_network(g.feeds, g.added_lines, Path(scenario.path).name)
        prob = _Problem(z_lat, z_lon, of.lat, of.lon, g, net)
        z_idx, o_idx, minutes = zone_offer_minutes(prob, scenario.scenario.weeks, of.period,
                                                   cap)
        keys = z_idx.astype(np.int64) * of.n + o_idx
        order = np.argsort(keys, kind="stable")
        table = (keys[order], minutes[order])
        _save_cache(cache, *table)
    return ZoneMinutes(origin_of_student=origin, dest_of_offer=np.arange(of.n, dtype=np.int64),
                       n_dest=of.n, key=table[0], minutes=table[1])


def transit_places(instance: Instance, lat: np.ndarray, lon: np.ndarray, insee: np.ndarray,
                   communes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, ZoneMinutes]:
    """Where new places (offers imagined open both weeks, e.g. the sites of
    `analysis.mobilisation`) stand for public transport, and the minutes by timetable from
    the pupils' zones to them (`ZoneMinutes` with one destination per place).

    A place stays at its position (`lat`, `lon`, in the commune `insee`) when a station is
    within `max_walk_m` of it; otherwise it moves to the station nearest to it among the
    stations of its commune (a station belongs to the commune whose centroid in `communes`
    is nearest, within `territory.OUTSIDE_KM`, as homes do), where a firm reachable by
    public transport would be; a commune without a station keeps the position (its
    public-transport pupils can only walk there). Minutes are those of an offer at the
    place open both weeks (`transit_minutes`); cached on disk beside the scenario.
    """
    from affectation.domain.territory import OUTSIDE_KM

    scenario = instance.scenario
    g = scenario.travel.gtfs
    assert g is not None
    n = len(lat)
    origin, z_lat, z_lon, cap = _origins(instance)
    c_insee = communes["insee"].to_numpy(dtype=str)
    c_lat, c_lon = communes["lat"].to_numpy(np.float64), communes["lon"].to_numpy(np.float64)
    names = np.asarray(insee, dtype=str)
    key = _cache_key(g, scenario.scenario.weeks, cap, z_lat, z_lon, np.asarray(lat),
                     np.asarray(lon), np.char.encode(names), np.char.encode(c_insee), c_lat,
                     c_lon)
    cache = Path(scenario.path).parent / CACHE_DIR / f"places-{key[:40]}.npz"
    try:
        with np.load(cache) as data:
            return (data["lat"], data["lon"], ZoneMinutes(
                origin_of_student=origin, dest_of_offer=np.arange(n, dtype=np.int64),
                n_dest=n, key=data["key"], minutes=data["minutes"]))
    except (OSError, KeyError, ValueError):
        pass
    net = read_network(g.feeds, g.added_lines, Path(scenario.path).name)
    lat, lon = np.array(lat, dtype=np.float64), np.array(lon, dtype=np.float64)
    near, _, _ = pairs_within(lat, lon, net.station_lat, net.station_lon, g.max_walk_m)
    lonely = np.setdiff1d(np.arange(n), near)
    if len(lonely) and net.n_stations:
        row, km = nearest_communes(net.station_lat, net.station_lon, communes)
        station_insee = np.where(km <= OUTSIDE_KM, c_insee[row], "")
        for k in lonely.tolist():
            mine = np.flatnonzero(station_insee == names[k])
            if len(mine):
                d = flat_km(np.full(len(mine), lat[k]), np.full(len(mine), lon[k]),
                            net.station_lat[mine], net.station_lon[mine])
                best = mine[int(np.argmin(d))]
                lat[k], lon[k] = net.station_lat[best], net.station_lon[best]
    prob = _Problem(z_lat, z_lon, lat, lon, g, net)
    z_idx, p_idx, minutes = zone_offer_minutes(prob, scenario.scenario.weeks,
                                               np.zeros(n, dtype=np.int64), cap)
    keys = z_idx.astype(np.int64) * n + p_idx
    order = np.argsort(keys, kind="stable")
    try:
        buffer = io.BytesIO()
        np.savez(buffer, lat=lat, lon=lon, key=keys[order], minutes=minutes[order])
        write_file(cache, buffer.getvalue())
    except OSError:
        pass
    return lat, lon, ZoneMinutes(origin_of_student=origin,
                                 dest_of_offer=np.arange(n, dtype=np.int64), n_dest=n,
                                 key=keys[order], minutes=minutes[order])


def _cache_key(g: GtfsParams, weeks: tuple[str, str], cap: float, *arrays: np.ndarray
               ) -> str:
    digest = hashlib.sha256()
    params = asdict(g)
    params["feeds"] = [feed_digest(f) for f in g.feeds]
    digest.update(json.dumps({"v": CACHE_VERSION, "params": params, "weeks": list(weeks),
                              "cap": cap}, sort_keys=True, default=str).encode())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def _load_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as data:
            return data["key"], data["minutes"]
    except (OSError, KeyError, ValueError):
        return None


def _save_cache(path: Path, key: np.ndarray, minutes: np.ndarray) -> None:
    """Write atomically; a folder that cannot be written only loses the cache."""
    try:
        buffer = io.BytesIO()
        np.savez(buffer, key=key, minutes=minutes)
        write_file(path, buffer.getvalue())
    except OSError:
        return
