"""An allocation is a (students, 2) array of offer indices per week (-1 for none); this module
derives the spec's kinds from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from affectation.domain.instance import Instance

KINDS = ("single", "split", "mutualised", "partial", "unplaced", "self_placed", "exempt")
FULL_KINDS = ("single", "split", "mutualised")
GONE = -2  # an offer id of a previous result that the current offers file no longer has


@dataclass(frozen=True, eq=False)
class PreviousResult:
    """A result's `assignments.csv` mapped onto the current instance (read by `io.results`).

    `allocation`: offer index per pupil and week (-1 none, `GONE` for an offer id the offers file no
    longer has); `offer_text`: the offer ids as written; `kind`, `reason`: as written (''
    for pupils without a row); `listed`: the pupil has a row; `removed`: (student_id,
    week-1 id, week-2 id) of the rows whose pupil the pupils file no longer has.
    """

    allocation: np.ndarray
    offer_text: np.ndarray
    kind: np.ndarray
    reason: np.ndarray
    listed: np.ndarray
    removed: tuple[tuple[str, str, str], ...] = ()


def classify(instance: Instance, allocation: np.ndarray) -> np.ndarray:
    """The spec's `kind` of each pupil (object array of strings)."""
    st, of = instance.students, instance.offers
    a, b = allocation[:, 0], allocation[:, 1]
    has_a, has_b = a >= 0, b >= 0
    pair_a = np.where(has_a, of.pair[np.maximum(a, 0)], -1)
    pair_b = np.where(has_b, of.pair[np.maximum(b, 0)], -1)
    kind = np.full(st.n, "unplaced", dtype=object)
    kind[has_a ^ has_b] = "partial"
    both = has_a & has_b
    kind[both & (a == b)] = "single"
    kind[both & (a != b)] = "split"
    kind[both & (a != b) & (pair_a >= 0) & (pair_a == pair_b)] = "mutualised"
    kind[st.status == "self_placed"] = "self_placed"
    kind[st.status == "exempt"] = "exempt"
    return kind


def seats_used(instance: Instance, allocation: np.ndarray,
               mask: np.ndarray | None = None) -> np.ndarray:
    """(offers, 2) seats taken in each week by the pupils of `mask` (all pupils when None)."""
    used = np.zeros((instance.offers.n, 2), dtype=np.int64)
    for w in (0, 1):
        o = allocation[:, w]
        taken = o >= 0 if mask is None else (o >= 0) & mask
        np.add.at(used[:, w], o[taken], 1)
    return used


def seats_left(instance: Instance, allocation: np.ndarray) -> np.ndarray:
    """(offers, 2) seats still free in each week under allocation `allocation`."""
    return instance.offers.seats - seats_used(instance, allocation)


def pair_of_pupil(instance: Instance, allocation: np.ndarray) -> np.ndarray:
    """The mutualised pair each pupil is in (-1 when none)."""
    w1 = allocation[:, 0]
    return np.where(w1 >= 0, instance.offers.pair[np.maximum(w1, 0)], -1)


def pair_counts(instance: Instance, allocation: np.ndarray) -> np.ndarray:
    """Pupils placed in each mutualised pair (both directions together)."""
    in_pair = pair_of_pupil(instance, allocation)
    return np.bincount(in_pair[in_pair >= 0], minlength=instance.pairs.n)


def lexicographic_score(instance: Instance, allocation: np.ndarray) -> tuple[int, int, int, int]:
    """Levels 1-4 of the objective: (priority full, full, partial, -splits)."""
    st, of = instance.students, instance.offers
    a, b = allocation[:, 0], allocation[:, 1]
    full = (a >= 0) & (b >= 0)
    partial = (a >= 0) ^ (b >= 0)
    split = full & (a != b) & (of.pair[np.maximum(a, 0)] < 0)
    return (int((full & st.priority).sum()), int(full.sum()), int(partial.sum()),
            -int(split.sum()))
