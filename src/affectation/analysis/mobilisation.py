"""Where to recruit firms (`mobilisation.csv`): how many pupils a new site would place, by EPCI.

For each EPCI of the bundled geography, a new offer is imagined at the centroid of its most
populous commune (ties: the lowest INSEE code): open both weeks, not reserved, not accessible
(the format's default), no sector, with as many seats as it can fill. Its pupils within reach
follow the scenario's travel model (`travel.sites`: crowfly, or the timetables, or the
matrix, for the modes they cover); under timetables, a site with no station within walking
distance moves to the station of its commune nearest to the centroid (`transit_places`).

The gains are computed exactly on the *singles network* (a bipartite flow): the *movable*
pupils are the pupils to place with no signed week who are either `single` at a two-week
offer or not placed for both weeks (`partial`, `unplaced`); each may take one seat (both
weeks) at any two-week offer it may use within its travel limit. An offer's seats for movable
pupils are its seats left, in the fuller week, by everyone else (splits, pairs, conventions,
one-week stays of partial pupils). The current singles are one flow of this network; its
maximum flow, `base`, is found once: the current singles themselves when they are a maximum
flow (as after `solve`; a compiled search of the residual network proves it), else OR-Tools'
max flow (which may place more pupils than the current singles, since it ignores
priorities).

The gain curve of a site: gain(K) = (maximum flow with K seats at the site) - base. A seat
holds one pupil for both weeks and a maximum flow grows by at most one per unit of capacity
on one arc, so the curve climbs by exactly one pupil per seat and then stays flat:
gain(K) = min(K, gain_total). `gain_total` (the curve's plateau) is the gain with unbounded
seats and `saturation_seats` (= `gain_total` on this network) the seats from which one more
places nobody; `gain_1`, `gain_5`, `gain_10` are the curve at 1, 5 and 10 seats, kept from
the first version of the file. `direct_gain` counts the pupils the maximum flow leaves out
who may use the site (the movable pupils waiting today, whenever the current singles are a
maximum flow, as after `solve`): they take its first seats without anyone moving; the rest of the
curve needs chains of moves (a pupil left out takes a single's seat, that single moves to
another two-week offer, ..., and the last one, who may use the site, moves there). Sites are
ranked by `gain_total`, then `direct_gain`, then the pupils waiting within reach.

`gain_total` is the maximum number of pupil-disjoint augmenting paths from the pupils left
out to the site, in the residual network of the base flow: Dinic's algorithm searched from
the site, on bitsets of the pupils (`_site_gain`, compiled, one site per thread), among the
pupils the residual network reaches from a pupil left out (the min cut's source side: every
augmenting path lies there): a few seconds for the 71 sites at scale 1
(`benchmarks/mobilisation.py`).

What the gains cover exactly: every re-assignment of movable pupils among two-week offers
(chains of any length). What they do not: moving pupils in splits or pairs, releasing the
one-week seat of a partial pupil who becomes a single (another pupil could use it), one-week
stays at the new offer (with `split_two_week_offers = true`), priorities (a gain counts
pupils, priority or not), and sectors or travel preferences. They equal the gains of the
whole model when every placement for both weeks is a single (tested against brute force);
with splits and pairs they count the singles' re-assignments only, and are then neither a
bound nor the exact gain of the whole model. With `--confirm N` the N best sites are checked
by full re-solves (`confirmed_gain_10` = placed for both weeks by a re-solve with 10 seats at
the site - placed by the same re-solve without it, run once: N + 1 solves). A re-solve is
exact on small instances but heuristic and time-limited at scale: there both solves carry
the search's own variation (hundreds of pupils on a loaded machine), which can exceed the
gain of ten seats; read it as a sanity check of the sign and order of magnitude, not as a
sharper figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from ortools.graph.python import max_flow

import affectation.travel.kernels  # noqa: F401  (sets the fork-safe threading layer first)
from affectation.domain.allocation import seats_used
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, allowed_pairs, offer_roles
from affectation.geodata import load_communes
from affectation.travel.reach import Reach
from affectation.travel.sites import places_reach

SEATS = (1, 5, 10)
# Version 1 columns first, then the gain curve's (an extension: readers by name see no change).
COLUMNS = ("rank", "epci", "label", "department", "commune_insee", "commune", "lat", "lon",
           "pupils_within_reach", "waiting_within_reach", "gain_1", "gain_5", "gain_10",
           "confirmed_gain_10", "gain_total", "saturation_seats", "direct_gain")
SITE_PREFIX = "MOBILISATION-"
# Sites whose gains are computed together (one per thread), between two progress reports.
SITE_BATCH = 8


@dataclass(frozen=True)
class Site:
    """A place where new seats are imagined: an EPCI's most populous commune's centroid."""

    epci: str
    label: str
    department: str
    insee: str
    commune: str
    lat: float
    lon: float


def sites(communes: pd.DataFrame | None = None) -> list[Site]:
    """One site per EPCI (sorted by SIREN): its most populous commune, ties to the lowest INSEE."""
    communes = load_communes() if communes is None else communes
    ordered = communes.sort_values(["epci_siren", "population", "insee"],
                                   ascending=[True, False, True], kind="stable")
    first = ordered.drop_duplicates("epci_siren")
    return [Site(r.epci_siren, r.epci_name, r.department, r.insee, r.name, float(r.lat),
                 float(r.lon)) for r in first.itertuples()]


class SinglesNetwork:
    """The singles network at an allocation (see the module docstring), at its maximum flow.

    The maximum flow (`base`: the current singles when they are one, else OR-Tools') is
    found once; its residual network's source side (`reached`) holds every pupil an
    augmenting path can pass through. `gains` then
    finds, for each site, the maximum number of augmenting paths ending there (the site's
    seats unbounded): its total gain, computed by a compiled search from the pupils who may
    use the site (`_site_gains`).
    """

    def __init__(self, instance: Instance, allocation: np.ndarray, reach: Reach,
                 roles: OfferRoles | None = None) -> None:
        st, of = instance.students, instance.offers
        roles = offer_roles(instance) if roles is None else roles
        fixed = instance.fixed
        a, b = allocation[:, 0], allocation[:, 1]
        unsigned = st.to_place & (fixed < 0).all(axis=1)
        single = unsigned & (a >= 0) & (a == b) & roles.single[np.maximum(a, 0)]
        waiting = unsigned & ((a < 0) | (b < 0))
        self.n_students, self.n_offers = st.n, of.n
        self.movable = single | waiting
        self.current_singles = int(single.sum())
        self.current = np.where(single, a, -1).astype(np.int32)
        others = seats_used(instance, allocation, ~single)
        cap = np.where(roles.single, (of.seats - others).min(axis=1), 0)
        self.cap = np.maximum(cap, 0)
        student = reach.student_of_pair()
        keep = allowed_pairs(instance, reach) & roles.single[reach.offer] & self.movable[student]
        self.arc_student = student[keep].astype(np.int64)
        self.arc_offer = reach.offer[keep].astype(np.int64)
        self._max_flow()
        # Who may take a seat at each offer: the reached pupils only (no augmenting path
        # leaves the residual network's source side), as CSR by offer.
        self.in_ptr = np.zeros(of.n + 1, dtype=np.int64)
        self.in_pupil = _by_offer(self.arc_student, self.arc_offer, self.reached, self.in_ptr)

    def _max_flow(self) -> None:
        """The maximum flow: each pupil's `held` offer (-1: none), `reached` pupils.

        When the current singles are a maximum flow (as after `solve`), they are kept: the
        pupils left out are then the pupils waiting today, and one compiled search of the
        residual network proves it (no free seat reached) and gives `reached` (the source
        side of a minimum cut is the same for every maximum flow). Otherwise OR-Tools
        solves the maximum flow from scratch."""
        n_s, n_o = self.n_students, self.n_offers
        fwd_ptr = np.zeros(n_s + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.arc_student, minlength=n_s), out=fwd_ptr[1:])
        held = self.current
        holding = held >= 0
        order = np.argsort(held[holding], kind="stable")
        holders = np.flatnonzero(holding)[order].astype(np.int64)
        hold_ptr = np.zeros(n_o + 1, dtype=np.int64)
        np.cumsum(np.bincount(held[holding], minlength=n_o), out=hold_ptr[1:])
        free = self.cap - np.diff(hold_ptr)
        reached = np.zeros(n_s, dtype=np.bool_)
        if (free >= 0).all() and _residual_side(fwd_ptr, self.arc_offer, held, self.movable,
                                                free, hold_ptr, holders, reached):
            self.base = self.current_singles
            self.held = held
            self.reached = reached
            return
        pupils = np.flatnonzero(self.movable)
        # Nodes: source 0, sink 1, pupils 2.., offers 2 + n_s..
        flow = max_flow.SimpleMaxFlow()
        flow.add_arcs_with_capacity(np.zeros(len(pupils), dtype=np.int64), 2 + pupils,
                                    np.ones(len(pupils), dtype=np.int64))
        first = flow.add_arcs_with_capacity(2 + self.arc_student, 2 + n_s + self.arc_offer,
                                            np.ones(len(self.arc_student), dtype=np.int64))
        flow.add_arcs_with_capacity(2 + n_s + np.arange(n_o), np.ones(n_o, dtype=np.int64),
                                    self.cap.astype(np.int64))
        status = flow.solve(0, 1)
        if status != flow.OPTIMAL:
            raise RuntimeError(f"max flow failed with status {status}")
        self.base = int(flow.optimal_flow())
        first = int(np.asarray(first).ravel()[0]) if len(self.arc_student) else 0
        arcs = first + np.arange(len(self.arc_student))
        matched = np.asarray(flow.flows(arcs)) > 0 if len(arcs) else np.zeros(0, bool)
        self.held = np.full(n_s, -1, dtype=np.int32)
        self.held[self.arc_student[matched]] = self.arc_offer[matched]
        side = np.zeros(2 + n_s + n_o, dtype=bool)
        side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
        self.reached = side[2:2 + n_s] & self.movable

    def gains(self, targets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """For each site (the pupils who may use it, `targets[k]`): its total gain (the
        maximum flow's increase with unbounded seats there) and its direct gain (pupils the
        flow leaves out who may use the site: placed there without moving anyone)."""
        if "_bits" not in self.__dict__:
            inside = np.flatnonzero(self.reached)
            bit = np.full(self.n_students, -1, dtype=np.int64)
            bit[inside] = np.arange(len(inside))
            takers = np.zeros((self.n_offers, (len(inside) + 63) // 64), dtype=np.uint64)
            _set_bits(takers, self.in_ptr, bit[self.in_pupil])
            self._bits = (bit, takers, self.held[inside])
        bit, takers, held = self._bits
        clean = [bit[t[self.reached[t]]] for t in targets]
        ptr = np.zeros(len(clean) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in clean], out=ptr[1:])
        flat = np.concatenate(clean) if clean else np.zeros(0, dtype=np.int64)
        total = np.zeros(len(clean), dtype=np.int64)
        direct = np.zeros(len(clean), dtype=np.int64)
        if len(flat):
            _site_gains(takers, held, ptr, flat, total, direct)
        return total, direct


@numba.njit(cache=True)
def _by_offer(arc_student: np.ndarray, arc_offer: np.ndarray, reached: np.ndarray,
              in_ptr: np.ndarray) -> np.ndarray:
    """The reached pupils of the arcs grouped by offer (a counting sort, keeping the arcs'
    order within an offer); `in_ptr` (offers + 1, zeros) is filled with the groups' starts."""
    for a in range(len(arc_student)):
        if reached[arc_student[a]]:
            in_ptr[arc_offer[a] + 1] += 1
    for o in range(len(in_ptr) - 1):
        in_ptr[o + 1] += in_ptr[o]
    fill = in_ptr[:-1].copy()
    out = np.empty(in_ptr[-1], dtype=np.int32)
    for a in range(len(arc_student)):
        p = arc_student[a]
        if reached[p]:
            o = arc_offer[a]
            out[fill[o]] = p
            fill[o] += 1
    return out


@numba.njit(cache=True)
def _residual_side(fwd_ptr: np.ndarray, fwd_offer: np.ndarray, held: np.ndarray,
                   movable: np.ndarray, free: np.ndarray, hold_ptr: np.ndarray,
                   holders: np.ndarray, reached: np.ndarray) -> bool:
    """Whether `held` (each pupil's offer, -1: none) is a maximum flow of the singles
    network, and the pupils its residual network reaches from the pupils left out
    (`reached`, written). False when a held offer is not among its pupil's arcs (not a flow)
    or when a free seat is reached (an augmenting path: not maximum)."""
    n = len(held)
    for p in range(n):
        o = held[p]
        if o >= 0:
            ok = False
            for a in range(fwd_ptr[p], fwd_ptr[p + 1]):
                if fwd_offer[a] == o:
                    ok = True
                    break
            if not ok:
                return False
    seen = np.zeros(len(free), dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    tail = 0
    for p in range(n):
        if movable[p] and held[p] < 0:
            reached[p] = True
            queue[tail] = p
            tail += 1
    head = 0
    while head < tail:
        p = queue[head]
        head += 1
        for a in range(fwd_ptr[p], fwd_ptr[p + 1]):
            o = fwd_offer[a]
            if seen[o] or o == held[p]:
                continue
            seen[o] = True
            if free[o] > 0:
                return False
            for h in range(hold_ptr[o], hold_ptr[o + 1]):
                q = holders[h]
                if not reached[q]:
                    reached[q] = True
                    queue[tail] = q
                    tail += 1
    return True


@numba.njit(cache=True)
def _set_bits(takers: np.ndarray, in_ptr: np.ndarray, in_bit: np.ndarray) -> None:
    """takers[o] = the bitset of the pupils who may take a seat at offer o."""
    for o in range(len(in_ptr) - 1):
        for a in range(in_ptr[o], in_ptr[o + 1]):
            b = in_bit[a]
            takers[o, b >> 6] |= np.uint64(1) << np.uint64(b & 63)


# Index of the lowest set bit of a 64-bit word (De Bruijn multiplication).
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_INDEX = np.array([
    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43,
    22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44,
    32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)


@numba.njit(cache=True, inline="always")
def _lowest_bit(word: np.uint64) -> int:
    low = word & (~word + np.uint64(1))
    return int(_DEBRUIJN_INDEX[(low * _DEBRUIJN) >> np.uint64(58)])


@numba.njit(cache=True, parallel=True)
def _site_gains(takers: np.ndarray, held: np.ndarray, site_ptr: np.ndarray,
                site_pupil: np.ndarray, total: np.ndarray, direct: np.ndarray) -> None:
    """Every site's total and direct gain, one site per thread (compiled)."""
    for k in numba.prange(len(site_ptr) - 1):
        total[k], direct[k] = _site_gain(takers, held,
                                         site_pupil[site_ptr[k]:site_ptr[k + 1]])


@numba.njit(cache=True)
def _site_gain(takers: np.ndarray, held0: np.ndarray, target: np.ndarray) -> tuple[int, int]:
    """The maximum number of pupil-disjoint augmenting paths from the flow's left-out
    pupils to a site with unbounded seats, open to the `target` pupils (Dinic's algorithm,
    searched from the site). Pupils are the bits of the reached pupils; `takers[o]` is the
    bitset of those who may take a seat at offer o, `held0[i]` the offer pupil i holds (-1:
    left out).

    A path, read from the site: a `target` pupil moves to the site, a pupil who may use its
    offer takes its seat, and so on, until a left-out pupil takes the last seat freed. Each
    phase labels pupils by their distance from the site, level by level (the pupils who may
    take the offers held at one level form the next, as bitsets), up to the first level
    holding a left-out pupil; then augments along a maximal set of disjoint shortest paths
    (depth-first, skipping dead ends; an offer leads on only from the holders at the level
    it was expanded from, and its current word is shared by them). Pupils at the site never
    move again (its seats are unbounded: leaving it frees nothing useful). Returns (total
    gain, direct gain: paths of a left-out pupil straight to the site).
    """
    n = len(held0)
    n_off, words = takers.shape
    held = held0.copy()
    alive = np.zeros(words, dtype=np.uint64)  # not at the site, not used or dead this phase
    free = np.zeros(words, dtype=np.uint64)  # left out (no seat), not at the site
    gone = np.zeros(words, dtype=np.uint64)
    for i in range(n):
        if held[i] < 0:
            free[i >> 6] |= np.uint64(1) << np.uint64(i & 63)
    labelled = np.zeros(words, dtype=np.uint64)
    levels = np.zeros((16, words), dtype=np.uint64)
    stamp = np.zeros(n_off, dtype=np.int32)
    olevel = np.zeros(n_off, dtype=np.int32)
    ptr = np.zeros(n_off, dtype=np.int64)
    frontier = np.empty(n_off, dtype=np.int64)
    stack = np.empty(n + 1, dtype=np.int64)
    starts = np.empty(len(target), dtype=np.int64)
    total = 0
    direct = 0
    phase = 0
    while True:
        phase += 1
        for w in range(words):
            alive[w] = ~gone[w]
            labelled[w] = 0
            levels[0, w] = 0
        n_starts = 0
        for p in target:
            w, b = p >> 6, np.uint64(1) << np.uint64(p & 63)
            if (gone[w] & b) == 0 and (levels[0, w] & b) == 0:
                levels[0, w] |= b
                starts[n_starts] = p
                n_starts += 1
        found = -1
        for w in range(words):
            labelled[w] = levels[0, w]
            if levels[0, w] & free[w]:
                found = 0
        # Breadth-first, level by level, up to the first level holding a left-out pupil.
        k = 0
        while found < 0:
            n_front = 0
            for w in range(words):
                word = levels[k, w]
                while word:
                    i = (w << 6) + _lowest_bit(word)
                    word &= word - np.uint64(1)
                    o = held[i]
                    if stamp[o] != phase:
                        stamp[o] = phase
                        olevel[o] = k
                        ptr[o] = 0
                        frontier[n_front] = o
                        n_front += 1
            if k + 1 >= levels.shape[0]:
                grown = np.zeros((2 * levels.shape[0], words), dtype=np.uint64)
                grown[:levels.shape[0]] = levels
                levels = grown
            nxt = levels[k + 1]
            for w in range(words):
                nxt[w] = 0
            for f in range(n_front):
                row = takers[frontier[f]]
                for w in range(words):
                    nxt[w] |= row[w]
            any_new = False
            for w in range(words):
                nxt[w] &= ~labelled[w] & ~gone[w]
                labelled[w] |= nxt[w]
                if nxt[w]:
                    any_new = True
                    if nxt[w] & free[w]:
                        found = k + 1
            if not any_new:
                break
            k += 1
        if found < 0:
            break
        # Depth-first: disjoint shortest paths from each labelled target pupil.
        for s in range(n_starts):
            p0 = starts[s]
            if (alive[p0 >> 6] & (np.uint64(1) << np.uint64(p0 & 63))) == 0:
                continue
            top = 0
            stack[0] = p0
            while top >= 0:
                p = stack[top]
                if held[p] < 0:
                    # p takes the seat of the pupil before it, ... the first goes to the site.
                    for j in range(top, 0, -1):
                        held[stack[j]] = held[stack[j - 1]]
                    held[p0] = -1
                    gone[p0 >> 6] |= np.uint64(1) << np.uint64(p0 & 63)
                    free[p >> 6] &= ~(np.uint64(1) << np.uint64(p & 63))
                    for j in range(top + 1):
                        q = stack[j]
                        alive[q >> 6] &= ~(np.uint64(1) << np.uint64(q & 63))
                    total += 1
                    if top == 0:
                        direct += 1
                    break
                o = held[p]
                q = -1
                if top < found and olevel[o] == top and stamp[o] == phase:
                    row, lv = takers[o], levels[top + 1]
                    while ptr[o] < words:
                        w = ptr[o]
                        word = row[w] & lv[w] & alive[w]
                        while word:
                            c = (w << 6) + _lowest_bit(word)
                            word &= word - np.uint64(1)
                            if held[c] != o:
                                q = c
                                break
                        if q >= 0:
                            break
                        ptr[o] += 1
                if q >= 0:
                    top += 1
                    stack[top] = q
                else:
                    alive[p >> 6] &= ~(np.uint64(1) << np.uint64(p & 63))
                    top -= 1
    return total, direct


def reach_of_sites(instance: Instance, where: list[Site]) -> tuple[list[Site], list[np.ndarray]]:
    """The sites where they stand under the scenario's travel model (moved to a station of
    their commune under timetables when none is within walking distance), and the pupils to
    place who may use each (within their limit, not needing an accessible offer)."""
    st = instance.students
    pupils = np.flatnonzero(st.to_place & ~st.needs_accessible)
    reach = places_reach(instance, np.array([s.lat for s in where]),
                         np.array([s.lon for s in where]), np.array([s.insee for s in where]),
                         load_communes(), pupils)
    moved = [dataclasses.replace(s, lat=float(reach.lat[k]), lon=float(reach.lon[k]))
             for k, s in enumerate(where)]
    return moved, [reach.of(k) for k in range(len(where))]


def mobilisation_table(instance: Instance, allocation: np.ndarray, reach: Reach,
                       confirm: Callable[[Site], int] | None = None, top: int = 0,
                       on_site: Callable[[], None] | None = None) -> pd.DataFrame:
    """The rows of `mobilisation.csv`, ranked (see the module docstring).

    `confirm(site)` returns the gain of 10 seats at `site` by full re-solves
    (`confirm_by_resolve`); it is called for the `top` best sites. `on_site` is called after
    each site's gain.
    """
    st = instance.students
    network = SinglesNetwork(instance, allocation, reach)
    waiting = st.to_place & ((allocation < 0).any(axis=1))
    placed, near = reach_of_sites(instance, sites())
    total = np.zeros(len(placed), dtype=np.int64)
    direct = np.zeros(len(placed), dtype=np.int64)
    for lo in range(0, len(placed), SITE_BATCH):
        hi = min(lo + SITE_BATCH, len(placed))
        total[lo:hi], direct[lo:hi] = network.gains(near[lo:hi])
        for _ in range(hi - lo):
            if on_site is not None:
                on_site()
    rows: list[dict[str, Any]] = []
    for k, site in enumerate(placed):
        gain = int(total[k])
        rows.append({
            "epci": site.epci, "label": site.label, "department": site.department,
            "commune_insee": site.insee, "commune": site.commune,
            "lat": round(site.lat, 5), "lon": round(site.lon, 5),
            "pupils_within_reach": len(near[k]),
            "waiting_within_reach": int(waiting[near[k]].sum()),
            **{f"gain_{s}": min(s, gain) for s in SEATS}, "confirmed_gain_10": None,
            "gain_total": gain, "saturation_seats": gain, "direct_gain": int(direct[k]),
        })
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    frame = frame.sort_values(["gain_total", "direct_gain", "waiting_within_reach", "epci"],
                              ascending=[False, False, False, True], kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame = frame.reset_index(drop=True)
    frame["confirmed_gain_10"] = frame["confirmed_gain_10"].astype("Int64")
    if confirm is not None:
        by_epci = {s.epci: s for s in placed}
        for k in range(min(top, len(frame))):
            frame.at[k, "confirmed_gain_10"] = confirm(by_epci[frame.at[k, "epci"]])
    return frame[list(COLUMNS)]


def with_site(instance: Instance, site: Site, seats: int = max(SEATS)) -> Instance:
    """`instance` with one more offer at `site` (last index): `seats` seats both weeks, not
    reserved, not accessible, no sector, no pair."""
    of = instance.offers
    new = {"ids": f"{SITE_PREFIX}{site.epci}", "employer_id": "", "employer_name": "",
           "lat": site.lat, "lon": site.lon, "capacity": seats, "period": 0, "sector": "",
           "reserved": False, "pair": -1, "accessible": False, "lines": 0}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(of):
        column = getattr(of, f.name)
        if column is None:  # an optional column absent from offers.csv
            values[f.name] = None
            continue
        value = new.get(f.name, "" if column.dtype.kind in "OUS" else None)
        if value is None:
            raise ValueError(f"no value for the new offer's {f.name}")
        values[f.name] = np.append(column, np.array([value], dtype=column.dtype))
    changes: dict[str, Any] = {"offers": type(of)(**values)}
    exclusions = getattr(instance, "exclusions", None)
    if exclusions is not None and hasattr(exclusions, "n_offers"):
        # Exclusion keys are student * n_offers + offer: keep them unique with one more offer.
        changes["exclusions"] = dataclasses.replace(exclusions, n_offers=of.n + 1)
    return dataclasses.replace(instance, **changes)


def mobilisation_csv(table: pd.DataFrame) -> str:
    """`mobilisation.csv` text: UTF-8, `,`-separated, empty cells where there is no value."""
    text: str = table.to_csv(index=False, lineterminator="\n", na_rep="")
    return text
