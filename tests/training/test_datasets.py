from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from reco_app.datasets.catalog import SERVING_FIELDS, TRAINING_FIELDS, CatalogIndex, load_catalog
from reco_app.datasets.events import EventArrays, load_events
from reco_app.datasets.features import (
    build_item_features,
    build_user_features,
    build_user_features_fixed,
    drop_identity,
)
from reco_app.datasets.idmaps import encode, index_of, stable_keys
from reco_app.datasets.interactions import build_interactions
from reco_app.models import CatalogItem, Event

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
WEIGHTS = {"product_view": 1.0, "add_to_cart": 3.0, "remove_from_cart": -2.0, "purchase": 5.0, "rating": 1.0, "search": 0.0}


def matrix(rows, half_life=None):  # type: ignore[no-untyped-def]
    events = EventArrays.from_rows(rows)
    users = index_of(stable_keys(events.subjects))
    items = index_of(stable_keys(events.products))
    m = build_interactions(events, users, items, WEIGHTS, now=NOW.timestamp(), half_life_days=half_life)
    return m, users, items


def test_event_types_add_up_with_their_weights() -> None:
    m, users, items = matrix([
        ("a", "p1", "product_view", None, NOW), ("a", "p1", "add_to_cart", None, NOW),
        ("a", "p1", "purchase", None, NOW), ("a", "p2", "product_view", None, NOW),
        ("b", "p2", "search", None, NOW),
    ])
    assert m[users["a"], items["p1"]] == pytest.approx(9.0)
    assert m[users["a"], items["p2"]] == pytest.approx(1.0)
    assert m[users["b"], items["p2"]] == 0  # zero-weight events add nothing
    assert m.nnz == 2


def test_ratings_weigh_by_value_and_low_ratings_count_against() -> None:
    m, users, items = matrix([
        ("a", "p1", "rating", 5.0, NOW), ("a", "p2", "rating", 1.0, NOW),
        ("a", "p2", "product_view", None, NOW), ("a", "p2", "product_view", None, NOW),
    ])
    assert m[users["a"], items["p1"]] == pytest.approx(2.5)
    assert m[users["a"], items["p2"]] == pytest.approx(0.5)  # 2 views - 1.5


def test_negative_signals_reduce_weight_and_clip_at_zero() -> None:
    m, users, items = matrix([
        ("a", "p1", "add_to_cart", None, NOW), ("a", "p1", "remove_from_cart", None, NOW),
        ("a", "p2", "product_view", None, NOW), ("a", "p2", "remove_from_cart", None, NOW),
        ("a", "p2", "remove_from_cart", None, NOW),
    ])
    assert m[users["a"], items["p1"]] == pytest.approx(1.0)
    assert m[users["a"], items["p2"]] == 0
    assert m.nnz == 1  # the clipped pair is not stored as an interaction


def test_time_decay_halves_weight_per_half_life() -> None:
    m, users, items = matrix([
        ("a", "p1", "purchase", None, NOW - dt.timedelta(days=10)),
        ("a", "p2", "purchase", None, NOW - dt.timedelta(days=20)),
        ("a", "p3", "purchase", None, NOW + dt.timedelta(days=1)),
    ], half_life=10)
    assert m[users["a"], items["p1"]] == pytest.approx(2.5)
    assert m[users["a"], items["p2"]] == pytest.approx(1.25)
    assert m[users["a"], items["p3"]] == pytest.approx(5.0)


def test_id_maps_are_sorted_and_extending_never_moves_a_row() -> None:
    keys = stable_keys(["c", "a", "b", "a"])
    assert list(keys) == ["a", "b", "c"]
    extended = stable_keys(["d", "aa", "c"], known=keys)
    assert list(extended) == ["a", "b", "c", "aa", "d"]
    assert list(encode(np.array(["c", "zz"], dtype=object), index_of(extended))) == [2, -1]


@pytest.mark.django_db
def test_only_consented_events_with_a_subject_are_loaded() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    for subject, consent in [("g", "granted"), ("o", "opt_out"), ("i", "imported"), ("x", "anonymised"), ("", "granted")]:
        Event.objects.create(subject=subject, product_key="p1", event_type="purchase", consent=consent, timestamp=when)
    Event.objects.create(subject="g", product_key="", event_type="search", timestamp=when)
    events = load_events()
    assert sorted(events.subjects) == ["g", "i", "o"]
    assert events.timestamps[0] == pytest.approx(when.timestamp(), abs=1e-3)
    assert sorted(load_events(exclude_subjects=["o"]).subjects) == ["g", "i"]
    assert len(load_events(since=when + dt.timedelta(seconds=1))) == 0


