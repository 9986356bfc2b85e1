"""Shared by the GTFS and transit tests: the hand-built feed and a scenario riding it.

The feed `fixtures/gtfs/tiny` (stops.txt is Windows-1252) lays stations along latitude 49.18
near Caen, 0.05 degree (3.6 km) apart, so that no walk joins two of them. Trips (every
weekday unless said): A->B fast at 07:05 (20 min) and slow at 08:00 (50 min), back at 16:35
(20 min); A->T 07:05-07:30 then T->C 07:31 (missed: 2-minute transfers) or 08:10-08:40, back
C->A 16:40-17:10; T->D 07:35-07:50, back D->T 16:40-16:55 then T->A 17:00-17:30; A->E
07:30-08:00 except on Wednesdays, back 16:40-17:10; A->F 07:30-08:00, back only at 16:10;
A->G (platform G1 of station G) every 15 min from 06:00 to 08:45 (20 min, frequencies.txt),
back from platform G2 at 16:45-17:05; A->K 07:30-08:00 and back 16:40-17:10 except on
Wednesday 24 June 2026 (calendar_dates.txt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FIXTURES, make_scenario

GTFS_FIXTURES = FIXTURES / "gtfs"
TINY = GTFS_FIXTURES / "tiny"
LAT = 49.18
STATION_LON = {"A": -0.40, "T": -0.35, "B": -0.30, "C": -0.25, "D": -0.20, "E": -0.15,
               "F": -0.10, "G": -0.05, "K": 0.0}
PUBLIC_60 = {"speed_kmh": 20.0, "detour": 1.25, "access_minutes": 5.0, "max_minutes": 60.0}
CAR_30 = {"speed_kmh": 50.0, "detour": 1.3, "access_minutes": 5.0, "max_minutes": 30.0}

# One offer at each station, a one-week offer at K, one 300 m north of A (a walk), one far.
OFFERS = [{"offer_id": f"o{s}", "lat": LAT, "lon": STATION_LON[s], "capacity": 1}
          for s in "BCDEFGK"] + [
    {"offer_id": "oK1", "lat": LAT, "lon": STATION_LON["K"], "capacity": 1, "period": 1},
    {"offer_id": "oNear", "lat": 49.1827, "lon": -0.40, "capacity": 1},
    {"offer_id": "oFar", "lat": 49.5, "lon": -0.40, "capacity": 1},
]
# Pupil p1 lives at station A and rides public transport; p2 drives (crowfly).
STUDENTS = [{"student_id": "p1", "lat": LAT, "lon": -0.40, "mode": "public"},
            {"student_id": "p2", "lat": LAT, "lon": -0.40, "mode": "car"}]
# Hand-derived minutes of p1 (limit 60): None = unreachable within the limit.
EXPECTED_P1 = {"oB": 20.0, "oC": None, "oD": 50.0, "oE": None, "oF": None, "oG": 20.0,
               "oK": None, "oK1": 30.0, "oNear": 4.0, "oFar": None}


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def gtfs_scenario(tmp_path: Path, students: list[dict[str, Any]] | None = None,
                  offers: list[dict[str, Any]] | None = None, feeds: list[Any] | None = None,
                  folder: str = "scenario", **gtfs: Any) -> Path:
    """A scenario with `[travel] model = "gtfs"` over `feeds` (default: the tiny feed);
    `gtfs` adds or overrides `[travel.gtfs]` keys (default zone_m = 1: walks are exact)."""
    path = make_scenario(tmp_path, STUDENTS if students is None else students,
                         OFFERS if offers is None else offers,
                         modes={"public": PUBLIC_60, "car": CAR_30}, folder=folder)
    table = {"feeds": [str(TINY)] if feeds is None else feeds, "modes": ["public"],
             "zone_m": 1.0, **gtfs}
    text = path.read_text(encoding="utf-8").replace('model = "crowfly"', 'model = "gtfs"')
    text += "\n[travel.gtfs]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items()
                                          if k != "added_lines")
    for line in table.get("added_lines", []):
        text += "\n[[travel.gtfs.added_lines]]\n" + "".join(
            f"{k} = {toml_value(v)}\n" for k, v in line.items())
    path.write_text(text, encoding="utf-8")
    return path
