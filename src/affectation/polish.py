"""Levels 5-6 of the objective (sector preference, then travel) without touching levels 1-4.

Placeholder until the class-by-class min-cost reassignment lands: returns the allocation as is.
"""

from __future__ import annotations

import numpy as np

from affectation.candidates import Candidates, OfferRoles
from affectation.inputs import Instance


def polish(instance: Instance, roles: OfferRoles, cands: Candidates, week: np.ndarray) -> np.ndarray:
    return week
