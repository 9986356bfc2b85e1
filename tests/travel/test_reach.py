"""Travel times: `reachable` keeps exactly the pairs whose exact crowfly minutes are within the
pupil's limit (spec: the default travel-time model), compared with a brute force over every
pair computed with pyproj directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario, near, point_at, radius_km
from pyproj import Geod

from affectation.domain.instance import Instance
from affectation.geo import flat_km, geodesic_km
from affectation.travel.loading import load_instance
from affectation.travel.reach import exact_minutes, nearest_reach, pairs_beyond, reachable

GEOD = Geod(ellps="WGS84")

# Several modes, one of them with a radius beyond 100 km (the fully exact path).
MODES = {
    "public": {"speed_kmh": 22.0, "detour": 1.3, "access_minutes": 10.0, "max_minutes": 45.0},
    "car": {"speed_kmh": 50.0, "detour": 1.3, "access_minutes": 5.0, "max_minutes": 45.0},
    "bike": {"speed_kmh": 15.0, "detour": 1.2, "access_minutes": 2.0, "max_minutes": 30.0},
    "walk": {"speed_kmh": 5.0, "detour": 1.3, "access_minutes": 0.0, "max_minutes": 20.0},
    "train": {"speed_kmh": 120.0, "detour": 1.1, "access_minutes": 15.0, "max_minutes": 90.0},
}
MODE_NAMES = list(MODES)


def brute_force_pairs(instance: Instance) -> dict[tuple[int, int], float]:
    """(pupil, offer) -> exact minutes for every pair within the limit (default masks)."""
    st, of = instance.students, instance.offers
    modes = instance.scenario.travel.modes
    names = instance.scenario.travel.mode_names
    s_idx, o_idx = np.meshgrid(np.arange(st.n), np.arange(of.n), indexing="ij")
    s_idx, o_idx = s_idx.ravel(), o_idx.ravel()
    _, _, metres = GEOD.inv(st.lon[s_idx], st.lat[s_idx], of.lon[o_idx], of.lat[o_idx])
    km = np.asarray(metres) / 1000.0
    out: dict[tuple[int, int], float] = {}
    for s, o, d in zip(s_idx.tolist(), o_idx.tolist(), km.tolist(), strict=True):
        if st.status[s] != "" or of.capacity[o] <= 0:
            continue
        m = modes[names[st.mode[s]]]
        minutes = m.access_minutes + m.detour * d / m.speed_kmh * 60.0
        if minutes <= min(m.max_minutes, float(st.max_minutes[s])):
            out[(s, o)] = minutes
    return out


def reach_pairs(instance: Instance) -> tuple[dict[tuple[int, int], int], list[np.ndarray]]:
    reach = reachable(instance)
    assert len(reach.indptr) == instance.students.n + 1
    got: dict[tuple[int, int], int] = {}
    rows = []
    for s in range(instance.students.n):
        offers, deci = reach.row(s)
        rows.append(np.stack([deci.astype(np.int64), offers.astype(np.int64)], axis=1))
        for o, d in zip(offers.tolist(), deci.tolist(), strict=True):
            assert (s, o) not in got, "duplicate pair"
            got[(s, o)] = d
    return got, rows


@pytest.fixture(scope="module")
def random_instance(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, list[str]]:
    """~300 pupils x ~200 offers over 1 degree around Caen, several modes, and pairs built at
    exactly the limit and 1 m on either side of it."""
    rng = np.random.default_rng(12345)
    n_s, n_o = 300, 160
    students, offers = [], []
    for i in range(n_s):
        row = {"student_id": f"S{i}", "lat": float(49.18 + rng.uniform(-0.5, 0.5)),
               "lon": float(-0.37 + rng.uniform(-0.7, 0.7)),
               "mode": MODE_NAMES[int(rng.integers(len(MODE_NAMES)))]}
        if rng.random() < 0.2:
            row["max_minutes"] = float(round(rng.uniform(5, 60), 1))
        if rng.random() < 0.05:
            row["status"] = "self_placed"
        students.append(row)
    for j in range(n_o):
        offers.append({"offer_id": f"O{j}", "lat": float(49.18 + rng.uniform(-0.5, 0.5)),
                       "lon": float(-0.37 + rng.uniform(-0.7, 0.7)),
                       "capacity": int(rng.integers(0, 4))})
    # At the limit: for 40 pupils, offers at the limit distance, and 1 m inside and outside.
    at_limit = []
    for k, i in enumerate(rng.choice(n_s, 40, replace=False).tolist()):
        s = students[i]
        mode = MODES[s["mode"]]
        limit = min(mode["max_minutes"], s.get("max_minutes", np.inf))
        r = radius_km(limit, mode)
        if r <= 0:
            continue
        azimuth = float(rng.uniform(-180, 180))
        for tag, delta in (("in", -0.001), ("at", 0.0), ("out", 0.001)):
            p = point_at(s["lat"], s["lon"], r + delta, azimuth)
            offers.append({"offer_id": f"L{k}{tag}", **p, "capacity": 1})
            at_limit.append(f"L{k}{tag}")
    path = make_scenario(tmp_path_factory.mktemp("travel"), students=students, offers=offers,
                         modes=MODES, default_mode="public")
    return load_instance(path), at_limit


def test_reachable_equals_brute_force(random_instance: tuple[Instance, list[str]]) -> None:
    inst, _ = random_instance
    expected = brute_force_pairs(inst)
    got, _ = reach_pairs(inst)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (missing[:10], extra[:10])
    # Enough pairs of each kind for the comparison to mean something.
    assert len(expected) > 2000
    modes = {int(inst.students.mode[s]) for s, _ in expected}
    assert len(modes) == len(MODES)


def test_reachable_limit_pairs(random_instance: tuple[Instance, list[str]]) -> None:
    """1 m inside the limit is kept, 1 m outside is not."""
    inst, at_limit = random_instance
    got, _ = reach_pairs(inst)
    index = {oid: j for j, oid in enumerate(inst.offers.ids)}
    reached = {o for _, o in got}
    inside = [oid for oid in at_limit if oid.endswith("in")]
    outside = [oid for oid in at_limit if oid.endswith("out")]
    assert len(inside) >= 30
    # Each limit offer was built for one pupil; that pupil reaches the inner one.
    for oid in inside:
        assert index[oid] in reached, oid
    expected = brute_force_pairs(inst)
    for oid in outside:
        o = index[oid]
        assert {s for s, oo in got if oo == o} == {s for s, oo in expected if oo == o}


def test_deciminutes_and_row_order(random_instance: tuple[Instance, list[str]]) -> None:
    inst, _ = random_instance
    expected = brute_force_pairs(inst)
    got, rows = reach_pairs(inst)
    for pair, deci in got.items():
        # Tenths of a minute rounded down (flat-earth distances may differ by a tenth).
        assert abs(deci - int(np.floor(expected[pair] * 10))) <= 1, pair
    for row in rows:
        if len(row) > 1:
            keys = row[:, 0] * 10**6 + row[:, 1]
            assert np.all(np.diff(keys) > 0), "each row sorted by minutes, then offer"


def test_exact_minutes_is_the_spec_formula(random_instance: tuple[Instance, list[str]]) -> None:
    inst, _ = random_instance
    st, of = inst.students, inst.offers
    rng = np.random.default_rng(0)
    s = rng.integers(0, st.n, 500)
    o = rng.integers(0, of.n, 500)
    got = exact_minutes(inst, s, o)
    names = inst.scenario.travel.mode_names
    for k in range(500):
        m = MODES[names[st.mode[s[k]]]]
        _, _, metres = GEOD.inv(st.lon[s[k]], st.lat[s[k]], of.lon[o[k]], of.lat[o[k]])
        want = m["access_minutes"] + m["detour"] * (metres / 1000) / m["speed_kmh"] * 60
        assert got[k] == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_status_pupils_and_withdrawn_offers_excluded(
        random_instance: tuple[Instance, list[str]]) -> None:
    inst, _ = random_instance
    got, _ = reach_pairs(inst)
    assert all(inst.students.status[s] == "" for s, _ in got)
    assert all(inst.offers.capacity[o] > 0 for _, o in got)


def test_flat_km_within_2m_of_geodesic_in_france() -> None:
    """Up to 100 km, at the latitudes of mainland France and Corsica (41-51 N)."""
    rng = np.random.default_rng(7)
    n = 50_000
    lat = rng.uniform(41.0, 51.1, n)
    lon = rng.uniform(-5.5, 9.6, n)
    az = rng.uniform(-180, 180, n)
    dist = rng.uniform(0, 100_000, n)
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist)
    err_m = np.abs(flat_km(lat, lon, lat2, lon2) - geodesic_km(lat, lon, lat2, lon2)) * 1000
    assert err_m.max() < 2.0


def test_flat_km_overseas_latitudes() -> None:
    """Overseas territories (Guyane, Antilles, Réunion, Mayotte, Polynésie, Nouvelle-Calédonie,
    Saint-Pierre-et-Miquelon) lie within 47 degrees of the equator: under 2 m too."""
    rng = np.random.default_rng(8)
    n = 50_000
    lat = rng.uniform(-47.0, 47.0, n)
    lon = rng.uniform(-180, 180, n)
    az = rng.uniform(-180, 180, n)
    dist = rng.uniform(0, 100_000, n)
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist)
    err_m = np.abs(flat_km(lat, lon, lat2, lon2) - geodesic_km(lat, lon, lat2, lon2)) * 1000
    assert err_m.max() < 2.0


def test_geodesic_km_matches_pyproj() -> None:
    lat1, lon1 = np.array([49.18, 49.18]), np.array([-0.37, -0.37])
    lat2, lon2 = np.array([49.44, 49.18]), np.array([1.10, -0.37])
    _, _, metres = GEOD.inv(lon1[0], lat1[0], lon2[0], lat2[0])
    got = geodesic_km(lat1, lon1, lat2, lon2)
    assert got[0] == pytest.approx(metres / 1000, rel=1e-12)
    assert got[1] == 0.0
    assert len(geodesic_km(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))) == 0


def test_pupil_limit_applies_to_reachable(tmp_path: Path) -> None:
    """The effective limit is the smaller of the mode's and the pupil's own."""
    mode = MODES["public"]
    r20 = radius_km(20.0, mode)
    students = [{"student_id": "A", "lat": 49.18, "lon": -0.37, "max_minutes": 20},
                {"student_id": "B", "lat": 49.18, "lon": -0.37, "max_minutes": 90}]
    offers = [{"offer_id": "IN", **point_at(49.18, -0.37, r20 - 0.001), "capacity": 1},
              {"offer_id": "OUT", **point_at(49.18, -0.37, r20 + 0.001), "capacity": 1},
              {"offer_id": "MODE", **point_at(49.18, -0.37, radius_km(45, mode) - 0.001),
               "capacity": 1},
              {"offer_id": "BEYOND", **point_at(49.18, -0.37, radius_km(45, mode) + 0.001),
               "capacity": 1}]
    inst = load_instance(make_scenario(tmp_path, students=students, offers=offers, modes=MODES))
    got, _ = reach_pairs(inst)
    ids = inst.offers.ids
    assert sorted(ids[o] for s, o in got if s == 0) == ["IN"]
    assert sorted(ids[o] for s, o in got if s == 1) == ["IN", "MODE", "OUT"]


def test_reachable_exact_at_high_latitude(tmp_path: Path) -> None:
    """The spec's rule holds anywhere on the ellipsoid, e.g. in Svalbard (78 N)."""
    mode = {"speed_kmh": 60.0, "detour": 1.0, "access_minutes": 0.0, "max_minutes": 95.0}
    lat, lon = 78.0, 15.0
    offers = [{"offer_id": "IN", **point_at(lat, lon, 95.0 - 0.005, azimuth=60.0),
               "capacity": 1}]
    inst = load_instance(make_scenario(
        tmp_path, students=[{"student_id": "A", "lat": lat, "lon": lon}], offers=offers,
        modes={"m": mode}, default_mode="m"))
    assert exact_minutes(inst, np.array([0]), np.array([0]))[0] <= 95.0
    got, _ = reach_pairs(inst)
    assert (0, 0) in got


