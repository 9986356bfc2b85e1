"""The campaign as the web pages see it, cached in the server process.

Loaded once at start-up: the scenario's instance, the travel parameters and every pupil's
reachable offers (seconds at Normandy scale). Then a `Snapshot` per store revision
(`store.queries.revision`: the last event's id, which every change of an agreement moves,
whoever makes it): the live allocation the agreements say (proposed, sent or signed), the
weeks that are locked (sent or signed: they never move), and an instance whose conventions are
those locked weeks, so that `suggest`, `explain` and the checker treat them as signed.

A new revision costs a delta: only the pupils whose agreements changed since the cached
revision are read back. A new run (a `campaign load`, a repair started from the web) reloads
everything, the scenario's inputs too when their files changed. Each snapshot carries its own
cache of what is derived from it (reasons, indicators, suggestions...), so nothing stale is
ever shown for a newer revision.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from affectation.domain.agreement import LOCKED_STATES, SENT
from affectation.domain.allocation import classify
from affectation.domain.instance import Conventions, Instance
from affectation.engine.candidates import OfferRoles, offer_roles
from affectation.store import queries
from affectation.travel.loading import load_instance
from affectation.travel.reach import PupilTravel, Reach, exact_minutes, pupil_travel, reachable

T = TypeVar("T")
# Above this many changed pupils, a snapshot is rebuilt whole rather than patched.
DELTA_LIMIT = 2000
CACHE_ENTRIES = 256


@dataclass(frozen=True, eq=False)
class Base:
    """What depends only on the scenario's inputs: loaded at start-up and after a run whose
    inputs changed."""

    instance: Instance
    travel: PupilTravel
    reach: Reach
    roles: OfferRoles
    pupil_index: dict[str, int]
    offer_index: dict[str, int]
    offer_ids: np.ndarray  # str
    files: tuple[tuple[str, float, int], ...]  # input files' (path, mtime, size)


def _files(instance: Instance) -> tuple[tuple[str, float, int], ...]:
    out = []
    for path in instance.input_files().values():
        try:
            st = Path(path).stat()
            out.append((str(path), st.st_mtime, st.st_size))
        except OSError:
            out.append((str(path), 0.0, -1))
    return tuple(out)


def load_base(scenario: Path) -> Base:
    instance = load_instance(scenario)
    travel = pupil_travel(instance)
    reach = reachable(instance, travel)
    st, of = instance.students, instance.offers
    return Base(instance, travel, reach, offer_roles(instance),
                {str(s): i for i, s in enumerate(st.ids)},
                {str(o): i for i, o in enumerate(of.ids)}, of.ids.astype(str),
                _files(instance))


@dataclass(eq=False)
class Snapshot:
    """The live allocation at one store revision (immutable once built; `cache` aside)."""

    revision: int
    run_id: int | None
    base: Base
    instance: Instance  # conventions = the locked weeks of the store
    allocation: np.ndarray  # (n, 2) offer index, -1 none
    locked: np.ndarray  # (n, 2) bool: sent or signed agreement that week
    outside: np.ndarray  # (n, 2) bool: a live agreement at an offer the inputs do not have
    minutes: np.ndarray  # (n, 2) exact minutes, nan where none
    kind: np.ndarray
    cache: OrderedDict[Any, Any] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()` once per snapshot and key (a few hundred entries kept)."""
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]  # type: ignore[no-any-return]
        value = compute()
        with self.lock:
            self.cache[key] = value
            while len(self.cache) > CACHE_ENTRIES:
                self.cache.popitem(last=False)
        return value

    def index(self, student_id: str) -> int | None:
        return self.base.pupil_index.get(student_id)

    def offer_id(self, o: int) -> str:
        return str(self.base.offer_ids[o]) if o >= 0 else ""


def _rows_into(base: Base, rows: Iterable[queries.AgreementRow], allocation: np.ndarray,
               locked: np.ndarray, outside: np.ndarray, pending: np.ndarray) -> None:
    for ag in rows:
        s = base.pupil_index.get(ag.student_id)
        if s is None:
            continue  # a pupil no longer in the inputs
        o = base.offer_index.get(ag.offer_id, -1)
        for w in ag.weeks:
            if o < 0:
                outside[s, w - 1] = True
                continue
            allocation[s, w - 1] = o
            locked[s, w - 1] = ag.state in LOCKED_STATES
            pending[s, w - 1] = ag.state == SENT


def _instance(base: Base, allocation: np.ndarray, locked: np.ndarray,
              pending: np.ndarray) -> Instance:
    """The base instance with the store's locked weeks as its conventions (the caches that
    depend only on the inputs kept)."""
    s, w = np.nonzero(locked)
    conv = Conventions(student=s.astype(np.int64), offer=allocation[s, w].astype(np.int64),
                       week=(w + 1).astype(np.int64), line=np.zeros(len(s), dtype=np.int64),
                       source_line=None, pending=pending[s, w].copy())
    instance = dataclasses.replace(base.instance, conventions=conv)
    for key in ("_pupil_travel", "_model_minutes"):
        if key in base.instance.__dict__:
            instance.__dict__[key] = base.instance.__dict__[key]
    return instance


