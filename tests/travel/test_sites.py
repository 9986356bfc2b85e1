"""New places (the sites of `mobilisation`) under each travel model: the pupils within reach
of a place are exactly those an offer there would have by the ordinary path (`reachable`),
under timetables (where a place far from every stop moves to a station of its commune) and
under a matrix; the timetable result is cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gtfs_scenarios import LAT, OFFERS, STATION_LON, gtfs_scenario
from test_matrix import matrix_scenario

from affectation.analysis.mobilisation import Site, reach_of_sites, sites, with_site
from affectation.domain.instance import Instance
from affectation.travel.loading import load_instance
from affectation.travel.reach import reachable
from affectation.travel.transit import CACHE_DIR

CAEN_CU = next(s for s in sites() if s.insee == "14118")
BAYEUX = next(s for s in sites() if s.insee == "14047")
# A site standing on station B (in Giberville by the nearest centroid).
AT_B = Site("X", "site sur une gare", "14", "14301", "Giberville", LAT, STATION_LON["B"])


def _as_an_offer(instance: Instance, site: Site) -> set[str]:
    """The pupils to place who reach an offer at `site`, by `reachable`."""
    bigger = with_site(instance, site)
    reach = reachable(bigger)
    student = reach.student_of_pair()[reach.offer == bigger.offers.n - 1]
    return set(instance.students.ids[np.unique(student)].tolist())


def _names(instance: Instance, pupils: np.ndarray) -> set[str]:
    return set(instance.students.ids[pupils].tolist())


def test_sites_follow_the_timetables(tmp_path: Path) -> None:
    # A public-transport pupil at every station, and a driver at A.
    students = [{"student_id": f"p{s}", "lat": LAT, "lon": lon, "mode": "public"}
                for s, lon in STATION_LON.items()]
    students.append({"student_id": "car", "lat": LAT, "lon": STATION_LON["A"], "mode": "car"})
    path = gtfs_scenario(tmp_path, students=students, offers=OFFERS)
    instance = load_instance(path)
    where, near = reach_of_sites(instance, [CAEN_CU, BAYEUX, AT_B])
    # Caen's centroid is 1.5 km from the nearest stop: the site moves to station T, in Caen.
    assert (where[0].lat, where[0].lon) == (LAT, STATION_LON["T"])
    # Bayeux has no station: its centroid stays; a site on a station stays where it is.
    assert (where[1].lat, where[1].lon) == (BAYEUX.lat, BAYEUX.lon)
    assert (where[2].lat, where[2].lon) == (AT_B.lat, AT_B.lon)
    for site, pupils in zip(where, near, strict=True):
        assert _names(instance, pupils) == _as_an_offer(instance, site), site.commune
    # By timetable, T is 25 min from A in the morning and 30 min back (A -> T, T -> A), and
    # no morning trip leaves D or B for T; the driver goes by crowfly. Bayeux is unreachable.
    assert _names(instance, near[0]) == {"pA", "pT", "car"}
    assert _names(instance, near[1]) == set()
    assert _names(instance, near[2]) == {"pA", "pB", "car"}
    # The second time, the places and their minutes come from the cache.
    cached = list((path.parent / CACHE_DIR).glob("places-*.npz"))
    assert len(cached) == 1
    again = load_instance(path)
    where2, near2 = reach_of_sites(again, [CAEN_CU, BAYEUX, AT_B])
    assert where2 == where and all((a == b).all() for a, b in zip(near, near2, strict=True))


def test_sites_follow_the_matrix(tmp_path: Path) -> None:
    # s1 rides public transport (matrix): Caen -> Caen 10 min, Caen -> Bayeux 25 min;
    # s2 drives (crowfly): Bayeux is out of reach by car within 30 minutes.
    students = [{"student_id": "s1", "lat": 49.181, "lon": -0.37, "mode": "public"},
                {"student_id": "s2", "lat": 49.18, "lon": -0.37, "mode": "car"}]
    path = matrix_scenario(tmp_path, "14118,14118,10\n14118,14047,25\n", students,
                           [{"offer_id": "o", "capacity": 1}])
    instance = load_instance(path)
    where, near = reach_of_sites(instance, [CAEN_CU, BAYEUX])
    assert (where[0].lat, where[1].lat) == (CAEN_CU.lat, BAYEUX.lat)  # no move
    assert _names(instance, near[0]) == {"s1", "s2"} == _as_an_offer(instance, where[0])
    assert _names(instance, near[1]) == {"s1"} == _as_an_offer(instance, where[1])
