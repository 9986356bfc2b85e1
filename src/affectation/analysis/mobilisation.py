"""Where to recruit firms (`mobilisation.csv`): what extra two-week seats would place, by EPCI.

For each EPCI of the bundled geography, a new offer is imagined at the centroid of its most
populous commune (ties: the lowest INSEE code): open both weeks, not reserved, not accessible
(the format's default), no sector, with 1, 5 or 10 seats. `gain_K` is how many more pupils
would be placed for both weeks with K such seats, computed exactly on the *singles network*
below, from the current allocation.

The singles network (a bipartite flow): the *movable* pupils are the pupils to place with no
signed week who are either `single` at a two-week offer or not placed for both weeks
(`partial`, `unplaced`); each may take one seat (both weeks) at any two-week offer it may use
within its travel limit. An offer's seats for movable pupils are its seats left, in the fuller
week, by everyone else (splits, pairs, conventions, one-week stays of partial pupils). The
current singles are one flow of this network; its maximum flow, `base`, is solved once
(OR-Tools max flow; it may place more pupils than the current singles, since it ignores
priorities). `gain_K` = (maximum flow with the new offer of K seats) - base, found by
augmenting paths ending at the new offer: a chain of moves where a pupil not placed takes a
single's seat, that single moves to another two-week offer, ... and the last one, who may use
the new offer, moves there. Paths are searched backwards from the pupils within reach of the
site, level by level (vectorised), among the pupils the residual network reaches from a pupil
not placed (the min cut's source side: every augmenting path lies there), and stop at the
first level holding a pupil not placed: a few milliseconds to tens of milliseconds a site at
scale 1. Since the new offer is the only one with room, the maximum flow with K seats is
min(K, the flow with 10 seats): one search of at most ten paths gives the three gains.

What `gain_K` covers exactly: every re-assignment of movable pupils among two-week offers
(chains of any length). What it does not: moving pupils in splits or pairs, releasing the
one-week seat of a partial pupil who becomes a single (another pupil could use it), one-week
stays at the new offer (with `split_two_week_offers = true`), priorities (a gain counts
pupils, priority or not), and sectors or travel preferences. It equals the gain of the whole
model when every placement for both weeks is a single (tested against brute force); with
splits and pairs it counts the singles' re-assignments only, and is then neither a bound nor
the exact gain of the whole model. With
`--confirm N` the N best sites are checked by full re-solves (`confirmed_gain_10` = placed
for both weeks by a re-solve with 10 seats at the site - placed by the same re-solve without
it, run once: N + 1 solves). A re-solve is exact on small instances but heuristic and
time-limited at scale: there both solves carry the search's own variation (hundreds of
pupils on a loaded machine), which can exceed the gain of ten seats; read it as a sanity
check of the sign and order of magnitude, not as a sharper figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow

from affectation.domain.allocation import seats_used
from affectation.domain.instance import Instance
from affectation.engine.candidates import OfferRoles, allowed_pairs, offer_roles
from affectation.geo import geodesic_km
from affectation.geodata import load_communes
from affectation.travel.reach import Reach, pupil_travel

SEATS = (1, 5, 10)
COLUMNS = ("rank", "epci", "label", "department", "commune_insee", "commune", "lat", "lon",
           "pupils_within_reach", "waiting_within_reach", "gain_1", "gain_5", "gain_10",
           "confirmed_gain_10")
SITE_PREFIX = "MOBILISATION-"


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


def _gather(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions of the CSR rows `nodes`, concatenated."""
    starts = indptr[nodes]
    lengths = indptr[nodes + 1] - starts
    total = int(lengths.sum())
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    return np.repeat(starts - offsets, lengths) + np.arange(total)