def _minutes(base: Base, instance: Instance, allocation: np.ndarray,
             pupils: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    n = allocation.shape[0]
    minutes = np.full((n, 2), np.nan) if out is None else out
    rows = np.arange(n) if pupils is None else pupils
    for w in (0, 1):
        if pupils is not None:
            minutes[rows, w] = np.nan
        s = rows[allocation[rows, w] >= 0]
        minutes[s, w] = exact_minutes(instance, s, allocation[s, w], base.travel)
    return minutes


class CampaignState:
    """The cached campaign of one server process (thread-safe)."""

    def __init__(self, engine: Engine, scenario: Path) -> None:
        self.engine = engine
        self.scenario = Path(scenario)
        self._lock = threading.RLock()
        self._base: Base | None = None
        self._snapshot: Snapshot | None = None

    @property
    def base(self) -> Base:
        with self._lock:
            if self._base is None:
                self._base = load_base(self.scenario)
            return self._base

    def current(self, conn: Connection) -> Snapshot:
        """The snapshot at the store's revision seen by `conn`'s transaction."""
        rev = queries.revision(conn)
        snap = self._snapshot
        if snap is not None and snap.revision == rev:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.revision == rev:
                return snap
            run_id = queries.get_campaign(conn).current_run_id
            if snap is None or run_id != snap.run_id:
                snap = self._full(conn, rev, run_id)
            else:
                snap = self._delta(conn, snap, rev)
            if self._snapshot is None or snap.revision >= self._snapshot.revision:
                self._snapshot = snap
            return snap

    def _full(self, conn: Connection, rev: int, run_id: int | None) -> Snapshot:
        base = self.base
        if self._snapshot is not None and run_id != self._snapshot.run_id \
                and _files(base.instance) != base.files:
            self._base = base = load_base(self.scenario)  # a repair after changed inputs
        n = base.instance.students.n
        allocation = np.full((n, 2), -1, dtype=np.int64)
        locked = np.zeros((n, 2), dtype=bool)
        outside = np.zeros((n, 2), dtype=bool)
        pending = np.zeros((n, 2), dtype=bool)
        _rows_into(base, queries.live_agreement_rows(conn), allocation, locked, outside,
                   pending)
        instance = _instance(base, allocation, locked, pending)
        minutes = _minutes(base, instance, allocation)
        return Snapshot(rev, run_id, base, instance, allocation, locked, outside, minutes,
                        classify(instance, allocation))

    def _delta(self, conn: Connection, snap: Snapshot, rev: int) -> Snapshot:
        pupils, _ = queries.changes_since(conn, snap.revision)
        if len(pupils) > DELTA_LIMIT:
            return self._full(conn, rev, snap.run_id)
        base = snap.base
        rows = np.array(sorted(i for p in pupils
                               if (i := base.pupil_index.get(p)) is not None), dtype=np.int64)
        allocation, locked = snap.allocation.copy(), snap.locked.copy()
        outside = snap.outside.copy()
        pending = np.zeros_like(locked)
        pending[snap.instance.conventions.student, snap.instance.conventions.week - 1] = (
            snap.instance.conventions.pending if snap.instance.conventions.pending is not None
            else False)
        allocation[rows], locked[rows], outside[rows], pending[rows] = -1, False, False, False
        _rows_into(base, queries.live_agreement_rows(conn, sorted(pupils)), allocation, locked,
                   outside, pending)
        instance = _instance(base, allocation, locked, pending)
        minutes = _minutes(base, instance, allocation, rows, snap.minutes.copy())
        return Snapshot(rev, snap.run_id, base, instance, allocation, locked, outside, minutes,
                        classify(instance, allocation))


def assignments_frame(snap: Snapshot, allocation: np.ndarray | None = None,
                      minutes: np.ndarray | None = None) -> pd.DataFrame:
    """The allocation as the rows of an `assignments.csv` (what the independent checker
    reads): ids, offers, exact minutes written to a tenth, kinds, and a reason for pupils not
    placed for both weeks (the checker only asks that there is one)."""
    instance = snap.instance
    st = instance.students
    allocation = snap.allocation if allocation is None else allocation
    minutes = snap.minutes if minutes is None else minutes
    kind = classify(instance, allocation)
    cols: dict[str, Any] = {"student_id": st.ids.astype(str), "school_id": st.school.astype(str)}
    for w in (0, 1):
        has = allocation[:, w] >= 0
        cols[f"week{w + 1}_offer_id"] = np.where(
            has, snap.base.offer_ids[np.maximum(allocation[:, w], 0)], "")
        cols[f"week{w + 1}_minutes"] = np.where(
            has, np.char.mod("%.1f", np.nan_to_num(minutes[:, w])), "")
    cols["kind"] = kind
    cols["reason"] = np.where(np.isin(kind, ["partial", "unplaced"]), "à placer", "")
    return pd.DataFrame(cols)
