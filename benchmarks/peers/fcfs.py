"""First come, first served: the status quo the engine replaces.

Pupils arrive in a random order (seeded) and each takes the nearest place still free that the
hard rules let them take (travel limit, reserved offers, accessibility, open weeks):

1. the nearest two-week offer with a seat in both weeks;
2. else the nearest mutualised pair with a seat in each week, if joining keeps it valid: the
   pair already holds pupils, or its `min_group` is 1 (a lone pupil cannot open a pair of two);
3. else the nearest week-1 and the nearest week-2 one-week offers (a split; a partial
   placement when only one week has a free seat).

A pupil with one signed week takes the other week at the same offer when it has a seat, else
the nearest one-week offer. Signed conventions come first, with the pairs they open filled to
their minimum group (`base.signed_start`). This is the engine's own greedy pass
(`seats.fill_free_seats`) in a random order instead of priority pupils first.
"""

from __future__ import annotations

import numpy as np

from affectation.engine.start import greedy_allocation

from .base import Setting


def first_come_first_served(setting: Setting, seed: int) -> np.ndarray:
    """The FCFS allocation for one random arrival order."""
    st = setting.instance.students
    order = np.random.default_rng(seed).permutation(np.flatnonzero(st.to_place))
    return greedy_allocation(setting.problem, order=order.astype(np.int64))
