from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import scipy.sparse as sp

from reco_app.datasets.catalog import CatalogIndex
from reco_app.datasets.events import EventArrays
from reco_app.datasets.idmaps import index_of
from reco_app.training.data import prepare, settings_snapshot
from reco_app.training.metrics import eval_users, evaluate, topk
from reco_app.training.params import TrainParams
from reco_app.training.pipeline import run, train_inputs
from reco_app.training.report import format_table
from tests.training.synthetic import UNTIL, make_shop


def test_metrics_on_a_hand_made_ranking() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=np.float32))  # item 0 seen: excluded
    test = sp.csr_matrix(np.array([[1, 1, 0, 1, 0, 0]], dtype=np.float32))  # relevant new: 1 and 3
    scores = np.array([[9.0, 5.0, 4.0, 1.0, 3.0, 2.0]])  # ranking without item 0: 1, 2, 4, 5, 3
    cold = np.array([False, False, False, True, False, False])
    m = evaluate(lambda rows: scores, train, test, np.array([0]), k=2, cold_items=cold)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["ndcg"] == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert m["map"] == pytest.approx(0.5)
    assert m["auc"] == pytest.approx(3 / 6)  # item 1 beats all 3 negatives, item 3 none
    assert m["coverage"] == pytest.approx(2 / 6)
    assert m["cold_recall"] == 0.0
    assert topk(np.array([[1.0, 3.0, 3.0, 2.0]]), 3).tolist() == [[1, 2, 3]]


@pytest.fixture(scope="module")
def evaluation(django_db_blocker):  # type: ignore[no-untyped-def]
    shop = make_shop()
    data = prepare(shop.event_arrays(), shop.catalog_arrays(), until=UNTIL, cfg=settings_snapshot())
    params = TrainParams.from_settings(num_threads=1, epochs=10, no_components=32)
    return run(data, params, refit=False).evaluation


def test_the_model_beats_popularity_and_finds_cold_products(evaluation) -> None:  # type: ignore[no-untyped-def]
    rows = evaluation["rows"]
    print(format_table(evaluation))
    assert evaluation["users"] >= 50 and evaluation["cold_items"] > 0
    for metric in ("precision", "ndcg"):
        assert rows["lightfm"][metric] > rows["popularity"][metric]
        assert rows["lightfm"][metric] > rows["cooccurrence"][metric]
    assert rows["lightfm"]["cold_recall"] > 0.05
    for baseline in ("popularity", "trending", "cooccurrence"):
        assert rows[baseline]["cold_recall"] == 0.0


def test_the_table_names_every_model_and_metric(evaluation) -> None:  # type: ignore[no-untyped-def]
    table = format_table(evaluation)
    assert "precision@10" in table and "ndcg@10" in table and "cold recall@10" in table
    assert [line.split()[0] for line in table.splitlines()[2:6]] == ["lightfm", "popularity", "trending", "cooccurrence"]


def _holdout_case(rule: str):  # type: ignore[no-untyped-def]
    """Shopper a bought p1 and viewed p2 before the cutoff; after it, re-bought p1 and bought p2."""
    before, after = UNTIL - dt.timedelta(days=20), UNTIL - dt.timedelta(days=2)
    events = EventArrays.from_rows([
        ("a", "p1", "purchase", 1.0, before), ("a", "p2", "product_view", None, before),
        ("a", "p1", "purchase", 1.0, after), ("a", "p2", "purchase", 1.0, after),
        ("b", "p3", "product_view", None, before),
    ])
    catalog = CatalogIndex.from_rows([{"product_key": f"p{i}", "category": "c"} for i in (1, 2, 3, 4)])
    return prepare(events, catalog, until=UNTIL, cfg={**settings_snapshot(), "TRAINING_EVAL_EXCLUDE": rule})


def test_by_default_only_products_bought_before_the_cutoff_leave_the_evaluation() -> None:
    data = _holdout_case("purchased")
    a = index_of(data.user_keys)["a"]
    items = index_of(data.item_keys)
    assert data.exclude[a].toarray().ravel().tolist() == [1.0 if k == "p1" else 0.0 for k in data.item_keys]
    users = eval_users(data.train, data.test, exclude=data.exclude)
    assert users.tolist() == [a]  # b bought nothing after the cutoff
    # the viewed-then-bought p2 is a candidate and a hit; the repeat purchase of p1 is neither
    scores = np.zeros((1, len(data.item_keys)))
    scores[0, items["p1"]], scores[0, items["p2"]] = 9.0, 1.0
    m = evaluate(lambda rows: scores, data.exclude, data.test, users, k=1)
    assert m["precision"] == 1.0 and m["recall"] == 1.0


def test_the_interacted_rule_also_leaves_out_viewed_products() -> None:
    data = _holdout_case("interacted")
    assert data.exclude_rule == "interacted"
    assert eval_users(data.train, data.test, exclude=data.exclude).tolist() == []  # nothing new to find
    with pytest.raises(ValueError):
        _holdout_case("everything")


def test_products_launched_after_the_cutoff_are_left_out_of_the_fit() -> None:
    shop = make_shop(n_users=60, n_items=48, events_per_user=10)
    data = prepare(shop.event_arrays(), shop.catalog_arrays(), until=UNTIL, cfg=settings_snapshot())
    weights, features = train_inputs(data)
    unlaunched = data.cold_items & (np.diff(data.train.tocsc().indptr) == 0)
    assert unlaunched.any()
    assert weights.shape == (len(data.user_keys), len(data.item_keys) - unlaunched.sum())
    assert features.shape == (weights.shape[1], len(data.item_features.names))  # every feature still fitted
    assert weights.nnz == data.train.nnz  # nothing of the history is lost
