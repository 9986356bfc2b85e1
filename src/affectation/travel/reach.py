"""Travel times: the `crowfly` model of the spec, vectorised over millions of pupil-offer pairs.

    minutes = access_minutes[m] + detour[m] * geodesic_km(home, offer) / speed_kmh[m] * 60

The exact geodesic (pyproj, WGS84) costs about 0.5 µs a pair, too slow for the hundreds of
millions of pairs a region holds. So reachability is decided in three steps: a grid keeps only
offers in the cells around a pupil's; a local ellipsoidal flat-earth distance (error under
2 m up to 100 km at French latitudes) decides every pair clearly inside or outside the limit;
the exact geodesic decides the few pairs within a safety band of the limit (wider at high
latitudes, where the approximation is worse; beyond 75° every pair is exact). Minutes
written to outputs are always exact. The grid's pairs are computed by compiled kernels on
every core (`travel.kernels`), with the very floating-point operations of `flat_km`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from affectation.domain.instance import Instance
from affectation.geo import geodesic_km
from affectation.travel.models import model_minutes
from affectation.travel.zones import DECI

# Beyond this radius the flat-earth approximation is not trusted: every pair is computed exactly.
_FLAT_TRUSTED_KM = 100.0
# Pupil-offer pairs of the grid windows whose distances are held at once (8 bytes each).
_WINDOW_CHUNK = 1 << 22


@dataclass(frozen=True, eq=False)
class PupilTravel:
    """Per-pupil crowfly parameters: effective limit, and the radius in km it allows."""

    speed_kmh: np.ndarray
    detour: np.ndarray
    access_minutes: np.ndarray
    limit_minutes: np.ndarray

    @property
    def radius_km(self) -> np.ndarray:
        """Largest geodesic distance within the limit (negative when even access is too long)."""
        return (self.limit_minutes - self.access_minutes) * self.speed_kmh / (60 * self.detour)

    def minutes(self, students: np.ndarray, km: np.ndarray) -> np.ndarray:
        return self.access_minutes[students] + (
            self.detour[students] * km / self.speed_kmh[students] * 60.0
        )


@dataclass(frozen=True, eq=False)
class Reach:
    """Reachable pairs in CSR form, each pupil's offers sorted by minutes then offer index.

    Row i spans `offer[indptr[i]:indptr[i+1]]`; `deciminutes` is the travel time in tenths of a
    minute rounded down (for the objective); exact minutes come from `exact_minutes`.
    """

    indptr: np.ndarray
    offer: np.ndarray
    deciminutes: np.ndarray
    # Per pupil: its row holds only its nearest reachable offers (`nearest_reach`), the others
    # are left out; None when every row holds every reachable pair.
    capped: np.ndarray | None = None

    @property
    def n_pairs(self) -> int:
        return len(self.offer)

    def student_of_pair(self) -> np.ndarray:
        """The pupil of each pair (computed once: read-only, do not modify)."""
        cached = self.__dict__.get("_student_of_pair")
        if cached is None:
            cached = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int32),
                               np.diff(self.indptr))
            cached.setflags(write=False)
            self.__dict__["_student_of_pair"] = cached
        return cached

    def row(self, student: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[student], self.indptr[student + 1]
        return self.offer[lo:hi], self.deciminutes[lo:hi]

    @property
    def any_capped(self) -> bool:
        """Some row leaves reachable pairs out (see `capped`)."""
        return self.capped is not None and bool(self.capped.any())


def pupil_travel(instance: Instance) -> PupilTravel:
    """Each pupil's mode parameters and effective limit (the smaller of the mode's limit and
    the pupil's own): computed once per instance, the one place the limit is decided."""
    cached = instance.__dict__.get("_pupil_travel")
    if cached is None:
        cached = _pupil_travel(instance)
        instance.__dict__["_pupil_travel"] = cached
    travel: PupilTravel = cached
    return travel


def _pupil_travel(instance: Instance) -> PupilTravel:
    modes = instance.scenario.travel.modes
    names = instance.scenario.travel.mode_names
    mode = instance.students.mode

    def per_mode(attr: str) -> np.ndarray:
        return np.array([getattr(modes[m], attr) for m in names], dtype=np.float64)[mode]

    limit = np.minimum(per_mode("max_minutes"), instance.students.max_minutes)
    arrays = {"speed_kmh": per_mode("speed_kmh"), "detour": per_mode("detour"),
              "access_minutes": per_mode("access_minutes"), "limit_minutes": limit}
    for values in arrays.values():
        values.setflags(write=False)  # shared by every stage: never modified
    return PupilTravel(**arrays)


