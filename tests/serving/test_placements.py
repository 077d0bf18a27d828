from __future__ import annotations

from collections import Counter

import pytest

from reco_app import recommend
from reco_app.models import Event
from reco_app.serving.placements import placement_names
from tests.serving.helpers import assert_sensible, categories

pytestmark = pytest.mark.django_db


def test_every_placement_returns_sensible_products(trained) -> None:  # type: ignore[no-untyped-def]
    args = {"similar": {"product": "SH-03"}, "bought_together": {"product": "SH-03"}, "complete_the_cart": {"cart": ["CO-01"]}}
    assert set(placement_names()) >= {"for_you", "similar", "bought_together", "complete_the_cart", "trending", "recently_viewed", "new_arrivals", "buy_again"}
    for placement in placement_names():
        recs = recommend("CUST-000", placement, limit=6, **args.get(placement, {}))
        assert_sensible(recs, 6)
        assert all(r.reason and r.source and r.token for r in recs), placement


def test_for_you_follows_the_customers_taste(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    for customer in ("CUST-001", "CUST-002"):
        recs = recommend(customer, "for_you", limit=8)
        top = Counter(categories(recs)).most_common(1)[0][0]
        assert top == shop.customers[customer]
        bought = set(Event.objects.filter(subject=customer, event_type="purchase").values_list("product_key", flat=True))
        assert not bought & {r.product_key for r in recs}


def test_similar_and_bought_together_stay_near_the_product(trained) -> None:  # type: ignore[no-untyped-def]
    similar = recommend(None, "similar", product="CO-02", limit=4)
    assert "CO-02" not in [r.product_key for r in similar]
    assert categories(similar).count("Coffee") >= 3
    together = recommend(None, "bought_together", product="BK-03", limit=4)
    assert together[0].source == "cooccurrence" and categories(together)[0] == "Books"
    assert together[0].reason.startswith("Often bought with")


def test_complete_the_cart_excludes_the_cart(trained) -> None:  # type: ignore[no-untyped-def]
    recs = recommend("CUST-003", "complete_the_cart", cart=["CO-01", "CO-02"], limit=5)
    assert not {"CO-01", "CO-02"} & {r.product_key for r in recs}
    assert categories(recs)[0] == "Coffee"


def test_trending_skips_sold_out_and_hidden_products(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    keys = [r.product_key for r in recommend(None, "trending", limit=40)]
    assert shop.sold_out_key not in keys and shop.hidden_key not in keys
    per_category = recommend(None, "trending", limit=5, context={"category": "Books"})
    assert set(categories(per_category)) == {"Books"}
    assert per_category[0].reason == "Trending in Books"


def test_new_arrivals_recently_viewed_and_buy_again(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    assert recommend(None, "new_arrivals", limit=3)[0].product_key == shop.new_key
    views = Event.objects.filter(subject="CUST-005", event_type="product_view")
    latest = views.order_by("-timestamp").values_list("timestamp", flat=True)[0]
    # (a session's views share their time here: any of the last ones may come first)
    last_viewed = set(views.filter(timestamp=latest).values_list("product_key", flat=True))
    recent = recommend("CUST-005", "recently_viewed", limit=3)
    assert recent[0].product_key in last_viewed and recent[0].source == "recent"
    bought = set(Event.objects.filter(subject="CUST-005", event_type="purchase").values_list("product_key", flat=True))
    again = [r for r in recommend("CUST-005", "buy_again", limit=10) if r.source == "buy_again"]
    assert again and {r.product_key for r in again} <= bought


def test_diversity_cap_and_exploration_slot(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    recs = recommend("CUST-000", "for_you", limit=10)
    ranked = [r for r in recs if r.source != "explore"]
    assert max(Counter(categories(ranked)).values()) <= 4
    explored = [r for r in recs if r.source == "explore"]
    assert [r.product_key for r in explored] == [shop.new_key]  # 10% of 10 slots, the one new product
    assert explored[0].reason == "New in Shoes"


def test_products_load_in_one_query(trained, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    recs = recommend(None, "trending", limit=5)
    with django_assert_num_queries(1):
        names = [r.product.name for r in recs]
    assert names == [r.name for r in recs]


def test_shops_can_add_placements(trained, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "PLACEMENTS": {"more_books": {"extends": "trending", "title": "Books", "sources": [("reco_app.serving.sources.Trending", {"per_category": True})]}}}
    recs = recommend(None, "more_books", limit=3, context={"category": "Books"})
    assert set(categories(recs)) == {"Books"}
