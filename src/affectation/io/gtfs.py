"""GTFS reading: one or more public-transport feeds as arrays ready for routing.

A feed is a zip file or a folder of GTFS text files. What is read:

- `stops.txt`: a stop with a `parent_station` is merged into its station (a platform is its
  station), so changing platforms is a transfer within the station. Entrances, generic nodes
  and boarding areas (`location_type` 2, 3, 4) are ignored.
- `trips.txt`, `stop_times.txt` (times may pass 24:00:00; empty intermediate times are
  interpolated linearly along the trip; `pickup_type`/`drop_off_type` 1 forbid boarding or
  alighting), `calendar.txt` and `calendar_dates.txt` (either may be absent, not both),
  `frequencies.txt` (each headway-based trip is expanded into one trip per departure from
  `start_time` to before `end_time`). `routes.txt` is checked for presence only.
- Encodings: UTF-8 (with or without BOM); else Windows-1252, else Latin-1 when the text then
  holds no control characters (real feeds are sometimes exported that way). Anything else is
  an input error naming the file.

Every defect is a `Problem` with the feed file, line, column and value. Several feeds are
merged with their identifiers kept apart (stations of different feeds stay distinct).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from affectation.domain.params import AddedLine, FeedParams
from affectation.errors import InputError, Problem, raise_if_any

REQUIRED = {
    "stops.txt": ("stop_id", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id",),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
}
CALENDAR_COLUMNS = ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday",
                    "saturday", "sunday", "start_date", "end_date")
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"} | {chr(c) for c in range(127, 160)}


@dataclass(frozen=True, eq=False)
class Network:
    """Stations, trips and their stop times, all feeds merged (index-based arrays).

    `st_*` arrays are one row per stop time, sorted by trip then sequence; times are seconds
    after midnight of the service day (may exceed 86,400). A trip runs on a date when its
    service is active that date (`active_services`).
    """

    station_id: np.ndarray  # "feed:stop_id" of each station
    station_lat: np.ndarray
    station_lon: np.ndarray
    trip_id: np.ndarray  # "feed:trip_id" (frequency copies get "#k")
    trip_service: np.ndarray  # index into services
    st_trip: np.ndarray
    st_station: np.ndarray
    st_arrival: np.ndarray
    st_departure: np.ndarray
    st_pickup: np.ndarray  # boarding allowed
    st_dropoff: np.ndarray  # alighting allowed
    service_id: np.ndarray  # "feed:service_id"
    service_weekdays: np.ndarray  # (services, 7) bool, Monday first
    service_start: np.ndarray  # ordinal dates (date.toordinal), inclusive
    service_end: np.ndarray
    exception_service: np.ndarray
    exception_date: np.ndarray  # ordinal
    exception_added: np.ndarray  # bool: True = added, False = removed

    @property
    def n_stations(self) -> int:
        return len(self.station_id)

    @property
    def n_trips(self) -> int:
        return len(self.trip_id)

    def active_services(self, day: date) -> np.ndarray:
        """Boolean per service: does it run on `day`."""
        ordinal = day.toordinal()
        active = (self.service_weekdays[:, day.weekday()] & (self.service_start <= ordinal)
                  & (ordinal <= self.service_end))
        here = self.exception_date == ordinal
        active[self.exception_service[here & self.exception_added]] = True
        active[self.exception_service[here & ~self.exception_added]] = False
        return active

    def active_trips(self, day: date) -> np.ndarray:
        """Indices of the trips running on `day` (sorted)."""
        return np.flatnonzero(self.active_services(day)[self.trip_service])


def feed_digest(source: FeedParams) -> str:
    """SHA-256 of a feed's content (the zip file, or the folder's .txt files by name)."""
    digest = hashlib.sha256(f"shift={source.shift_weeks};".encode())
    path = Path(source.path)
    files = [path] if path.is_file() else sorted(path.glob("*.txt"))
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def read_network(sources: list[FeedParams] | tuple[FeedParams, ...],
                 added: tuple[AddedLine, ...] = (), where: str = "scenario.toml") -> Network:
    """Read and merge every feed, and the scenario's added lines (stops at commune
    centroids); raise `InputError` listing every problem found."""
    parts: list[_Feed] = []
    problems: list[Problem] = []
    for k, source in enumerate(sources):
        try:
            parts.append(_read_feed(source, prefix=f"{k}:"))
        except InputError as exc:
            problems.extend(exc.problems)
    if added:
        try:
            parts.append(added_lines_feed(added, where))
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    return _merge(parts)


def added_lines_feed(lines: tuple[AddedLine, ...], where: str) -> _Feed:
    """The scenario's "what if" lines as a feed: one station per commune centroid, trips
    every weekday at each departure time (and back, when `both_directions`)."""
    from affectation.geodata import load_communes

    communes = load_communes().set_index("insee")
    problems = [Problem(where, "un code INSEE de commune normande", column=f"travel.gtfs."
                        f"added_lines[{k}].communes", value=code)
                for k, line in enumerate(lines) for code in line.communes
                if code not in communes.index]
    raise_if_any(problems)
    codes = sorted({c for line in lines for c in line.communes})
    station = {c: i for i, c in enumerate(codes)}
    stations = pd.DataFrame({"id": [f"ajout:{c}" for c in codes],
                             "lat": communes.loc[codes, "lat"].to_numpy(np.float64),
                             "lon": communes.loc[codes, "lon"].to_numpy(np.float64)})
    trip_ids: list[str] = []
    rows: list[tuple[int, int, int, float]] = []
    for k, line in enumerate(lines):
        offsets = np.r_[0.0, np.cumsum(line.minutes)] * 60.0
        patterns = [(line.communes, offsets)]
        if line.both_directions:
            patterns.append((line.communes[::-1], offsets[-1] - offsets[::-1]))
        for d, (stops, times) in enumerate(patterns):
            for start in line.departures:
                trip = len(trip_ids)
                trip_ids.append(f"ajout:{k}:{d}:{start}")
                rows.extend((trip, seq, station[c], start + t)
                            for seq, (c, t) in enumerate(zip(stops, times, strict=True)))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    stop_times = pd.DataFrame({"trip": table[:, 0].astype(np.int64),
                               "seq": table[:, 1].astype(np.int64),
                               "station": table[:, 2].astype(np.int64),
                               "arrival": table[:, 3], "departure": table[:, 3],
                               "pickup": True, "dropoff": True, "line": 0})
    services = pd.DataFrame({"id": ["ajout:semaine"], **{f"w{d}": [d < 5] for d in range(7)},
                             "start": [0], "end": [date.max.toordinal()]})
    exceptions = pd.DataFrame({"service": pd.Series([], dtype=np.int64),
                               "date": pd.Series([], dtype=np.int64),
                               "added": pd.Series([], dtype=bool)})
    return _Feed(stations=stations,
                 trips=pd.DataFrame({"id": trip_ids, "service": 0}),
                 stop_times=stop_times, services=services, exceptions=exceptions)


# -- one feed ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Feed:
    stations: pd.DataFrame  # id, lat, lon
    trips: pd.DataFrame  # id, service
    stop_times: pd.DataFrame  # trip, station, arrival, departure, pickup, dropoff
    services: pd.DataFrame  # id, weekdays (7 cols), start, end
    exceptions: pd.DataFrame  # service, date, added


class _Files:
    """The text files of one feed (zip or folder), decoded to pandas string tables."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.label = self.path.name
        self.zip: zipfile.ZipFile | None = None
        self.names: dict[str, str] = {}
        if self.path.is_dir():
            self.names = {p.name: p.name for p in self.path.iterdir() if p.suffix == ".txt"}
        elif self.path.is_file():
            try:
                self.zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError):
                raise InputError([Problem(self.label, "un flux GTFS : fichier zip ou dossier "
                                          "de fichiers .txt")]) from None
            for name in self.zip.namelist():
                base = name.rsplit("/", 1)[-1]
                if base.endswith(".txt") and base not in self.names:
                    self.names[base] = name
        else:
            raise InputError([Problem(str(self.path), "un flux GTFS existant (zip ou dossier)")])

    def has(self, name: str) -> bool:
        return name in self.names

    def where(self, name: str) -> str:
        return f"{self.label}/{name}"

    def raw(self, name: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(self.names[name])
        return (self.path / self.names[name]).read_bytes()

    def table(self, name: str, required: tuple[str, ...]) -> pd.DataFrame:
        """The file as strings (empty cells ""), with `line` = its line in the file."""
        text = decode(self.raw(name), self.where(name))
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError([Problem(self.where(name), f"un fichier CSV valide ({exc})")]
                             ) from None
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError([Problem(self.where(name), "colonne(s) obligatoire(s) manquante(s)"
                                      " : " + ", ".join(missing), line=1)])
        frame = frame.apply(lambda col: col.str.strip())
        frame["line"] = np.arange(len(frame)) + 2
        return frame


def decode(raw: bytes, where: str) -> str:
    """The text of a GTFS file: UTF-8 (BOM allowed), else Windows-1252 or Latin-1 when the
    result holds no control character; else an input error naming the file."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    for encoding in ("cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not any(c in _CONTROL for c in text):
            return text
    line = raw[:first_bad].count(b"\n") + 1
    raise InputError([Problem(where, "un fichier texte en UTF-8, Windows-1252 ou Latin-1 "
                              "(encodage non reconnu)", line=line)])


class _Checks:
    """Problems of one feed file, with vectorised column parsers."""

    def __init__(self, where: str, frame: pd.DataFrame, problems: list[Problem]) -> None:
        self.where, self.frame, self.problems = where, frame, problems

    def report(self, column: str, bad: np.ndarray, expected: str) -> None:
        lines = self.frame["line"].to_numpy()
        values = self.frame[column].to_numpy(dtype=object)
        for i in np.flatnonzero(bad):
            self.problems.append(Problem(self.where, expected, line=int(lines[i]),
                                         column=column, value=str(values[i])))

    def number(self, column: str, low: float, high: float, expected: str) -> np.ndarray:
        text = self.frame[column]
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        self.report(column, bad, expected)
        return np.where(bad, np.nan, values)

    def integer(self, column: str, allowed: tuple[int, ...] | None, default: int,
                expected: str) -> np.ndarray:
        if column not in self.frame.columns:
            return np.full(len(self.frame), default, dtype=np.int64)
        text = self.frame[column].to_numpy(dtype=str)
        values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        empty = text == ""
        bad = ~empty & (~np.isfinite(values) | (values != np.round(values)))
        if allowed is not None:
            bad |= ~empty & ~np.isin(values, allowed)
        self.report(column, bad, expected)
        return np.where(empty | bad, default, np.nan_to_num(values)).astype(np.int64)

    def time(self, column: str, required: np.ndarray) -> np.ndarray:
        """Seconds after midnight from H:MM:SS (hours may exceed 24); nan where empty."""
        text = self.frame[column].to_numpy(dtype=str) if column in self.frame.columns else \
            np.full(len(self.frame), "", dtype=str)
        seconds = clock_seconds(text)
        empty = text == ""
        bad = (~empty & np.isnan(seconds)) | (empty & required)
        self.report(column, bad, "une heure HH:MM:SS (les heures peuvent dépasser 24)")
        return seconds

    def day(self, column: str, shift_days: int) -> np.ndarray:
        """Ordinal dates from YYYYMMDD (shifted by `shift_days`); -1 where invalid."""
        text = self.frame[column].to_numpy(dtype=str)
        parsed = pd.to_datetime(pd.Series(text), format="%Y%m%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        self.report(column, bad, "une date AAAAMMJJ")
        base = date(1970, 1, 1).toordinal()
        days = (parsed.to_numpy(dtype="datetime64[D]").astype("int64") + base + shift_days)
        return np.where(bad, -1, days)


def clock_seconds(text: np.ndarray) -> np.ndarray:
    """Seconds from "H:MM:SS" strings (1 to 3 hour digits), nan where the form is wrong;
    vectorised on the bytes (a feed may hold millions of stop times)."""
    raw = np.char.rjust(np.char.encode(text.astype(str), "ascii", "replace"), 9)
    if raw.dtype.itemsize != 9 or not len(raw):  # a longer cell is never a time
        longest = np.char.str_len(raw) > 9 if len(raw) else np.zeros(0, bool)
        raw = np.where(longest, b"", raw).astype("S9")
        raw = np.char.rjust(raw, 9)
    b = raw.view(np.uint8).reshape(-1, 9).astype(np.int64)
    digit = (b >= 48) & (b <= 57)
    value = np.where(digit, b - 48, 0)
    hour_ok = (digit[:, :3] | (b[:, :3] == 32)).all(axis=1) & digit[:, 2]
    # no space after a digit among the hour characters
    hour_ok &= ~(digit[:, 0] & ~digit[:, 1])
    ok = (hour_ok & (b[:, 3] == 58) & (b[:, 6] == 58) & digit[:, [4, 5, 7, 8]].all(axis=1)
          & (value[:, 4] < 6) & (value[:, 7] < 6))
    seconds = ((value[:, 0] * 100 + value[:, 1] * 10 + value[:, 2]) * 3600
               + (value[:, 4] * 10 + value[:, 5]) * 60 + value[:, 7] * 10 + value[:, 8])
    return np.where(ok, seconds.astype(np.float64), np.nan)


def _read_feed(source: FeedParams, prefix: str) -> _Feed:
    files = _Files(source.path)
    problems: list[Problem] = []
    for name in REQUIRED:
        if not files.has(name):
            problems.append(Problem(files.where(name), "fichier obligatoire du flux GTFS absent"))
    if not files.has("calendar.txt") and not files.has("calendar_dates.txt"):
        problems.append(Problem(files.where("calendar.txt"),
                                "calendar.txt ou calendar_dates.txt (au moins l'un des deux)"))
    raise_if_any(problems)
    tables = {name: files.table(name, REQUIRED[name]) for name in REQUIRED}

    stations, station_of_stop = _stations(tables["stops.txt"], files.where("stops.txt"),
                                          prefix, problems)
    shift = 7 * source.shift_weeks
    services, exceptions = _calendar(files, shift, problems)
    service_index = {sid: i for i, sid in enumerate(services["id"])}
    for sid in exceptions.pop("service_id_text"):
        if sid not in service_index:
            service_index[sid] = len(service_index)
    in_calendar = set(services["id"])
    extra = [sid for sid in service_index if sid not in in_calendar]
    if extra:  # services known only from calendar_dates: never active by weekday
        services = pd.concat([services, pd.DataFrame({
            "id": extra, **{f"w{d}": False for d in range(7)}, "start": 0, "end": -1,
        })], ignore_index=True)
    exceptions["service"] = exceptions["service_key"].map(service_index).astype(np.int64)

    trips_t = tables["trips.txt"]
    c = _Checks(files.where("trips.txt"), trips_t, problems)
    dup = trips_t["trip_id"].duplicated().to_numpy() | (trips_t["trip_id"] == "").to_numpy()
    c.report("trip_id", dup, "un identifiant de course unique et non vide")
    unknown = ~trips_t["service_id"].isin(list(service_index)).to_numpy()
    c.report("service_id", unknown, "un service_id de calendar.txt ou calendar_dates.txt")
    trips_t = trips_t[~dup & ~unknown]
    trip_index = {tid: i for i, tid in enumerate(trips_t["trip_id"])}
    trip_service = trips_t["service_id"].map(service_index).to_numpy(dtype=np.int64)

    st = tables["stop_times.txt"]
    c = _Checks(files.where("stop_times.txt"), st, problems)
    trip = st["trip_id"].map(trip_index)
    c.report("trip_id", trip.isna().to_numpy(), "un trip_id de trips.txt")
    station = st["stop_id"].map(station_of_stop)
    c.report("stop_id", station.isna().to_numpy(), "un stop_id de stops.txt (arrêt ou quai)")
    seq = c.integer("stop_sequence", None, -1, "un entier >= 0")
    c.report("stop_sequence", seq < 0, "un entier >= 0")
    arrival = c.time("arrival_time", np.zeros(len(st), bool))
    departure = c.time("departure_time", np.zeros(len(st), bool))
    pickup = c.integer("pickup_type", (0, 1, 2, 3), 0, "0, 1, 2 ou 3") != 1
    dropoff = c.integer("drop_off_type", (0, 1, 2, 3), 0, "0, 1, 2 ou 3") != 1
    raise_if_any(problems)
    frame = pd.DataFrame({
        "trip": trip.to_numpy(dtype=np.int64), "seq": seq,
        "station": station.to_numpy(dtype=np.int64),
        "arrival": np.where(np.isnan(arrival), departure, arrival),
        "departure": np.where(np.isnan(departure), arrival, departure),
        "pickup": pickup, "dropoff": dropoff, "line": st["line"].to_numpy(),
    }).sort_values(["trip", "seq"], kind="stable").reset_index(drop=True)
    frame = _interpolate(frame, files.where("stop_times.txt"), c)
    trips = pd.DataFrame({"id": [prefix + t for t in trip_index], "service": trip_service})
    if files.has("frequencies.txt"):
        trips, frame = _expand_frequencies(files, trips, frame, trip_index, problems)
    raise_if_any(problems)
    services["id"] = prefix + services["id"]
    return _Feed(stations=stations, trips=trips, stop_times=frame, services=services,
                 exceptions=exceptions[["service", "date", "added"]])


def _stations(stops: pd.DataFrame, where: str, prefix: str, problems: list[Problem]
              ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Stations (stops without parent, and parent stations) and each stop's station index."""
    c = _Checks(where, stops, problems)
    if "location_type" not in stops.columns:
        stops["location_type"] = ""
    if "parent_station" not in stops.columns:
        stops["parent_station"] = ""
    kind = c.integer("location_type", (0, 1, 2, 3, 4), 0, "0, 1, 2, 3 ou 4")
    dup = stops["stop_id"].duplicated().to_numpy() | (stops["stop_id"] == "").to_numpy()
    c.report("stop_id", dup, "un identifiant d'arrêt unique et non vide")
    usable = (kind <= 1) & ~dup
    parent = stops["parent_station"].to_numpy(dtype=str)
    ids = stops["stop_id"].to_numpy(dtype=str)
    known = set(ids[usable & (kind == 1)])
    bad_parent = usable & (kind == 0) & (parent != "") & ~np.isin(parent, list(known))
    c.report("parent_station", bad_parent, "le stop_id d'une gare (location_type 1) de stops.txt")
    is_station = usable & ((kind == 1) | (parent == ""))
    sub = stops[is_station]
    ck = _Checks(where, sub, problems)
    lat = ck.number("stop_lat", -90, 90, "une latitude entre -90 et 90")
    lon = ck.number("stop_lon", -180, 180, "une longitude entre -180 et 180")
    stations = pd.DataFrame({"id": [prefix + s for s in sub["stop_id"]], "lat": lat, "lon": lon})
    index = {s: i for i, s in enumerate(sub["stop_id"])}
    station_of_stop = dict(index)
    for sid, par in zip(ids[usable & ~is_station & ~bad_parent],
                        parent[usable & ~is_station & ~bad_parent], strict=True):
        station_of_stop[sid] = index[par]
    return stations, station_of_stop


def _calendar(files: _Files, shift: int, problems: list[Problem]
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    services = pd.DataFrame({"id": pd.Series([], dtype=str),
                             **{f"w{d}": pd.Series([], dtype=bool) for d in range(7)},
                             "start": pd.Series([], dtype=np.int64),
                             "end": pd.Series([], dtype=np.int64)})
    if files.has("calendar.txt"):
        cal = files.table("calendar.txt", CALENDAR_COLUMNS)
        c = _Checks(files.where("calendar.txt"), cal, problems)
        dup = cal["service_id"].duplicated().to_numpy() | (cal["service_id"] == "").to_numpy()
        c.report("service_id", dup, "un service_id unique et non vide")
        days = {}
        for d, name in enumerate(CALENDAR_COLUMNS[1:8]):
            days[f"w{d}"] = c.integer(name, (0, 1), 0, "0 ou 1") == 1
        services = pd.DataFrame({"id": cal["service_id"].to_numpy(dtype=str), **days,
                                 "start": c.day("start_date", shift),
                                 "end": c.day("end_date", shift)})[~dup]
    exceptions = pd.DataFrame({"service_key": pd.Series([], dtype=str),
                               "date": pd.Series([], dtype=np.int64),
                               "added": pd.Series([], dtype=bool)})
    if files.has("calendar_dates.txt"):
        cd = files.table("calendar_dates.txt", ("service_id", "date", "exception_type"))
        c = _Checks(files.where("calendar_dates.txt"), cd, problems)
        kind = c.integer("exception_type", (1, 2), 0, "1 (ajouté) ou 2 (supprimé)")
        c.report("exception_type", (cd["exception_type"] == "").to_numpy(),
                 "1 (ajouté) ou 2 (supprimé)")
        exceptions = pd.DataFrame({"service_key": cd["service_id"].to_numpy(dtype=str),
                                   "date": c.day("date", shift), "added": kind == 1})
    exceptions["service_id_text"] = exceptions["service_key"]
    return services.reset_index(drop=True), exceptions


def _interpolate(frame: pd.DataFrame, where: str, c: _Checks) -> pd.DataFrame:
    """Fill empty times by linear interpolation along each trip; the first and last stop
    times of a trip are required; times must not decrease along a trip."""
    missing = frame["arrival"].isna().to_numpy()
    first = ~frame["trip"].duplicated(keep="first").to_numpy()
    last = ~frame["trip"].duplicated(keep="last").to_numpy()
    ends = missing & (first | last)
    for i in np.flatnonzero(ends):
        c.problems.append(Problem(where, "l'heure de passage au premier et au dernier arrêt "
                                  "de la course", line=int(frame["line"].iloc[i]),
                                  column="arrival_time", value=""))
    if missing.any() and not ends.any():
        for col in ("arrival", "departure"):
            frame[col] = frame.groupby("trip")[col].transform(
                lambda s: s.interpolate(method="index"))
    arr, dep = frame["arrival"].to_numpy(), frame["departure"].to_numpy()
    same_trip = ~first
    prev_dep = np.r_[np.nan, dep[:-1]]
    back = (same_trip & (arr < prev_dep)) | (dep < arr)
    lines = frame["line"].to_numpy()
    for i in np.flatnonzero(back):
        c.problems.append(Problem(where, "des heures qui ne reculent pas le long de la course",
                                  line=int(lines[i]), column="arrival_time",
                                  value=_clock(arr[i])))
    return frame


def _expand_frequencies(files: _Files, trips: pd.DataFrame, frame: pd.DataFrame,
                        trip_index: dict[str, int], problems: list[Problem]
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace each trip of frequencies.txt by one copy per departure, its stop times moved
    so that the first departure is at each start."""
    fq = files.table("frequencies.txt", ("trip_id", "start_time", "end_time", "headway_secs"))
    c = _Checks(files.where("frequencies.txt"), fq, problems)
    trip = fq["trip_id"].map(trip_index)
    c.report("trip_id", trip.isna().to_numpy(), "un trip_id de trips.txt")
    start = c.time("start_time", np.ones(len(fq), bool))
    end = c.time("end_time", np.ones(len(fq), bool))
    headway = c.number("headway_secs", 1, 86400 * 2, "un nombre de secondes > 0")
    if problems:
        return trips, frame
    templated = set(trip.astype(np.int64))
    keep = ~frame["trip"].isin(templated)
    new_trips = [trips]
    new_times = [frame[keep]]
    n = len(trips)
    groups = {t: g for t, g in frame[~keep].groupby("trip")}
    for k in range(len(fq)):
        t = int(trip.iloc[k])
        pattern = groups.get(t)
        if pattern is None:  # a trip without stop times: nothing to repeat
            continue
        origin = float(pattern["departure"].iloc[0])
        starts = np.arange(start[k], end[k], headway[k])
        if not len(starts):
            continue
        # One copy of the pattern per departure, all at once.
        copies = pd.DataFrame({col: np.tile(pattern[col].to_numpy(), len(starts))
                               for col in pattern.columns})
        shift = np.repeat(starts - origin, len(pattern))
        copies["arrival"] += shift
        copies["departure"] += shift
        copies["trip"] = np.repeat(np.arange(n, n + len(starts)), len(pattern))
        n += len(starts)
        new_times.append(copies)
        base = trips["id"].iloc[t]
        new_trips.append(pd.DataFrame({"id": [f"{base}#{k}.{j}" for j in range(len(starts))],
                                       "service": trips["service"].iloc[t]}))
    return (pd.concat(new_trips, ignore_index=True),
            pd.concat(new_times, ignore_index=True).sort_values(["trip", "seq"], kind="stable")
            .reset_index(drop=True))


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _merge(parts: list[_Feed]) -> Network:
    station_off = np.cumsum([0] + [len(p.stations) for p in parts])
    trip_off = np.cumsum([0] + [len(p.trips) for p in parts])
    service_off = np.cumsum([0] + [len(p.services) for p in parts])

    def cat(values: list[np.ndarray], dtype: type | str) -> np.ndarray:
        return np.concatenate(values).astype(dtype) if values else np.zeros(0, dtype)

    st = [p.stop_times for p in parts]
    return Network(
        station_id=cat([p.stations["id"].to_numpy(str) for p in parts], object),
        station_lat=cat([p.stations["lat"].to_numpy() for p in parts], np.float64),
        station_lon=cat([p.stations["lon"].to_numpy() for p in parts], np.float64),
        trip_id=cat([p.trips["id"].to_numpy(str) for p in parts], object),
        trip_service=cat([p.trips["service"].to_numpy() + service_off[k]
                          for k, p in enumerate(parts)], np.int64),
        st_trip=cat([s["trip"].to_numpy() + trip_off[k] for k, s in enumerate(st)], np.int64),
        st_station=cat([s["station"].to_numpy() + station_off[k] for k, s in enumerate(st)],
                       np.int64),
        st_arrival=cat([s["arrival"].to_numpy() for s in st], np.float64),
        st_departure=cat([s["departure"].to_numpy() for s in st], np.float64),
        st_pickup=cat([s["pickup"].to_numpy() for s in st], bool),
        st_dropoff=cat([s["dropoff"].to_numpy() for s in st], bool),
        service_id=cat([p.services["id"].to_numpy(str) for p in parts], object),
        service_weekdays=np.concatenate(
            [p.services[[f"w{d}" for d in range(7)]].to_numpy(bool) for p in parts])
        if parts else np.zeros((0, 7), bool),
        service_start=cat([p.services["start"].to_numpy() for p in parts], np.int64),
        service_end=cat([p.services["end"].to_numpy() for p in parts], np.int64),
        exception_service=cat([p.exceptions["service"].to_numpy() + service_off[k]
                               for k, p in enumerate(parts)], np.int64),
        exception_date=cat([p.exceptions["date"].to_numpy() for p in parts], np.int64),
        exception_added=cat([p.exceptions["added"].to_numpy() for p in parts], bool),
    )


def weekdays(iso_week: str) -> list[date]:
    """Monday to Friday of an ISO week written "YYYY-Www"."""
    monday = date.fromisocalendar(int(iso_week[:4]), int(iso_week[6:]), 1)
    return [monday + timedelta(days=d) for d in range(5)]
