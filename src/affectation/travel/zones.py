"""Zone-to-zone minutes of a table travel model (`gtfs`, `matrix`), and the packed keys of the
pairs it makes reachable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECI = 10.0  # reachable minutes are kept in tenths of a minute (uint16)


@dataclass(frozen=True, eq=False)
class ZoneMinutes:
    """Minutes of a table model (`gtfs`, `matrix`) from origin zones to destination zones.

    `origin_of_student` is each pupil's zone (-1: a pupil this model does not cover, whose
    minutes are crowfly); `dest_of_offer` each offer's zone (-1: none). `key` holds the pairs
    `origin * n_dest + dest` that have minutes, sorted; any other pair is unreachable.
    """

    origin_of_student: np.ndarray
    dest_of_offer: np.ndarray
    n_dest: int
    key: np.ndarray
    minutes: np.ndarray

    def lookup(self, students: np.ndarray, offers: np.ndarray) -> np.ndarray:
        """Minutes of each (student, offer) pair of covered pupils (inf = unreachable)."""
        dest = self.dest_of_offer[offers]
        want = self.origin_of_student[students] * self.n_dest + dest
        out = np.full(len(want), np.inf)
        if len(self.key) and len(want):
            pos = np.minimum(np.searchsorted(self.key, want), len(self.key) - 1)
            hit = (self.key[pos] == want) & (dest >= 0)
            out[hit] = self.minutes[pos[hit]]
        return out

    def pair_keys(self, students: np.ndarray, limit: np.ndarray, offer_mask: np.ndarray
                  ) -> np.ndarray:
        """Packed reachable-pair keys (as `reachable`) of covered `students` within `limit`."""
        # Offer-level rows (origin, offer, minutes) sorted by origin: each destination row
        # is spread over the masked offers of that destination.
        offers = np.flatnonzero(offer_mask & (self.dest_of_offer >= 0))
        dest = self.dest_of_offer[offers]
        d_order = np.argsort(dest, kind="stable")
        offers, dest = offers[d_order], dest[d_order]
        origin, row_dest = np.divmod(self.key, self.n_dest)
        first = np.searchsorted(dest, row_dest, side="left")
        count = np.searchsorted(dest, row_dest, side="right") - first
        idx = _ranges(first, count)
        row_origin = np.repeat(origin, count)
        row_offer = offers[idx]
        row_minutes = np.repeat(self.minutes, count)
        n_origin = int(max(self.origin_of_student.max(initial=-1), origin.max(initial=-1))) + 1
        ptr = np.searchsorted(row_origin, np.arange(n_origin + 1))
        out: list[np.ndarray] = []
        for lo in range(0, len(students), 4096):
            pupils = students[lo:lo + 4096]
            z = self.origin_of_student[pupils]
            n = ptr[z + 1] - ptr[z]
            rows = _ranges(ptr[z], n)
            who = np.repeat(pupils, n)
            keep = row_minutes[rows] <= limit[who]
            rows, who = rows[keep], who[keep]
            deci = np.minimum(np.floor(row_minutes[rows] * DECI), 0xFFFF).astype(np.int64)
            out.append((who.astype(np.int64) << 40) | (deci << 24)
                       | row_offer[rows].astype(np.int64))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges start[i] .. start[i] + count[i] - 1."""
    total = int(count.sum())
    return np.repeat(start - np.r_[0, np.cumsum(count)[:-1]], count) + np.arange(total)