def test_the_catalog_index_normalises_the_attributes_training_and_serving_read() -> None:
    cat = CatalogIndex.from_rows([
        {"product_key": "p1", "category": "shoes", "brand": "acme", "price": 10, "tags": ["trail", "run", "trail"],
         "launched_at": NOW, "in_stock": True, "published": False},
        {"product_key": "p2", "category": "", "brand": None, "price": None, "tags": None, "launched_at": None},
    ])
    assert cat.category_names().tolist() == ["shoes", ""] and cat.brand_names().tolist() == ["acme", ""]
    assert cat.tag_lists() == [["run", "trail"], []]  # a set, as the adapter stores tags
    assert cat.available.tolist() == [False, True]  # published and in stock
    assert cat.launched_at[0] == NOW.timestamp() and np.isnan(cat.launched_at[1]) and np.isnan(cat.price[1])
    assert cat.descriptions.tolist() == ["", ""] and cat.stock.tolist() == [-1, -1]  # not given: neutral


@pytest.mark.django_db
def test_load_catalog_reads_the_fields_and_rows_asked_for() -> None:
    for key, description in (("b", "second"), ("a", "first")):
        CatalogItem.objects.create(product_key=key, name=key.upper(), description=description, stock=0, in_stock=False)
    served = load_catalog(fields=SERVING_FIELDS)
    assert served.keys.tolist() == ["b", "a"]  # insertion order
    assert served.names.tolist() == ["B", "A"] and served.descriptions.tolist() == ["", ""]
    assert served.stock.tolist() == [0, 0] and not served.available.any()
    some = load_catalog(fields=TRAINING_FIELDS, keys=["a", "gone", "b"])
    assert some.keys.tolist() == ["a", "b"] and some.descriptions.tolist() == ["first", "second"]


def catalog() -> CatalogIndex:
    return CatalogIndex.from_rows([
        {"product_key": "p1", "category": "shoes", "brand": "acme", "price": 10, "tags": ["run", "trail"],
         "description": "trail shoes with grip grip"},
        {"product_key": "p2", "category": "shoes", "brand": "", "price": 50, "tags": [],
         "description": "road shoes light"},
        {"product_key": "p3", "category": "coats", "brand": "acme", "price": 90, "tags": ["rain"],
         "description": "rain coat with grip light"},
        {"product_key": "p4", "category": "coats", "brand": "zed", "price": None, "tags": [], "description": ""},
    ])


def test_item_features_encode_identity_metadata_and_words() -> None:
    fm = build_item_features(catalog(), np.array(["p1", "p2", "p3", "p4", "gone"], dtype=object), price_bands=2)
    names = fm.index()
    row = dict(zip([str(n) for n in fm.names[fm.matrix[0].indices]], fm.matrix[0].data, strict=True))
    assert {"item:p1", "category:shoes", "brand:acme", "price:0", "tag:run", "tag:trail", "word:grip"} <= set(row)
    assert "word:trail" not in row  # in one description only: below the document-frequency floor
    assert "price:1" in {str(fm.names[j]) for j in fm.matrix[2].indices}  # 90 is in the upper band
    assert not any(str(fm.names[j]).startswith("price:") for j in fm.matrix[3].indices)  # no price, no band
    assert [str(fm.names[j]) for j in fm.matrix[4].indices] == ["item:gone"]  # unknown product: identity only
    np.testing.assert_allclose(np.asarray(fm.matrix.sum(axis=1)).ravel(), 1.0, rtol=1e-6)
    assert row["tag:run"] == pytest.approx(row["tag:trail"])
    assert "word:shoes" in names and "word:light" in names


def test_tfidf_weighs_rare_words_more_and_the_vocabulary_is_capped() -> None:
    rows = [{"product_key": f"p{i}", "description": "common " + ("rare " if i < 2 else "")} for i in range(6)]
    fm = build_item_features(CatalogIndex.from_rows(rows), np.array([r["product_key"] for r in rows], dtype=object))
    first = dict(zip([str(n) for n in fm.names[fm.matrix[0].indices]], fm.matrix[0].data, strict=True))
    assert first["word:rare"] > first["word:common"]
    capped = build_item_features(CatalogIndex.from_rows(rows), np.array(["p0"], dtype=object), max_vocabulary=1)
    assert [n for n in capped.names if str(n).startswith("word:")] == ["word:common"]


def test_fixed_vocabulary_drops_unknown_features_and_identity_can_be_dropped() -> None:
    keys = np.array(["p1", "p2"], dtype=object)
    fm = build_item_features(catalog(), keys)
    again = build_item_features(catalog(), np.array(["p1", "p2", "p3"], dtype=object), spec=fm.spec, names=fm.names)
    assert list(again.names) == list(fm.names) and again.matrix.shape == (3, len(fm.names))
    assert "item:p3" not in {str(again.names[j]) for j in again.matrix[2].indices}
    no_id = drop_identity(fm, keys, np.array([True, False]))
    assert "item:p1" not in {str(fm.names[j]) for j in no_id[0].indices}
    assert "item:p2" in {str(fm.names[j]) for j in no_id[1].indices}


