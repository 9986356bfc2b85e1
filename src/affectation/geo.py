"""Geodesy on the WGS84 ellipsoid: exact distances (pyproj), the local flat-earth distance that
the reach kernels reproduce bit for bit, and each point's nearest commune.

A leaf: it imports no other module of the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
WGS84_A = 6378137.0  # semi-major axis, metres
WGS84_F = 1 / 298.257223563  # flattening
WGS84_E2 = WGS84_F * (2 - WGS84_F)  # first eccentricity squared
# Points of `nearest_communes` compared with every centroid at once.
_CHUNK = 4096


def geodesic_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                lon2: np.ndarray) -> np.ndarray:
    """Exact WGS84 geodesic distance in km (pyproj)."""
    if len(lat1) == 0:
        return np.zeros(0)
    _, _, metres = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(metres, dtype=np.float64) / 1000.0


def flat_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Flat-earth distance on the ellipsoid's local radii of curvature at the mid-latitude."""
    phi = np.radians((lat1 + lat2) * 0.5)
    s = np.sin(phi)
    w = np.sqrt(1 - WGS84_E2 * s * s)
    meridional = WGS84_A * (1 - WGS84_E2) / (w * w * w)
    normal = WGS84_A / w
    dy = np.radians(lat2 - lat1) * meridional
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    dx = np.radians(dlon) * normal * np.cos(phi)
    return np.hypot(dx, dy) / 1000.0


def nearest_communes(lat: np.ndarray, lon: np.ndarray, communes: pd.DataFrame
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Row of the nearest commune centroid for each point, and its distance in km.

    Distances are flat-earth on the WGS84 radii of curvature at the point's latitude, a
    quadratic form in the centroid's coordinates: the nearest of all centroids is found with
    one matrix product per chunk of points (coordinates centred on the communes).
    """
    clat = communes["lat"].to_numpy(np.float64)
    clon = communes["lon"].to_numpy(np.float64)
    lat0, lon0 = float(clat.mean()), float(clon.mean())
    cy, cx = clat - lat0, clon - lon0
    py = lat - lat0
    px = (lon - lon0 + 180.0) % 360.0 - 180.0
    s = np.sin(np.radians(lat))
    w = np.sqrt(1 - WGS84_E2 * s * s)
    ky2 = np.radians(WGS84_A * (1 - WGS84_E2) / (w * w * w)) ** 2
    kx2 = np.radians(WGS84_A / w * np.cos(np.radians(lat))) ** 2
    # |p - c|^2 = kx2 (px - cx)^2 + ky2 (py - cy)^2; the terms in p alone do not change which
    # centroid is nearest.
    left = np.stack([kx2, -2 * kx2 * px, ky2, -2 * ky2 * py], axis=1)
    right = np.stack([cx * cx, cx, cy * cy, cy])
    row = np.zeros(len(lat), dtype=np.int64)
    for lo in range(0, len(lat), _CHUNK):
        row[lo:lo + _CHUNK] = np.argmin(left[lo:lo + _CHUNK] @ right, axis=1)
    km = flat_km(lat, lon, clat[row], clon[row])
    return row, km


_EARTH_KM = 6371.0


def far_from_all(lat: np.ndarray, lon: np.ndarray, other_lat: np.ndarray,
                 other_lon: np.ndarray, km: float) -> np.ndarray:
    """Boolean per point: no point of `other` within `km` (chord on a sphere: equal to the
    geodesic to a few metres at these distances), in time linear in the points.

    Points go into cubic cells of `km / sqrt(3)` (two points of one cell are within `km`); a
    point whose cell holds no other point is compared with the others of the cells around.
    """
    far = np.zeros(len(lat), dtype=bool)
    if len(lat) == 0:
        return far
    if len(other_lat) == 0:
        return ~far
    size = km / np.sqrt(3.0)

    def xyz(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        a, o = np.radians(la), np.radians(lo)
        return _EARTH_KM * np.stack([np.cos(a) * np.cos(o), np.cos(a) * np.sin(o), np.sin(a)],
                                    axis=1)

    p, q = xyz(lat, lon), xyz(other_lat, other_lon)
    pc, qc = np.floor(p / size).astype(np.int64), np.floor(q / size).astype(np.int64)
    span = int(np.ceil(_EARTH_KM / size)) + 3
    base = 2 * span + 1

    def key(cells: np.ndarray) -> np.ndarray:
        c = cells + span
        return (c[:, 0] * base + c[:, 1]) * base + c[:, 2]

    qk = key(qc)
    order = np.argsort(qk, kind="stable")
    sorted_keys = qk[order]
    pk = key(pc)
    lonely = ~np.isin(pk, sorted_keys)
    reach = int(np.ceil(km / size))
    steps = np.arange(-reach, reach + 1)
    offsets = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    for cell in np.unique(pk[lonely]):
        members = np.flatnonzero(lonely & (pk == cell))
        around = key(pc[members[0]] + offsets)
        lo = np.searchsorted(sorted_keys, around, side="left")
        hi = np.searchsorted(sorted_keys, around, side="right")
        near = np.concatenate([order[a:b] for a, b in zip(lo, hi, strict=True)])
        if len(near) == 0:
            far[members] = True
            continue
        d2 = ((p[members, None, :] - q[None, near, :]) ** 2).sum(axis=2)
        far[members] = d2.min(axis=1) > km * km
    return far
