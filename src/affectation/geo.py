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