def exact_minutes(instance: Instance, students: np.ndarray, offers: np.ndarray,
                  travel: PupilTravel | None = None) -> np.ndarray:
    """Exact minutes for the given (student, offer) pairs: crowfly, or the scenario's
    timetable or matrix model for the pupils whose mode it covers (inf = unreachable)."""
    travel = travel or pupil_travel(instance)
    st, of = instance.students, instance.offers
    students, offers = np.asarray(students), np.asarray(offers)
    table = model_minutes(instance)
    minutes = np.empty(len(students), dtype=np.float64)
    covered = np.zeros(len(students), dtype=bool)
    if table is not None and len(students):
        covered = table.origin_of_student[students] >= 0
        minutes[covered] = table.lookup(students[covered], offers[covered])
    # The geodesic only where the model does not answer: it is the costly part.
    s, o = students[~covered], offers[~covered]
    minutes[~covered] = travel.minutes(s, geodesic_km(st.lat[s], st.lon[s], of.lat[o], of.lon[o]))
    return minutes


def reachable(instance: Instance, travel: PupilTravel | None = None,
              offer_mask: np.ndarray | None = None,
              student_mask: np.ndarray | None = None) -> Reach:
    """All (pupil, offer) pairs within the pupil's limit, for masked pupils and offers.

    Defaults: pupils to place, offers with capacity > 0. Exactness: a pair is kept iff its
    exact geodesic minutes are <= the limit.
    """
    return _reachable(instance, travel, offer_mask, student_mask, None)


