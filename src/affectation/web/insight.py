"""What the pages show that is derived from a snapshot: reasons, a pupil's story, the
indicators, the headline figures, the map, where to recruit. Each is computed once per
snapshot (`Snapshot.cached`), from the same analysis modules as the command line
(`analysis.reasons`, `analysis.explain`, `analysis.indicators`, `analysis.mobilisation`).

Where to recruit takes seconds at Normandy scale (a maximum flow and every site's gain
curve): it runs in a background thread and the page polls; the last ranking stays shown,
with the revision and time it was computed at, until a newer one is ready.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from affectation.analysis.explain import explain_student
from affectation.analysis.indicators import indicators_table
from affectation.analysis.mobilisation import mobilisation_table
from affectation.analysis.reasons import explain as explain_reasons
from affectation.domain.allocation import PreviousResult
from affectation.domain.territory import pupil_groups
from affectation.io.output import counts
from affectation.web.state import Snapshot

KIND_LABELS = {"single": "placé(e) deux semaines", "split": "placé(e) deux semaines (deux offres)",
               "mutualised": "placé(e) deux semaines (offre mutualisée)",
               "partial": "placé(e) une semaine", "unplaced": "sans stage",
               "self_placed": "stage trouvé seul(e)", "exempt": "dispensé(e)"}
FOREIGN = "un élève d'un autre lycée"


def reasons_of(snap: Snapshot, pupils: np.ndarray) -> dict[int, str]:
    """Why each of `pupils` not placed for both weeks is not (the reasons of
    `assignments.csv`, on the live allocation)."""
    key = ("reasons", tuple(int(p) for p in pupils))

    def compute() -> dict[int, str]:
        kind = np.full(snap.instance.students.n, "single", dtype=object)
        todo = pupils[np.isin(snap.kind[pupils], ["partial", "unplaced"])]
        if not len(todo):
            return {}
        kind[todo] = snap.kind[todo]
        base = snap.base
        text = explain_reasons(snap.instance, base.reach, base.travel, base.roles,
                               snap.allocation, kind, "fr")
        return {int(p): str(text[p]) for p in todo}

    return snap.cached(key, compute)


def story(snap: Snapshot, s: int, own_school: str | None) -> list[str]:
    """The pupil's story (`explain`) as lines; with `own_school`, other schools' pupils are
    shown as "un élève d'un autre lycée" (a school sees only its own pupils)."""
    def compute() -> list[str]:
        st = snap.instance.students
        reason = np.full(st.n, "", dtype=object)
        reason[s] = reasons_of(snap, np.array([s])).get(s, "")
        result = PreviousResult(
            allocation=snap.allocation,
            offer_text=np.stack([np.where(snap.allocation[:, w] >= 0,
                                          snap.base.offer_ids[np.maximum(snap.allocation[:, w],
                                                                         0)], "")
                                 for w in (0, 1)], axis=1).astype(object),
            kind=snap.kind, reason=reason, listed=np.ones(st.n, dtype=bool))
        return explain_student(snap.instance, result, s, "fr").rstrip("\n").split("\n")

    lines = snap.cached(("story", s), compute)
    if own_school is None:
        return lines
    return [mask_foreign(snap, line, own_school) for line in lines]


_TOKEN = re.compile(r"([^\s,;:()]+)( \((?:prioritaire|convention signée|cet élève)"
                    r"(?:, (?:prioritaire|convention signée|cet élève))*\))?")


def mask_foreign(snap: Snapshot, line: str, own_school: str) -> str:
    """`line` with every pupil id of another school (and its marks) replaced."""
    st = snap.instance.students
    index = snap.base.pupil_index

    def swap(m: re.Match[str]) -> str:
        p = index.get(m.group(1))
        if p is None or str(st.school[p]) == own_school:
            return m.group(0)
        return FOREIGN

    return _TOKEN.sub(swap, line)


def groups(snap: Snapshot) -> dict[str, np.ndarray]:
    base = snap.base
    cached = base.__dict__.get("_groups")
    if cached is None:
        cached = pupil_groups(base.instance)
        base.__dict__["_groups"] = cached
    return cached  # type: ignore[no-any-return]


def indicators(snap: Snapshot) -> pd.DataFrame:
    """`indicators.csv`'s rows for the live allocation."""
    return snap.cached("indicators", lambda: indicators_table(
        snap.instance, snap.allocation, snap.kind, snap.minutes, snap.base.reach,
        groups(snap)))


def summary(snap: Snapshot, bound: int | None) -> dict[str, Any]:
    """The headline counts of the live allocation (`summary.json`'s), with the proven bound
    of the current run when known."""
    out = counts(snap.instance, snap.kind)
    out["upper_bound_full"] = bound if bound is not None else "–"
    return out


@dataclass
class Ranking:
    """A mobilisation ranking computed at `revision`."""

    revision: int
    at: datetime
    seconds: float
    frame: pd.DataFrame


class Recruiting:
    """Where to recruit, computed in a background thread (one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latest: Ranking | None = None
        self.running_for: int | None = None
        self.error: str | None = None

    def request(self, snap: Snapshot) -> None:
        """Start computing for `snap` unless it is done or running."""
        with self._lock:
            if self.running_for is not None:
                return
            if self.latest is not None and self.latest.revision == snap.revision:
                return
            self.running_for = snap.revision
        threading.Thread(target=self._run, args=(snap,), daemon=True,
                         name="affectation-mobilisation").start()

    def _run(self, snap: Snapshot) -> None:
        started = time.perf_counter()
        try:
            frame = mobilisation_table(snap.instance, snap.allocation, snap.base.reach)
            ranking = Ranking(snap.revision, datetime.now().replace(microsecond=0),
                              time.perf_counter() - started, frame)
            with self._lock:
                self.latest, self.error = ranking, None
        except Exception as exc:  # noqa: BLE001 - shown on the page, the server goes on
            with self._lock:
                self.error = f"{exc.__class__.__name__} : {exc}"
        finally:
            with self._lock:
                self.running_for = None
