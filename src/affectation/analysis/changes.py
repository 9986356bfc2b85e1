"""What a repair changed: `changes.csv` (one row per pupil whose placement changed, with the
reason) and the `changes` counts of its summary."""

from __future__ import annotations

import csv
import io

import numpy as np

from affectation.domain.allocation import classify
from affectation.domain.instance import Instance
from affectation.engine.repair import TEXT, Repaired

CHANGES_COLUMNS = ("student_id", "before_week1", "before_week2", "after_week1", "after_week2",
                   "reason")


def changes_csv(instance: Instance, repaired: Repaired) -> str:
    """changes.csv: one row per pupil whose placement changed, removed pupils last."""
    st, of = instance.students, instance.offers
    text = TEXT[instance.scenario.output.language]
    allocation = repaired.solution.allocation
    before = repaired.previous.offer_text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CHANGES_COLUMNS)
    for i in range(st.n):
        after = tuple(str(of.ids[o]) if o >= 0 else "" for o in allocation[i])
        if (before[i, 0], before[i, 1]) == after:
            continue
        reason = repaired.note[i]
        if not reason:
            reason = text["freed"] if (allocation[i] >= 0).sum() > (before[i] != "").sum() else ""
        if repaired.displaced[i] and not (allocation[i] >= 0).any() and st.to_place[i]:
            reason += " ; " + text["lost"]
        writer.writerow((st.ids[i], before[i, 0], before[i, 1], *after, reason))
    for sid, w1, w2 in repaired.previous.removed:
        writer.writerow((sid, w1, w2, "", "", text["removed"]))
    return out.getvalue()


def change_counts(instance: Instance, repaired: Repaired) -> dict[str, int]:
    """summary.json `changes`: moved, newly placed, newly unplaced, and more detail."""
    allocation = repaired.solution.allocation
    prev = repaired.previous
    before = prev.offer_text != ""
    after = allocation >= 0
    had = before.any(axis=1)
    has = after.any(axis=1)
    after_text = np.where(after, instance.offers.ids[np.maximum(allocation, 0)], "")
    changed = (after_text != prev.offer_text).any(axis=1)
    kind = classify(instance, allocation)
    full_after = np.isin(kind, ("single", "split", "mutualised"))
    return {
        "moved": int((had & has & changed).sum()),
        "newly_placed": int((~had & has).sum()),
        "newly_unplaced": int((had & ~has).sum()) + len(prev.removed),
        "displaced_by_changes": int(repaired.displaced.sum()),
        "moved_to_make_room": int(repaired.stats["moved_to_make_room"]),
        "displaced_by_priority": int(repaired.stats.get("displaced_by_priority", 0)),
        "removed_pupils": len(prev.removed),
        "new_pupils": int((~prev.listed).sum()),
        "placed_full": int(full_after.sum()),
        "rows": int(changed.sum()) + len(prev.removed),
    }
