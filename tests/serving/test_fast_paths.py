"""The hot path's shortcuts give the same answers as the plain numpy they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reco_app.serving.ranking import _without


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 60), unique=True).map(sorted),
    st.lists(st.integers(-5, 70), max_size=12),
)
def test_without_matches_isin(rows: list[int], drop: list[int]) -> None:
    pool, gone = np.array(rows, np.int64), np.array(drop, np.int64)
    assert _without(pool, gone).tolist() == pool[~np.isin(pool, gone)].tolist()


def test_without_handles_an_unsorted_pool() -> None:
    pool = np.array([9, 3, 7, 1], np.int64)
    assert _without(pool, np.array([7, 2], np.int64)).tolist() == [9, 3, 1]


def test_row_sums_match_scipy_row_indexing() -> None:
    import scipy.sparse as sp

    from reco_app.serving.sources import row_sums

    rng = np.random.default_rng(3)
    co = sp.random(300, 300, density=0.05, random_state=4, format="csr", dtype=np.float32)
    for rows in (np.array([5]), np.array([7, 3, 250]), rng.choice(300, 5, replace=False), np.array([11, 11])):
        sub = co[rows]
        found, inverse = np.unique(sub.indices, return_inverse=True)
        expected = np.bincount(inverse, weights=sub.data, minlength=len(found))
        got_found, got = row_sums(co, rows)
        assert got_found.tolist() == found.tolist()
        assert got.tolist() == expected.tolist()  # bit-identical sums