def test_kernel_distance_is_flat_km_bit_for_bit() -> None:
    """The compiled kernels' distance is numpy's `flat_km` exactly (same operations, libm's
    sin, cos and hypot), across the date line and at high latitudes too."""
    from affectation.travel.kernels import _flat_km

    rng = np.random.default_rng(9)
    n = 20_000
    lat = rng.uniform(-80.0, 80.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    lat2 = np.clip(lat + rng.uniform(-1.0, 1.0, n), -89.0, 89.0)
    lon2 = lon + rng.uniform(-2.0, 2.0, n)
    lon2 = np.where(lon2 > 180.0, lon2 - 360.0, lon2)
    expected = flat_km(lat, lon, lat2, lon2)
    got = np.array([_flat_km(a, b, c, d) for a, b, c, d in zip(lat, lon, lat2, lon2,
                                                                   strict=True)])
    assert np.array_equal(got, expected)


def test_reachable_same_in_small_chunks(random_instance: tuple[Instance, list[str]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid's pupils are processed in chunks: any chunk size gives the same pairs."""
    inst, _ = random_instance
    whole = reachable(inst)
    monkeypatch.setattr("affectation.travel.reach._WINDOW_CHUNK", 97)
    chunked = reachable(inst)
    for name in ("indptr", "offer", "deciminutes"):
        assert np.array_equal(getattr(chunked, name), getattr(whole, name)), name


@pytest.mark.parametrize("k", [1, 3, 25])
def test_nearest_reach_keeps_each_pupils_nearest_offers(
        random_instance: tuple[Instance, list[str]], k: int) -> None:
    """Rows of `nearest_reach` are the first k pairs of the full rows; a pupil not marked
    capped has its whole row; `pairs_beyond` gives back exactly the pairs left out."""
    instance, _ = random_instance
    full = reachable(instance)
    near = nearest_reach(instance, k)
    assert near.capped is not None
    for s in range(instance.students.n):
        f_off, f_deci = full.row(s)
        n_off, n_deci = near.row(s)
        assert n_off.tolist() == f_off[:k].tolist()
        assert n_deci.tolist() == f_deci[:k].tolist()
        if len(f_off) > k:
            assert near.capped[s]
        if not near.capped[s]:
            assert len(n_off) == len(f_off)
    s, o, _ = pairs_beyond(instance, near, np.ones(instance.students.n, dtype=bool),
                           np.ones(instance.offers.n, dtype=bool))
    left_out = set(zip(full.student_of_pair().tolist(), full.offer.tolist(), strict=True)) - set(
        zip(near.student_of_pair().tolist(), near.offer.tolist(), strict=True))
    assert set(zip(s.tolist(), o.tolist(), strict=True)) == left_out
    assert len(s) == len(left_out)


def test_nearest_reach_keeps_signed_offers_beyond_the_nearest(tmp_path: Path) -> None:
    """A signed offer farther than the k nearest stays in the row (the extensions and the
    bounds need it)."""
    path = make_scenario(tmp_path, students=[{"student_id": "A", **near()}],
                         offers=[{"offer_id": f"O{j}", **near(0.001 * j), "capacity": 1}
                                 for j in range(6)],
                         conventions=[{"student_id": "A", "offer_id": "O5", "week": "1"}])
    instance = load_instance(path)
    row, _ = nearest_reach(instance, 2).row(0)
    assert sorted(instance.offers.ids[row].tolist()) == ["O0", "O1", "O5"]
