"""The hot path's shortcuts give the same answers as the plain numpy they replace."""

from __future__ import annotations

import copy

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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 5000), max_size=400), st.sampled_from([np.int64, np.int32]))
def test_unique_inverse_matches_numpy(values: list[int], dtype: type) -> None:
    from reco_app.serving.types import unique_inverse

    array = np.array(values, dtype)
    found, inverse = unique_inverse(array)
    expected, expected_inverse = np.unique(array, return_inverse=True)
    assert found.dtype == expected.dtype
    assert found.tolist() == expected.tolist()
    assert inverse.dtype == expected_inverse.dtype and inverse.tolist() == expected_inverse.tolist()


def _metadata_reference(source, inputs):  # type: ignore[no-untyped-def]
    """MetadataSimilarity.generate as plain numpy wrote it (np.unique, np.isin, np.nanmedian)."""
    rows = inputs.profile.recent[:5] if not len(inputs.anchors) else inputs.anchors
    cat = inputs.catalog
    scores = np.zeros(len(cat), np.float32)
    for column, weight in ((cat.category, source.w["category"]), (cat.brand, source.w["brand"])):
        codes = np.unique(column[rows])
        codes = codes[codes >= 0]
        if len(codes):
            scores[np.isin(column, codes)] += weight
    if cat.tags.shape[1]:
        anchor_tags = np.asarray(cat.tags[rows].sum(axis=0)).ravel() > 0
        if anchor_tags.any():
            scores += (source.w["tags"] / float(anchor_tags.sum())) * (cat.tags @ anchor_tags.astype(np.float32))
    ref = np.nanmedian(cat.price[rows]) if np.isfinite(cat.price[rows]).any() else np.nan
    if np.isfinite(ref) and ref > 0:
        near = np.flatnonzero(scores > 0)
        closeness = 1.0 / (1.0 + np.abs(np.log(np.maximum(cat.price[near], 0.01) / ref)))
        scores[near] += source.w["price"] * np.nan_to_num(closeness, nan=0.0).astype(np.float32)
    return source.top(scores, inputs)


def test_metadata_similarity_matches_plain_numpy(shop) -> None:  # type: ignore[no-untyped-def]
    # anchors of one category, of several, of several brands, with a product without a
    # price (NaN) among them: the same rows and the same float32 scores
    from django.utils import timezone

    from reco_app.serving.catalog_index import get_catalog
    from reco_app.serving.profile import Profile
    from reco_app.serving.sources import MetadataSimilarity, SourceInputs
    from reco_app.serving.types import ServingContext

    catalog = copy.copy(get_catalog())  # (the shared one is left as it is)
    catalog.price = catalog.price.copy()
    catalog.price[3] = np.nan
    ctx = ServingContext(placement="similar", now=timezone.now())
    source = MetadataSimilarity()
    for anchors in ([0], [1, 2], [0, 9, 17, 25], [3, 30], [3]):
        rows = np.array(anchors, np.int64)
        eligible = catalog.available.copy()
        eligible[rows] = False
        inputs = SourceInputs(catalog, ctx, None, Profile(), rows, eligible)
        got, expected = source.generate(inputs), _metadata_reference(source, inputs)
        order, expected_order = np.argsort(got[0]), np.argsort(expected[0])
        assert len(got[0]) > 0
        assert got[0][order].tolist() == expected[0][expected_order].tolist()
        assert got[1][order].tolist() == expected[1][expected_order].tolist()
