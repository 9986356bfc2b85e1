"""The problem's data, checked once at the boundary and frozen: pupils, offers, pairs, signed
conventions, exclusions, and the instance that holds them with its scenario."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from affectation.domain.params import Scenario

SECTOR = re.compile(r"^s([1-9]|[1-4]\d|5[01])$")
STATUSES = ("", "self_placed", "exempt")


@dataclass(frozen=True, eq=False)
class Students:
    """Pupils in input order. `mode` indexes `Scenario.travel.mode_names`."""

    ids: np.ndarray
    school: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mode: np.ndarray
    max_minutes: np.ndarray
    priority: np.ndarray
    sectors: tuple[tuple[str, ...], ...]
    status: np.ndarray
    needs_accessible: np.ndarray
    # Optional `zone` column (travel-time matrix zones, beyond the v1 spec); None when absent.
    zone: np.ndarray | None = None
    # The file line of each pupil (messages); None when not read from a file.
    lines: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def to_place(self) -> np.ndarray:
        """Pupils the engine allocates (no `self_placed` or `exempt` status)."""
        return self.status == ""

    def priority_first(self, mask: np.ndarray) -> np.ndarray:
        """The pupils of `mask` (indices), priority pupils first, each group in input order."""
        return np.r_[np.flatnonzero(mask & self.priority), np.flatnonzero(mask & ~self.priority)]


@dataclass(frozen=True, eq=False)
class Offers:
    """Offers in input order; `pair` is the index of the offer's mutualised pair or -1."""

    ids: np.ndarray
    employer_id: np.ndarray
    employer_name: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    capacity: np.ndarray
    period: np.ndarray
    sector: np.ndarray
    reserved: np.ndarray
    pair: np.ndarray
    accessible: np.ndarray
    # Optional `zone` column (travel-time matrix zones, beyond the v1 spec); None when absent.
    zone: np.ndarray | None = None
    # The file line of each offer (messages); None when not read from a file.
    lines: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def open_week(self) -> np.ndarray:
        """Boolean (n, 2): is the offer open in week 1, week 2 (and not withdrawn)."""
        running = self.capacity > 0
        return np.stack([running & (self.period != 2), running & (self.period != 1)], axis=1)

    @property
    def seats(self) -> np.ndarray:
        """(n, 2) seats per week: the capacity in the weeks the offer runs, else 0."""
        return self.capacity[:, None] * self.open_week


@dataclass(frozen=True, eq=False)
class Pairs:
    """Mutualised pairs: `offers[k] = (a, b)` offer indices; `min_group[k]` (0 = none)."""

    ids: np.ndarray
    offers: np.ndarray
    min_group: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class Conventions:
    """Signed agreements, one row per (student, week) they fix, implied pair weeks included.

    `line` is the conventions.csv line that fixes the week (0 for a pair's implied week);
    `source_line` is the line of the row it comes from, implied weeks included. `pending`
    (beyond the v1 spec) marks the rows read from `[inputs] pending` (agreements sent, not
    yet signed, kept like signed ones); None when there are none.
    """

    student: np.ndarray
    offer: np.ndarray
    week: np.ndarray
    line: np.ndarray
    source_line: np.ndarray | None = None
    pending: np.ndarray | None = None

    def from_pending(self, c: int) -> bool:
        return self.pending is not None and bool(self.pending[c])

    @property
    def n(self) -> int:
        return len(self.student)

    def fixed(self, n_students: int) -> np.ndarray:
        """(n_students, 2) offer index fixed per week, -1 where nothing is signed."""
        out = np.full((n_students, 2), -1, dtype=np.int64)
        out[self.student, self.week - 1] = self.offer
        return out


@dataclass(frozen=True, eq=False)
class Exclusions:
    """Declined pairings (exclusions.csv, beyond the v1 spec): pupil `student[i]` must never be
    proposed offer `offer[i]`. `key` is `student * n_offers + offer`, sorted and unique."""

    student: np.ndarray
    offer: np.ndarray
    line: np.ndarray
    n_offers: int

    @property
    def n(self) -> int:
        return len(self.student)

    @cached_property
    def key(self) -> np.ndarray:
        return np.sort(self.student.astype(np.int64) * self.n_offers + self.offer)

    def contains(self, students: np.ndarray | int, offers: np.ndarray | int) -> np.ndarray:
        """Element-wise (broadcast): is the pairing (students[i], offers[i]) excluded?"""
        shape = np.broadcast(np.asarray(students), np.asarray(offers)).shape
        if self.n == 0:
            return np.zeros(shape, dtype=bool)
        want = np.asarray(students, dtype=np.int64) * self.n_offers + np.asarray(offers)
        pos = np.minimum(np.searchsorted(self.key, want), self.n - 1)
        return np.broadcast_to(self.key[pos] == want, shape)


def no_exclusions(n_offers: int = 0) -> Exclusions:
    empty = np.zeros(0, dtype=np.int64)
    return Exclusions(empty, empty, empty, n_offers)


@dataclass(frozen=True, eq=False)
class Instance:
    """A scenario with its validated data."""

    scenario: Scenario
    students: Students
    offers: Offers
    pairs: Pairs
    conventions: Conventions
    exclusions: Exclusions = field(default_factory=no_exclusions)

    @cached_property
    def fixed(self) -> np.ndarray:
        return self.conventions.fixed(self.students.n)

    def seats_left_by_conventions(self) -> np.ndarray:
        """(offers, 2) seats per week once the signed conventions are seated (a new array)."""
        seats = self.offers.seats
        np.subtract.at(seats, (self.conventions.offer, self.conventions.week - 1), 1)
        return seats

    def signed_groups(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masked pupils split by signed weeks: (none signed, both signed, exactly one)."""
        signed = self.fixed >= 0
        return (mask & ~signed.any(axis=1), mask & signed.all(axis=1),
                mask & (signed[:, 0] ^ signed[:, 1]))

    def input_files(self) -> dict[str, Path]:
        files = {
            "scenario": self.scenario.path,
            "students": self.scenario.inputs.students,
            "offers": self.scenario.inputs.offers,
        }
        if self.scenario.inputs.conventions is not None:
            files["conventions"] = self.scenario.inputs.conventions
        if self.scenario.inputs.exclusions is not None:
            files["exclusions"] = self.scenario.inputs.exclusions
        if self.scenario.inputs.pending is not None:
            files["pending"] = self.scenario.inputs.pending
        return files
