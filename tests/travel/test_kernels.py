"""The compiled row check of the cut checks beyond capped rows, against plain Python sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affectation.travel.kernels import outside_rows

rows_and_pairs = st.integers(1, 6).flatmap(lambda n_pupils: st.tuples(
    st.just(n_pupils),
    st.lists(st.lists(st.integers(0, 9), unique=True, max_size=6),
             min_size=n_pupils, max_size=n_pupils),
    st.lists(st.tuples(st.integers(0, n_pupils - 1), st.integers(0, 999),
                       st.integers(0, 9)), max_size=40)))


@settings(max_examples=80, deadline=None)
@given(rows_and_pairs)
def test_outside_rows_is_set_membership(case: tuple[int, list[list[int]],
                                                    list[tuple[int, int, int]]]) -> None:
    n_pupils, rows, pairs = case
    indptr = np.r_[0, np.cumsum([len(r) for r in rows])].astype(np.int64)
    row_offer = np.array([o for r in rows for o in r], dtype=np.int32)
    keys = np.sort(np.array([(s << 40) | (d << 24) | o for s, d, o in pairs],
                            dtype=np.int64))
    scratch = np.zeros(10, dtype=bool)
    out = np.empty(len(keys), dtype=bool)
    outside_rows(keys, indptr, row_offer, scratch, out)
    expected = [int(k & 0xFFFFFF) not in set(rows[int(k >> 40)]) for k in keys]
    assert out.tolist() == expected
    assert not scratch.any()  # left clean for the next chunk
