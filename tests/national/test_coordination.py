"""Sharing the border seats: the quotas of an offer never exceed its capacity nor fall below
a block's signed seats there; a mutualised pair is held by one block."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affectation.national.coordination import _split


@settings(deadline=None, database=None, max_examples=200)
@given(data=st.data())
def test_split_sums_to_capacity_and_keeps_signed_seats(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 5))
    capacity = data.draw(st.integers(0, 12))
    signed = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    # Signed seats always fit the capacity (conventions are checked on reading).
    while signed.sum() > capacity:
        signed[int(np.argmax(signed))] -= 1
    desire = np.array(data.draw(st.lists(st.floats(0, 10), min_size=n, max_size=n)))
    unmet = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    reach = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    seats = _split(capacity, desire, signed, unmet, reach)
    assert seats.sum() == capacity
    assert (seats >= signed).all()
    assert (seats >= 0).all()
