from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from reco_app import recommend
from reco_app.models import Event
from reco_app.serving.placements import placement_names
from tests.serving.helpers import assert_sensible, categories, visitor_request

pytestmark = pytest.mark.django_db
ARGS = {"similar": {"product": "SH-03"}, "bought_together": {"product": "SH-03"}, "complete_the_cart": {"cart": ["CO-01"]}}


def view(subject: str, keys: list[str], consent: str = "granted") -> None:
    now = timezone.now()
    Event.objects.bulk_create([
        Event(subject=subject, product_key=k, event_type="product_view", session_id="sess-1", timestamp=now - dt.timedelta(minutes=10 - i), consent=consent)
        for i, k in enumerate(keys)
    ])


def test_new_visitor_gets_trending(trained) -> None:  # type: ignore[no-untyped-def]
    for placement in placement_names():
        recs = recommend(visitor_request("v-first-time"), placement, limit=5, **ARGS.get(placement, {}))
        assert_sensible(recs, 5)
    recs = recommend(visitor_request("v-first-time"), "for_you", limit=5)
    assert {r.source for r in recs} <= {"trending", "explore"}


def test_session_fold_in_personalises_an_anonymous_visitor(trained) -> None:  # type: ignore[no-untyped-def]
    view("anon:v-coffee", ["CO-01", "CO-04", "CO-06"])
    recs = recommend(visitor_request("v-coffee"), "for_you", limit=6)
    assert Counter(categories(recs)).most_common(1)[0][0] == "Coffee"
    assert any(r.reason.startswith("Because you viewed") for r in recs)


def test_without_consent_the_visitor_is_not_profiled(trained) -> None:  # type: ignore[no-untyped-def]
    view("anon:v-coffee", ["CO-01", "CO-04", "CO-06"])
    refused = recommend(visitor_request("v-coffee", consent=False), "for_you", limit=6)
    anonymous = recommend(visitor_request("v-somebody-else", consent=False), "for_you", limit=6)
    assert [r.product_key for r in refused] == [r.product_key for r in anonymous]
    assert recommend(visitor_request("v-coffee", consent=False), "recently_viewed", limit=3)[0].source != "recent"


def test_a_request_without_tracking_is_anonymous(trained, rf) -> None:  # type: ignore[no-untyped-def]
    recs = recommend(rf.get("/"), "for_you", limit=4)
    assert_sensible(recs, 4)


def test_a_new_product_is_reachable_through_its_metadata(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    # the model never saw SH-NEW: it gets a vector from its category/brand/tag features
    similar_to_new = recommend(None, "similar", product=shop.new_key, limit=4)
    assert_sensible(similar_to_new, 4)
    assert set(categories(similar_to_new)) == {"Shoes"}
    reach = [r.product_key for k in shop.by_category["Shoes"][2:] for r in recommend(None, "similar", product=k, limit=6)]
    assert shop.new_key in reach


def test_no_model_yet_still_serves_every_placement(shop) -> None:  # type: ignore[no-untyped-def]
    for placement in placement_names():
        recs = recommend("CUST-000", placement, limit=5, **ARGS.get(placement, {}))
        assert_sensible(recs, 5)
        assert all(r.model_version is None and r.source != "model" for r in recs)
    similar = recommend(None, "similar", product="BK-01", limit=4)
    assert set(categories(similar)) == {"Books"}


def test_an_empty_shop_history_still_fills_the_list(db) -> None:  # type: ignore[no-untyped-def]
    from tests.serving.factories import make_catalog

    make_catalog()  # products, no events, no model
    for placement in ("for_you", "trending", "bought_together", "recently_viewed", "buy_again"):
        recs = recommend("nobody", placement, limit=4, **ARGS.get(placement, {}))
        assert_sensible(recs, 4)


def test_an_imported_customer_key_gets_personalised_results(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    # CUST-900 arrived by CSV import after the model was trained: fold-in from the history
    view("CUST-900", ["BK-01", "BK-05", "BK-07"], consent="imported")
    recs = recommend("CUST-900", "for_you", limit=6)
    assert Counter(categories(recs)).most_common(1)[0][0] == "Books"
    # a customer the model trained on
    assert Counter(categories(recommend("CUST-002", "for_you", limit=6))).most_common(1)[0][0] == shop.customers["CUST-002"]


def test_user_vector_of_known_folded_and_unknown_shoppers(trained) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving.model_store import user_vector

    assert user_vector("CUST-001") is not None  # trained
    assert user_vector("anon:v-nobody") is None  # nothing to go on
    view("anon:v-tea", ["CO-02", "CO-03"])
    folded = user_vector("anon:v-tea")
    assert folded is not None and folded.shape == user_vector("CUST-001").shape


def test_the_tracking_middlewares_may_track_decides_personalisation(trained) -> None:  # type: ignore[no-untyped-def]
    view("anon:v-coffee", ["CO-01", "CO-04", "CO-06"])
    request = visitor_request("v-coffee")
    del request.reco.consent_granted
    request.reco.may_track = True  # as reco_app.tracking's VisitorContext exposes it
    assert Counter(categories(recommend(request, "for_you", limit=6))).most_common(1)[0][0] == "Coffee"
    request.reco.may_track = False
    assert recommend(request, "recently_viewed", limit=3)[0].source != "recent"