class SinglesNetwork:
    """The singles network at an allocation (see the module docstring), at its maximum flow.

    The maximum flow (`base`) is solved once with OR-Tools; its residual network's source
    side (`reached`) holds every pupil an augmenting path can pass through. `gain` then
    searches augmenting paths to a new site backwards, from the pupils who may use the site:
    a pupil not placed is a path's start; a placed pupil leaves its seat to a pupil who may
    take it, and so on. The search stays local (a pupil waiting for a seat is usually a few
    moves away) and ends at the first level holding a pupil not placed.
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
        others = seats_used(instance, allocation, ~single)
        cap = np.where(roles.single, (of.seats - others).min(axis=1), 0)
        self.cap = np.maximum(cap, 0)
        student = reach.student_of_pair()
        keep = allowed_pairs(instance, reach) & roles.single[reach.offer] & self.movable[student]
        self.arc_student = student[keep].astype(np.int64)
        self.arc_offer = reach.offer[keep].astype(np.int64)
        self.offer_order = np.argsort(self.arc_offer, kind="stable")
        self.by_offer = np.zeros(of.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.arc_offer, minlength=of.n), out=self.by_offer[1:])
        self._max_flow()

    def _max_flow(self) -> None:
        """The maximum flow: `matched` arcs, each pupil's `held` arc, `reached` pupils."""
        n_s, n_o = self.n_students, self.n_offers
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
        self.matched = np.asarray(flow.flows(arcs)) > 0 if len(arcs) else np.zeros(0, bool)
        self.held = np.full(n_s, -1, dtype=np.int64)
        self.held[self.arc_student[self.matched]] = np.flatnonzero(self.matched)
        self.placed = self.held >= 0
        side = np.zeros(2 + n_s + n_o, dtype=bool)
        side[np.asarray(flow.get_source_side_min_cut(), dtype=np.int64)] = True
        self.reached = side[2:2 + n_s] & self.movable

    def gain(self, target: np.ndarray, limit: int) -> int:
        """How many more pupils the flow places with `limit` seats open to the `target` pupils
        (a mask): augmenting paths ending there, found backwards, at most `limit`."""
        matched, held, placed = self.matched.copy(), self.held.copy(), self.placed.copy()
        at_site = np.zeros(self.n_students, dtype=bool)
        done = 0
        while done < limit:
            # next_arc[p]: the arc p takes (-1: the site; -2: not seen); leaver[o]: the pupil
            # who leaves offer o for the next step.
            next_arc = np.full(self.n_students, -2, dtype=np.int64)
            leaver = np.full(self.n_offers, -1, dtype=np.int64)
            frontier = np.flatnonzero(target & self.reached & ~at_site)
            next_arc[frontier] = -1
            roots = frontier[~placed[frontier]]
            while len(frontier) and not len(roots):
                offers = self.arc_offer[held[frontier]]
                fresh = leaver[offers] < 0
                leaver[offers[fresh]] = frontier[fresh]
                seen = np.zeros(self.n_offers, dtype=bool)
                seen[offers[fresh]] = True
                arcs = self.offer_order[_gather(self.by_offer, np.flatnonzero(seen))]
                arcs = arcs[~matched[arcs]]
                pupils = self.arc_student[arcs]
                fresh = (next_arc[pupils] == -2) & self.reached[pupils] & ~at_site[pupils]
                next_arc[pupils[fresh]] = arcs[fresh]
                seen = np.zeros(self.n_students, dtype=bool)
                seen[pupils[fresh]] = True
                frontier = np.flatnonzero(seen)
                roots = frontier[~placed[frontier]]
            if not len(roots):
                break
            used = np.zeros(self.n_students, dtype=bool)
            for root in roots.tolist():
                chain = [root]
                while next_arc[chain[-1]] >= 0:
                    chain.append(int(leaver[self.arc_offer[next_arc[chain[-1]]]]))
                if used[chain].any():
                    continue
                used[chain] = True
                for p in chain:
                    if held[p] >= 0:
                        matched[held[p]] = False
                    held[p] = next_arc[p]
                    if held[p] >= 0:
                        matched[held[p]] = True
                at_site[chain[-1]] = True
                placed[root] = True
                done += 1
                if done >= limit:
                    break
        return done


def site_pupils(instance: Instance, site: Site, pupils: np.ndarray) -> np.ndarray:
    """Which of `pupils` may use a new offer at `site` (exact minutes within their limit)."""
    travel = pupil_travel(instance)
    st = instance.students
    n = len(pupils)
    km = geodesic_km(st.lat[pupils], st.lon[pupils], np.full(n, site.lat), np.full(n, site.lon))
    within = travel.minutes(pupils, km) <= travel.limit_minutes[pupils]
    ok: np.ndarray = within & ~st.needs_accessible[pupils]
    return ok


def mobilisation_table(instance: Instance, allocation: np.ndarray, reach: Reach,
                       confirm: Callable[[Site], int] | None = None, top: int = 0,
                       on_site: Callable[[], None] | None = None) -> pd.DataFrame:
    """The rows of `mobilisation.csv`, ranked (see the module docstring).

    `confirm(site)` returns the gain of 10 seats at `site` by full re-solves
    (`confirm_by_resolve`); it is called for the `top` best sites. `on_site` is called after
    each site.
    """
    st = instance.students
    network = SinglesNetwork(instance, allocation, reach)
    to_place = np.flatnonzero(st.to_place)
    waiting = st.to_place & ((allocation < 0).any(axis=1))
    rows: list[dict[str, Any]] = []
    for site in sites():
        near = to_place[site_pupils(instance, site, to_place)]
        target = np.zeros(st.n, dtype=bool)
        target[near[network.reached[near]]] = True
        gain = network.gain(target, max(SEATS)) if target.any() else 0
        rows.append({
            "epci": site.epci, "label": site.label, "department": site.department,
            "commune_insee": site.insee, "commune": site.commune,
            "lat": round(site.lat, 5), "lon": round(site.lon, 5),
            "pupils_within_reach": len(near), "waiting_within_reach": int(waiting[near].sum()),
            **{f"gain_{k}": min(k, gain) for k in SEATS}, "confirmed_gain_10": None,
        })
        if on_site is not None:
            on_site()
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(["gain_10", "gain_5", "gain_1", "waiting_within_reach", "epci"],
                              ascending=[False, False, False, False, True], kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame = frame.reset_index(drop=True)
    frame["confirmed_gain_10"] = frame["confirmed_gain_10"].astype("Int64")
    if confirm is not None:
        by_epci = {s.epci: s for s in sites()}
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
