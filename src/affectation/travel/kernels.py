"""Compiled kernels of `reach.reachable`: the crowfly pairs of a grid, on every core.

The flat-earth distance is computed with the very operations of `geo.flat_km` (same order,
no fast-math, libm's sin, cos and hypot), so that it is bit for bit the distance numpy gives:
the reachable pairs and their minutes do not depend on which of the two computes them.

Two passes over each pupil's window of offers (the 3x3 grid cells around its own): the first
computes every distance and counts the sure and doubtful pairs, the second writes the packed
keys of the sure pairs and the doubtful pairs (decided by the exact geodesic in numpy
afterwards). The caller runs them on chunks of pupils, to bound the distances held.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

from affectation.geo import WGS84_A, WGS84_E2
from affectation.travel.zones import DECI

# The parallel kernels must survive a fork (`sweep`, `transit` fork worker processes): GNU
# OpenMP does not, so unless the user chose a layer, a fork-safe one (TBB when installed,
# else numba's workqueue) runs them.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "forksafe"  # type: ignore[attr-defined]

_DEG = math.pi / 180.0
# Kilometres per degree of latitude and of longitude (at the equator) at least: the
# meridional radius of curvature is at least A (1 - e2) and the normal one at least A. A pair
# farther apart in latitude than `upper / _KM_PER_DEG_LAT`, or in longitude (under 180°) than
# `upper / (_KM_PER_DEG_LON cos(latitude))` at the highest latitude the pair can have, is
# farther than `upper` in `_flat_km`; `_PRUNE` > 1 covers the rounding of those bounds.
_KM_PER_DEG_LAT = WGS84_A * (1 - WGS84_E2) * _DEG / 1000.0
_KM_PER_DEG_LON = WGS84_A * _DEG / 1000.0
_PRUNE = 1.0 + 1e-6


@numba.njit(cache=True, inline="always")
def _flat_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """`geo.flat_km` of one pair, same operations in the same order."""
    phi = ((lat1 + lat2) * 0.5) * _DEG
    s = math.sin(phi)
    w = math.sqrt(1 - WGS84_E2 * s * s)
    meridional = WGS84_A * (1 - WGS84_E2) / (w * w * w)
    normal = WGS84_A / w
    dy = ((lat2 - lat1) * _DEG) * meridional
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    dx = (dlon * _DEG) * normal * math.cos(phi)
    return math.hypot(dx, dy) / 1000.0


@numba.njit(cache=True, inline="always")
def _limits(r: float, band: float, exact: bool) -> tuple[float, float]:
    """(upper, lower): a pair at most `upper` km away is a candidate, under `lower` a sure one
    (no pair is sure when `exact`: the geodesic decides them all)."""
    if exact:
        return r * 1.05 + 1.0, -math.inf
    return r + band, r - band


@numba.njit(cache=True, parallel=True)
def classify_pairs(pupils: np.ndarray, window: np.ndarray, offers: np.ndarray,
                   p_lat: np.ndarray, p_lon: np.ndarray, o_lat: np.ndarray,
                   o_lon: np.ndarray, radius: np.ndarray, band: np.ndarray,
                   exact: np.ndarray, start: np.ndarray, km: np.ndarray,
                   counts: np.ndarray) -> None:
    """Pass 1. Pupil k (`pupils[k]`) meets the offers `offers[window[k, 2j]:window[k, 2j+1]]`
    (j = 0, 1, 2); its pairs' distances go to `km[start[k]:]` (inf for a pair surely out),
    its sure and doubtful counts to `counts[k]`. `exact[k]`: every candidate pair is doubtful
    (wide radius, high latitude).
    """
    for k in numba.prange(len(pupils)):
        p = pupils[k]
        upper, lower = _limits(radius[p], band[k], exact[k])
        # Lower bounds of the distance, in degrees of latitude and longitude beyond which a
        # pair is out (see `_PRUNE`), to skip the trigonometry of most far pairs.
        max_dlat = upper * _PRUNE / _KM_PER_DEG_LAT
        cos_low = math.cos(min(abs(p_lat[p]) + max_dlat, 90.0) * _DEG)
        max_dlon = upper * _PRUNE / (_KM_PER_DEG_LON * cos_low) if cos_low > 0 else math.inf
        pos = start[k]
        n_sure = 0
        n_doubt = 0
        for j in range(3):
            for q in range(window[k, 2 * j], window[k, 2 * j + 1]):
                o = offers[q]
                d = math.inf
                if (abs(o_lat[o] - p_lat[p]) <= max_dlat
                        and abs(o_lon[o] - p_lon[p]) <= max_dlon):
                    d = _flat_km(p_lat[p], p_lon[p], o_lat[o], o_lon[o])
                    if d <= upper:
                        if d < lower:
                            n_sure += 1
                        else:
                            n_doubt += 1
                km[pos] = d
                pos += 1
        counts[k, 0] = n_sure
        counts[k, 1] = n_doubt


@numba.njit(cache=True, parallel=True)
def write_pairs(pupils: np.ndarray, window: np.ndarray, offers: np.ndarray,
                radius: np.ndarray, band: np.ndarray, exact: np.ndarray,
                access: np.ndarray, detour: np.ndarray, speed: np.ndarray,
                start: np.ndarray, km: np.ndarray, offset: np.ndarray,
                keys: np.ndarray, doubt_pupil: np.ndarray, doubt_offer: np.ndarray) -> None:
    """Pass 2: the packed keys (pupil << 40 | deciminutes << 24 | offer) of the sure pairs
    from `offset[k, 0]`, the doubtful pairs from `offset[k, 1]` (minutes as
    `PupilTravel.minutes`)."""
    for k in numba.prange(len(pupils)):
        p = pupils[k]
        upper, lower = _limits(radius[p], band[k], exact[k])
        pos = start[k]
        i_sure = offset[k, 0]
        i_doubt = offset[k, 1]
        for j in range(3):
            for q in range(window[k, 2 * j], window[k, 2 * j + 1]):
                d = km[pos]
                pos += 1
                if not d <= upper:
                    continue
                o = offers[q]
                if d >= lower:
                    doubt_pupil[i_doubt] = p
                    doubt_offer[i_doubt] = o
                    i_doubt += 1
                    continue
                minutes = access[p] + (detour[p] * d / speed[p] * 60.0)
                deci = min(np.floor(minutes * DECI), 65535.0)
                keys[i_sure] = (np.int64(p) << 40) | (np.int64(deci) << 24) | np.int64(o)
                i_sure += 1


@numba.njit(cache=True, parallel=True)
def unpack_keys(keys: np.ndarray, offer: np.ndarray, deci: np.ndarray) -> None:
    """Offers and deciminutes of packed pair keys."""
    for i in numba.prange(len(keys)):
        offer[i] = keys[i] & 0xFFFFFF
        deci[i] = (keys[i] >> 24) & 0xFFFF


@numba.njit(cache=True)
def outside_rows(keys: np.ndarray, indptr: np.ndarray, row_offer: np.ndarray,
                 scratch: np.ndarray, out: np.ndarray) -> None:
    """out[i]: packed key `keys[i]` (sorted by pupil) is not a pair of its pupil's row
    (`row_offer[indptr[p]:indptr[p + 1]]`). Each pupil's row is marked in `scratch` (one
    flag per offer, all False on entry and on return) while its keys are read: no sorted
    copy of the rows, no binary search."""
    n = len(keys)
    i = 0
    while i < n:
        pupil = keys[i] >> 40
        j = i
        while j < n and (keys[j] >> 40) == pupil:
            j += 1
        for r in range(indptr[pupil], indptr[pupil + 1]):
            scratch[row_offer[r]] = True
        for k in range(i, j):
            out[k] = not scratch[keys[k] & 0xFFFFFF]
        for r in range(indptr[pupil], indptr[pupil + 1]):
            scratch[row_offer[r]] = False
        i = j