def nearest_reach(instance: Instance, k: int, travel: PupilTravel | None = None,
                  offer_mask: np.ndarray | None = None,
                  student_mask: np.ndarray | None = None) -> Reach:
    """Each masked pupil's `k` nearest reachable offers (by minutes, then offer index, among
    those within the radius searched), plus the offers of its signed conventions when within
    reach; `capped` marks the pupils that may reach more offers than their row holds.

    Fast and small where offers are dense: each pupil's search starts at the radius that the
    density of offers around its home suggests for `k` offers (`_SEARCH_KM` levels) and
    doubles until it holds `k` offers or reaches the pupil's limit, so a Parisian pupil scans
    a few hundred offers, not the tens of thousands within its 45 minutes; memory holds the
    rows kept, cut chunk by chunk of pupils. The pairs left out are found again when needed by
    `pairs_beyond`, which the proven bounds use to check their minimum cuts against every
    omitted arc (`engine.bound`). Defaults as `reachable`.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    travel = travel or pupil_travel(instance)
    st, of = instance.students, instance.offers
    if offer_mask is None:
        offer_mask = of.capacity > 0
    if student_mask is None:
        student_mask = st.to_place
    radius = travel.radius_km
    todo = np.flatnonzero(student_mask & (radius >= 0))
    level = _start_level(instance, todo, offer_mask, k)
    capped = np.zeros(st.n, dtype=bool)
    count = np.zeros(st.n, dtype=np.int64)
    parts: list[np.ndarray] = []
    while len(todo):
        searched = _SEARCH_KM[level]
        whole = (searched >= radius[todo]) | (level == len(_SEARCH_KM) - 1)
        limit = travel.limit_minutes.copy()
        part = todo[~whole]
        limit[part] = np.minimum(limit[part], travel.access_minutes[part] + travel.detour[part]
                                 * searched[~whole] / travel.speed_kmh[part] * 60.0)
        here = PupilTravel(travel.speed_kmh, travel.detour, travel.access_minutes, limit)
        mask = np.zeros(st.n, dtype=bool)
        mask[todo] = True
        cap = _Cap(k, capped, count)
        count[todo] = 0
        keys = _pair_keys(instance, here, offer_mask, mask, cap)
        done = whole | (count[todo] >= k)
        # Searched short of the limit: more offers may lie beyond (the bounds check them).
        capped[todo[done & ~whole]] = True
        accepted = np.zeros(st.n, dtype=bool)
        accepted[todo[done]] = True
        parts.append(keys[accepted[keys >> 40]])
        todo, level = todo[~done], np.minimum(level[~done] + 1, len(_SEARCH_KM) - 1)
    keys = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    keys = np.sort(np.r_[keys, _signed_keys(instance, travel, offer_mask, student_mask, keys)])
    capped.setflags(write=False)
    return _reach_of_keys(keys, st.n, capped)


# Radii (km) of the nearest-offer searches: 0.25 km to 45 km, by factors of sqrt(2).
_SEARCH_KM = 0.25 * 2.0 ** (np.arange(16) / 2.0)
_DENSITY_CELL_KM = 1.0
_DENSITY_SPAN = 2  # cells on each side: a 5 km square


def _start_level(instance: Instance, pupils: np.ndarray, offer_mask: np.ndarray,
                 k: int) -> np.ndarray:
    """Index into `_SEARCH_KM` of the radius holding about 1.3 x k offers at the density of
    offers in the 5 km square around each pupil (a guess: a search too short is repeated)."""
    st, of = instance.students, instance.offers
    offers = np.flatnonzero(offer_mask)
    if not len(pupils) or not len(offers):
        return np.zeros(len(pupils), dtype=np.int64)

    def cells(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.floor(lat * 110.57 / _DENSITY_CELL_KM).astype(np.int64)
        x = np.floor(lon * 111.32 * np.cos(np.radians(lat)) / _DENSITY_CELL_KM).astype(np.int64)
        return x, y

    ox, oy = cells(of.lat[offers], of.lon[offers])
    base = 1 << 20
    keys = np.sort((ox + base) * (1 << 21) + (oy + base))
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    okey, ocount = keys[starts], np.diff(np.r_[starts, len(keys)])
    px, py = cells(st.lat[pupils], st.lon[pupils])
    total = np.zeros(len(pupils), dtype=np.int64)
    for dx in range(-_DENSITY_SPAN, _DENSITY_SPAN + 1):
        for dy in range(-_DENSITY_SPAN, _DENSITY_SPAN + 1):
            key = (px + dx + base) * (1 << 21) + (py + dy + base)
            pos = np.minimum(np.searchsorted(okey, key), len(okey) - 1)
            total += np.where(okey[pos] == key, ocount[pos], 0)
    area = (2 * _DENSITY_SPAN + 1) ** 2 * _DENSITY_CELL_KM ** 2
    density = np.maximum(total / area, 1e-9)
    wanted = np.sqrt(1.3 * k / (np.pi * density))
    level: np.ndarray = np.minimum(np.searchsorted(_SEARCH_KM, wanted), len(_SEARCH_KM) - 1)
    return level.astype(np.int64)


def _signed_keys(instance: Instance, travel: PupilTravel, offer_mask: np.ndarray,
                 student_mask: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Keys of the reachable signed (pupil, offer) pairs of masked pupils missing in `keys`."""
    conv = instance.conventions
    s = conv.student.astype(np.int64)
    o = conv.offer.astype(np.int64)
    keep = student_mask[s] & offer_mask[o]
    s, o = s[keep], o[keep]
    if not len(s):
        return np.zeros(0, dtype=np.int64)
    signed = np.zeros(instance.students.n, dtype=bool)
    signed[s] = True
    mine = keys[signed[keys >> 40]]
    have = sorted_unique((mine >> 40) * (1 << 24) + (mine & 0xFFFFFF))
    wanted = sorted_unique(s * (1 << 24) + o)
    wanted = wanted[~is_member(wanted, have)]
    s, o = wanted // (1 << 24), wanted % (1 << 24)
    minutes = exact_minutes(instance, s, o, travel)
    ok = minutes <= travel.limit_minutes[s]
    deci = np.minimum(np.floor(minutes[ok] * DECI), 0xFFFF).astype(np.int64)
    out: np.ndarray = (s[ok] << 40) | (deci << 24) | o[ok]
    return out