def test_user_features_are_segments_or_identity_only() -> None:
    keys = np.array(["a", "b"], dtype=object)
    assert build_user_features(keys, lambda subjects: {}) is None
    uf = build_user_features(keys, lambda subjects: {"a": ["vip", "new"]}, segment_share=0.2)
    assert uf is not None and list(uf.names) == ["user:a", "user:b", "segment:new", "segment:vip"]
    # the shopper keeps 80% of the row, the two segments share the other 20%
    np.testing.assert_allclose(uf.matrix[0].toarray(), [[0.8, 0.0, 0.1, 0.1]], rtol=1e-6)
    np.testing.assert_allclose(uf.matrix[1].toarray(), [[0.0, 1.0, 0.0, 0.0]])  # no segment: identity only
    assert uf.spec == {"segment_share": 0.2}


def test_fixed_user_features_follow_the_models_segment_share() -> None:
    keys = np.array(["a", "b"], dtype=object)
    names = ["user:a", "user:b", "segment:new", "segment:vip"]
    provider = lambda subjects: {"a": ["vip", "gone"]}
    shared = build_user_features_fixed(keys, provider, names, segment_share=0.2)
    np.testing.assert_allclose(shared.toarray()[0], [0.8, 0.0, 0.0, 0.2], rtol=1e-6)
    legacy = build_user_features_fixed(keys, provider, names)  # models before the share: all alike
    np.testing.assert_allclose(legacy.toarray()[0], [0.5, 0.0, 0.0, 0.5], rtol=1e-6)


def test_identity_share_sets_how_much_a_known_product_is_itself() -> None:
    keys = np.array(["p1", "p4"], dtype=object)
    for share in (0.2, 0.5, 0.9):
        fm = build_item_features(catalog(), keys, price_bands=2, identity_share=share)
        row = dict(zip([str(n) for n in fm.names[fm.matrix[0].indices]], fm.matrix[0].data, strict=True))
        assert row["item:p1"] == pytest.approx(share)
        assert sum(v for n, v in row.items() if n != "item:p1") == pytest.approx(1 - share, rel=1e-5)
        # the attributes keep their proportions: category and brand alike, two tags half each
        assert row["category:shoes"] == pytest.approx(row["brand:acme"])
        assert row["tag:run"] == pytest.approx(row["category:shoes"] / 2)
        assert fm.spec["identity_share"] == share



def test_a_new_product_is_its_metadata_at_the_new_product_weight() -> None:
    keys = np.array(["p1", "p4"], dtype=object)
    for weight in (0.7, 0.9):
        fm = build_item_features(catalog(), keys, price_bands=2, identity_share=0.3, new_weight=weight)
        cold = drop_identity(fm, keys, np.array([True, False]))
        assert "item:p1" not in {str(fm.names[j]) for j in cold[0].indices}
        # the attributes keep their proportions, summing to the weight; p4 keeps its row
        meta = fm.matrix[0].toarray() * (np.asarray(fm.names) != "item:p1")
        np.testing.assert_allclose(cold[0].toarray(), meta * weight / 0.7, rtol=1e-5)
        np.testing.assert_allclose(cold[1].toarray(), fm.matrix[1].toarray())
        # a product added after training is encoded the same way from the model's vocabulary
        names = np.asarray(fm.names)
        later = build_item_features(catalog(), np.array(["p1"], dtype=object), spec=fm.spec, names=names[names != "item:p1"])
        np.testing.assert_allclose(later.matrix.toarray(), cold[0].toarray()[:, names != "item:p1"], rtol=1e-5)


def test_a_models_spec_keeps_its_identity_share_when_encoding_later() -> None:
    keys = np.array(["p1", "p2"], dtype=object)
    fm = build_item_features(catalog(), keys, identity_share=0.7)
    again = build_item_features(catalog(), keys, spec=fm.spec, names=fm.names, identity_share=0.1)
    np.testing.assert_allclose(again.matrix.toarray(), fm.matrix.toarray())
    legacy_spec = {k: v for k, v in fm.spec.items() if k != "identity_share"}  # a model before the setting
    legacy = build_item_features(catalog(), keys, spec=legacy_spec, names=fm.names)
    row = dict(zip([str(n) for n in legacy.names[legacy.matrix[0].indices]], legacy.matrix[0].data, strict=True))
    assert row["item:p1"] == pytest.approx(row["category:shoes"])  # identity weighs like one attribute
