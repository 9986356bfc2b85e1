"""Which pupils could reach new places (offers imagined where none is yet, e.g. the sites
of `analysis.mobilisation`), under the scenario's travel model.

A place is treated as an offer there open both weeks: a pupil reaches it when the minutes of
the pupil's mode are within the pupil's limit (`reach.pupil_travel`). Pupils of the modes a
table model covers take its minutes (`[travel] model = "gtfs"`: timetables, see
`transit.transit_places`, which may move a place to a station of its commune; `"matrix"`:
the zone of the place's commune); the others crowfly, computed exactly (a flat-earth
pre-selection with a safety margin, then the exact geodesic, as `reach.reachable`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from affectation.domain.instance import Instance
from affectation.geo import flat_km, geodesic_km
from affectation.travel.reach import pupil_travel
from affectation.travel.zones import ZoneMinutes


@dataclass(frozen=True, eq=False)
class PlacesReach:
    """Where each place stands (`lat`, `lon`: moved to a station under the timetable model
    when none is within walking distance) and the pupils within reach of each, sorted:
    `pupils[indptr[k]:indptr[k + 1]]` for place k."""

    lat: np.ndarray
    lon: np.ndarray
    indptr: np.ndarray
    pupils: np.ndarray

    def of(self, k: int) -> np.ndarray:
        return self.pupils[self.indptr[k]:self.indptr[k + 1]]


def places_reach(instance: Instance, lat: np.ndarray, lon: np.ndarray, insee: np.ndarray,
                 communes: pd.DataFrame, pupils: np.ndarray) -> PlacesReach:
    """The `pupils` (indices) within reach of each place (`lat`, `lon`, in the commune
    `insee` of the table `communes`), under the scenario's travel model."""
    model = instance.scenario.travel.model
    table: ZoneMinutes | None = None
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if model == "gtfs":
        from affectation.travel.transit import transit_places

        lat, lon, table = transit_places(instance, lat, lon, insee, communes)
    elif model == "matrix":
        from affectation.travel.matrix import matrix_places

        table = matrix_places(instance, lat, lon)
    travel = pupil_travel(instance)
    st = instance.students
    pupils = np.asarray(pupils, dtype=np.int64)
    by_table = np.zeros(len(pupils), dtype=bool)
    if table is not None:
        by_table = table.origin_of_student[pupils] >= 0
    crow = pupils[~by_table]
    radius = travel.radius_km[crow]
    # The flat-earth distance errs by under 2 m per 100 km in France: a margin of 1 % and
    # 100 m keeps every pair the exact geodesic might accept.
    reach = radius * 1.01 + 0.1
    found: list[np.ndarray] = []
    counts = np.zeros(len(lat), dtype=np.int64)
    for k in range(len(lat)):
        near = crow[(radius >= 0) & (flat_km(st.lat[crow], st.lon[crow], np.full(len(crow),
                     lat[k]), np.full(len(crow), lon[k])) <= reach)]
        km = geodesic_km(st.lat[near], st.lon[near], np.full(len(near), lat[k]),
                         np.full(len(near), lon[k]))
        mine = [near[travel.minutes(near, km) <= travel.limit_minutes[near]]]
        if table is not None:
            covered = pupils[by_table]
            minutes = table.lookup(covered, np.full(len(covered), k))
            mine.append(covered[minutes <= travel.limit_minutes[covered]])
        chosen = np.unique(np.concatenate(mine))
        counts[k] = len(chosen)
        found.append(chosen)
    indptr = np.zeros(len(lat) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    flat = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return PlacesReach(lat=lat, lon=lon, indptr=indptr, pupils=flat)
