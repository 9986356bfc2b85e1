"""The compiled helpers of the cut checks beyond capped rows, against plain Python sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affectation.engine.bound import _loaded_by_pupil, _not_loaded
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


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(5, 9), st.integers(0, 4)), max_size=30),
       st.lists(st.tuples(st.integers(5, 9), st.integers(0, 4)), max_size=30),
       st.booleans())
def test_not_loaded_is_set_membership(loaded: list[tuple[int, int]],
                                      asked: list[tuple[int, int]], into_pupil: bool) -> None:
    """Loaded arcs in either direction (offer nodes 0-4, pupil nodes 5-9), asked by pupil."""
    loaded = sorted(set(loaded))
    pupil = np.array([p for p, _ in loaded], dtype=np.int32)
    offer = np.array([o for _, o in loaded], dtype=np.int32)
    tails, heads = (offer, pupil) if into_pupil else (pupil, offer)
    csr = _loaded_by_pupil(tails, heads, 10)
    out = np.empty(len(asked), dtype=bool)
    _not_loaded(np.array([p for p, _ in asked], dtype=np.int64),
                np.array([o for _, o in asked], dtype=np.int64), csr.indptr, csr.offer, out)
    assert out.tolist() == [pair not in set(loaded) for pair in asked]