@dataclass(frozen=True, eq=False)
class _Cap:
    """How `_grid_pairs` cuts each chunk of pupils: `k` nearest pairs per pupil; `capped`
    records the pupils cut, `count` every pupil's pairs before the cut."""

    k: int
    capped: np.ndarray
    count: np.ndarray

    def trim(self, keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return keys
        keys = np.sort(keys)
        student = keys >> 40
        starts = np.r_[0, np.flatnonzero(student[1:] != student[:-1]) + 1]
        self.count[student[starts]] += np.diff(np.r_[starts, len(student)])
        kept = _rank_in_runs(student) < self.k
        self.capped[student[~kept]] = True
        out: np.ndarray = keys[kept]
        return out


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """`np.unique` of integers by a sort (numpy 2.4's hash-based unique takes minutes on
    tens of millions of packed keys; a sort takes a second)."""
    out = np.sort(np.asarray(values))
    if len(out) > 1:
        out = out[np.r_[True, out[1:] != out[:-1]]]
    return out


def is_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Element-wise: is each of `values` in `sorted_set` (sorted, unique)? (`np.isin` by a
    binary search: see `sorted_unique`)."""
    values = np.asarray(values)
    if not len(sorted_set):
        return np.zeros(values.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    found: np.ndarray = sorted_set[pos] == values
    return found


def _rank_in_runs(values: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal (sorted) values."""
    n = len(values)
    starts = np.r_[0, np.flatnonzero(values[1:] != values[:-1]) + 1]
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))


