"""An allocation is a (students, 2) array of offer indices per week (-1 for none); this module
derives the spec's kinds from it."""

from __future__ import annotations

import numpy as np

from affectation.inputs import Instance

KINDS = ("single", "split", "mutualised", "partial", "unplaced", "self_placed", "exempt")
FULL_KINDS = ("single", "split", "mutualised")


def classify(instance: Instance, week: np.ndarray) -> np.ndarray:
    """The spec's `kind` of each pupil (object array of strings)."""
    st, of = instance.students, instance.offers
    a, b = week[:, 0], week[:, 1]
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
