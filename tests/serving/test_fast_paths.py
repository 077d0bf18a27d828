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