def pairs_beyond(instance: Instance, reach: Reach, student_mask: np.ndarray,
                 offer_mask: np.ndarray, per_pupil: int | None = None,
                 travel: PupilTravel | None = None,
                 keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reachable pairs (pupil, offer, deciminutes) that `reach`'s capped rows leave out,
    for the masked pupils (capped ones only) and offers (capacity > 0), sorted by pupil then
    minutes; only those `keep(pupils, offers)` accepts, and with `per_pupil` each pupil's
    nearest ones. Computed again from the positions by the reach kernels, each chunk of
    pupils filtered as it comes, so that memory holds little more than what is returned."""
    empty = np.zeros(0, dtype=np.int64)
    if reach.capped is None:
        return empty, empty, empty
    mask = student_mask & reach.capped
    offer_mask = offer_mask & (instance.offers.capacity > 0)
    if not mask.any() or not offer_mask.any():
        return empty, empty, empty
    n_offers = max(instance.offers.n, 1)
    trim = _Beyond(reach, n_offers, keep, per_pupil, np.zeros(n_offers, dtype=bool))
    keys = _pair_keys(instance, travel or pupil_travel(instance), offer_mask, mask, trim)
    return keys >> 40, keys & 0xFFFFFF, (keys >> 24) & 0xFFFF


@dataclass(frozen=True, eq=False)
class _Beyond:
    """How `_grid_pairs` cuts each chunk of pupils for `pairs_beyond`: the pairs not in the
    rows of `reach`, accepted by `keep`, each pupil's `per_pupil` nearest."""

    reach: Reach
    n_offers: int
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    per_pupil: int | None
    # One flag per offer for `kernels.outside_rows`, all False between chunks.
    scratch: np.ndarray

    def trim(self, keys: np.ndarray) -> np.ndarray:
        from affectation.travel.kernels import outside_rows

        if not len(keys):
            return keys
        keys = np.sort(keys)
        new = np.empty(len(keys), dtype=bool)
        outside_rows(keys, self.reach.indptr, self.reach.offer, self.scratch, new)
        if self.keep is not None and new.any():
            kept = keys[new]
            new[new] = self.keep(kept >> 40, kept & 0xFFFFFF)
        keys = keys[new]
        if self.per_pupil is not None and len(keys):
            keys = keys[_rank_in_runs(keys >> 40) < self.per_pupil]
        return keys


def _reachable(instance: Instance, travel: PupilTravel | None,
               offer_mask: np.ndarray | None, student_mask: np.ndarray | None,
               cap: _Cap | None) -> Reach:
    """`reachable`, each chunk of pupils cut by `cap` when given."""
    return _reach_of_keys(_pair_keys(instance, travel, offer_mask, student_mask, cap),
                          instance.students.n)


def _reach_of_keys(keys: np.ndarray, n: int, capped: np.ndarray | None = None) -> Reach:
    """The reach of sorted packed keys (pupil << 40 | deciminutes << 24 | offer)."""
    from affectation.travel.kernels import unpack_keys

    deci = np.empty(len(keys), dtype=np.uint16)
    offer = np.empty(len(keys), dtype=np.int32)
    unpack_keys(keys, offer, deci)
    # Keys are sorted by pupil first: each row starts at the first key of its pupil.
    indptr = np.searchsorted(keys, np.arange(n + 1, dtype=np.int64) << 40).astype(np.int64)
    return Reach(indptr=indptr, offer=offer, deciminutes=deci, capped=capped)


def _pair_keys(instance: Instance, travel: PupilTravel | None,
               offer_mask: np.ndarray | None, student_mask: np.ndarray | None,
               cap: _Cap | _Beyond | None) -> np.ndarray:
    """Sorted packed keys of the reachable pairs of the masked pupils and offers."""
    travel = travel or pupil_travel(instance)
    st, of = instance.students, instance.offers
    if offer_mask is None:
        offer_mask = of.capacity > 0
    if student_mask is None:
        student_mask = st.to_place
    chunks_key: list[np.ndarray] = []
    table = model_minutes(instance)
    if table is not None:
        by_table = student_mask & (table.origin_of_student >= 0)
        table_keys = table.pair_keys(np.flatnonzero(by_table), travel.limit_minutes,
                                     offer_mask)
        chunks_key.append(table_keys if cap is None else cap.trim(table_keys))
        student_mask = student_mask & ~by_table
    radius = travel.radius_km
    candidates = np.flatnonzero(offer_mask)
    active = np.flatnonzero(student_mask & (radius >= 0))
    if len(candidates) and len(active):
        # Pupils are grouped by the radius they allow so that each group uses a grid fitted to it.
        groups = np.unique(np.round(radius[active], 1))
        for group_radius in groups:
            members = active[np.round(radius[active], 1) == group_radius]
            cell_km = max(float(radius[members].max()), 1.0)
            _grid_pairs(instance, travel, members, candidates, cell_km, chunks_key, cap)
    if chunks_key:
        keys = np.concatenate(chunks_key)
        keys.sort()
    else:
        keys = np.zeros(0, dtype=np.int64)
    return keys


def _grid_pairs(instance: Instance, travel: PupilTravel, members: np.ndarray,
                candidates: np.ndarray, cell_km: float, out_key: list[np.ndarray],
                cap: _Cap | _Beyond | None = None) -> None:
    """Packed keys of the reachable pairs of `members` (pupils sharing a radius) among the
    `candidates` offers, by a grid of cells of `cell_km`, appended to `out_key` chunk by
    chunk of pupils (each chunk cut by `cap` when given)."""
    from affectation.travel import kernels  # numba: imported when first needed

    st, of = instance.students, instance.offers
    if st.n >= 1 << 23 or of.n >= 1 << 24:
        raise ValueError("too many students or offers for the packed pair keys")
    # Grid coordinates never overstate a distance: degrees are scaled by the smallest length
    # a degree has over the pupils' latitudes (plus their reach), so that the 3x3 cells around a
    # pupil's cell hold every offer within its radius; cells are also 5% larger for safety.
    widest_lat = min(float(np.max(np.abs(st.lat[members]))) + cell_km / 110.0, 89.0)
    ky = 110.5
    kx = 111.32 * np.cos(np.radians(widest_lat))
    size = cell_km * 1.05 + 0.5
    oc_x = np.floor(of.lon[candidates] * kx / size).astype(np.int64)
    oc_y = np.floor(of.lat[candidates] * ky / size).astype(np.int64)
    sc_x = np.floor(st.lon[members] * kx / size).astype(np.int64)
    sc_y = np.floor(st.lat[members] * ky / size).astype(np.int64)
    base = 1 << 21
    o_cell = (oc_x + base) * (1 << 22) + (oc_y + base)
    order = np.argsort(o_cell, kind="stable")
    o_cell_sorted = o_cell[order]
    o_sorted = candidates[order]
    s_cell = (sc_x + base) * (1 << 22) + (sc_y + base)
    s_order = np.argsort(s_cell, kind="stable")
    pupils = members[s_order]
    if not len(pupils):
        return
    cell = s_cell[s_order]
    # Each pupil's window: the offers of the 3x3 cells around its own, three runs of the
    # sorted offers (one per column of cells).
    cx, cy = np.divmod(cell, 1 << 22)
    window = np.zeros((len(pupils), 6), dtype=np.int64)
    for j, dx in enumerate((-1, 0, 1)):
        window[:, 2 * j] = np.searchsorted(o_cell_sorted, (cx + dx) * (1 << 22) + cy - 1,
                                           side="left")
        window[:, 2 * j + 1] = np.maximum(
            np.searchsorted(o_cell_sorted, (cx + dx) * (1 << 22) + cy + 1, side="right"),
            window[:, 2 * j])
    # The flat-earth error grows with latitude (2 m at 51°N, 40 m at 80°N for 95 km): a
    # wider band below 75° (by the northernmost pupil of the cell), the exact geodesic for
    # every pair beyond.
    first = np.r_[0, np.flatnonzero(cell[1:] != cell[:-1]) + 1]
    top = np.repeat(np.maximum.reduceat(np.abs(st.lat[pupils]), first),
                    np.diff(np.r_[first, len(pupils)]))
    band_rel = np.where(top <= 55, 1e-4, 1e-3)
    exact = (top > 75) | (cell_km > _FLAT_TRUSTED_KM)
    band = np.maximum(band_rel * travel.radius_km[pupils], 0.01)
    size_of = (window[:, 1::2] - window[:, 0::2]).sum(axis=1)
    lat, lon = st.lat.astype(np.float64), st.lon.astype(np.float64)
    o_lat, o_lon = of.lat.astype(np.float64), of.lon.astype(np.float64)
    offers = o_sorted.astype(np.int64)
    radius = travel.radius_km.astype(np.float64)
    access = travel.access_minutes.astype(np.float64)
    detour, speed = travel.detour.astype(np.float64), travel.speed_kmh.astype(np.float64)
    # Chunks of pupils holding about `_WINDOW_CHUNK` pairs of their windows each.
    total = np.cumsum(size_of)
    edges = np.unique(np.r_[0, np.searchsorted(total, np.arange(
        _WINDOW_CHUNK, int(total[-1]), _WINDOW_CHUNK), side="right"), len(pupils)])
    km = np.empty(0, dtype=np.float64)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        part = pupils[lo:hi].astype(np.int64)
        sizes = size_of[lo:hi]
        start = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
        if int(sizes.sum()) > len(km):
            km = np.empty(int(sizes.sum()), dtype=np.float64)
        counts = np.zeros((len(part), 2), dtype=np.int64)
        kernels.classify_pairs(part, window[lo:hi], offers, lat, lon, o_lat, o_lon, radius,
                               band[lo:hi], exact[lo:hi], start, km, counts)
        offset = np.zeros_like(counts)
        offset[1:] = np.cumsum(counts, axis=0)[:-1]
        keys = np.empty(int(counts[:, 0].sum()), dtype=np.int64)
        d_s = np.empty(int(counts[:, 1].sum()), dtype=np.int64)
        d_o = np.empty(len(d_s), dtype=np.int64)
        kernels.write_pairs(part, window[lo:hi], offers, radius, band[lo:hi], exact[lo:hi],
                            access, detour, speed, start, km, offset, keys, d_s, d_o)
        # Doubtful pairs: the exact geodesic decides.
        dist = geodesic_km(st.lat[d_s], st.lon[d_s], of.lat[d_o], of.lon[d_o])
        minutes = travel.minutes(d_s, dist)
        keep = minutes <= travel.limit_minutes[d_s]
        d_s, d_o, minutes = d_s[keep], d_o[keep], minutes[keep]
        deci = np.minimum(np.floor(minutes * DECI), 0xFFFF).astype(np.int64)
        chunk = np.concatenate([keys, (d_s << 40) | (deci << 24) | d_o])
        out_key.append(chunk if cap is None else cap.trim(chunk))


def restrict_reach(reach: Reach, pupils: np.ndarray, lengths: np.ndarray | None = None
                   ) -> tuple[Reach, np.ndarray]:
    """The first `lengths[k]` pairs of each pupil `pupils[k]` (sorted indices; None: every
    pair) as a `Reach` over the same pupils and offers (other rows empty), and their indices
    in `reach`. A capped pupil stays capped: what `pairs_beyond` finds for it is then every
    reachable pair not in its new row."""
    full = reach.indptr[pupils + 1] - reach.indptr[pupils]
    if lengths is None:
        lengths = full
    starts = reach.indptr[pupils]
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    idx = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    counts = np.zeros(len(reach.indptr) - 1, dtype=np.int64)
    counts[pupils] = lengths
    indptr = np.zeros(len(reach.indptr), dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    capped = None
    if reach.capped is not None:
        capped = np.zeros(len(reach.indptr) - 1, dtype=bool)
        capped[pupils] = reach.capped[pupils]
    return Reach(indptr=indptr, offer=reach.offer[idx], deciminutes=reach.deciminutes[idx],
                 capped=capped), idx
