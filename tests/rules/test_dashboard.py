"""Dashboard figures from constructed events (attribution as documented)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from reco_app.models import CatalogItem, DroppedEventCount, Event, ModelVersion
from reco_app.rules.dashboard import attributed, dashboard

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 18, 0, tzinfo=dt.UTC)
DAY1 = NOW - dt.timedelta(days=2)
DAY2 = NOW - dt.timedelta(days=1)


def ev(kind: str, at: dt.datetime, product: str = "P1", session: str = "s1", value: float | None = None, **context: Any) -> Event:
    return Event(event_type=kind, timestamp=at, product_key=product, session_id=session, value=value, context=context, subject="c1")


@pytest.fixture
def events() -> None:
    m = dt.timedelta(minutes=1)
    Event.objects.bulk_create(
        [ev("rec_impression", DAY1, product=f"P{i}", placement="home", rec_token=f"h{i}") for i in range(4)]
        + [
            ev("purchase", DAY1 - m, value=1, unit_price=99.0),  # before the click: not attributed
            ev("rec_click", DAY1 + m, placement="home", rec_token="h1"),
            ev("add_to_cart", DAY1 + 2 * m),  # same session and product after the click: home
            ev("purchase", DAY1 + 3 * m, value=2, unit_price=25.0),  # home, revenue 2 × 25
            ev("add_to_cart", DAY1 + 2 * m, product="P2"),  # not clicked
            ev("add_to_cart", DAY1 + 2 * m, session="s2"),  # another session
            ev("rec_impression", DAY2, product="P7", session="s3", placement="for_you", rec_token="f7"),
            ev("rec_impression", DAY2, product="P8", session="s3", placement="for_you", rec_token="f8"),
            ev("rec_click", DAY2 + m, product="P7", session="s3", placement="for_you", rec_token="f7"),
            ev("rec_click", DAY2 + m, product="P8", session="s3", placement="for_you", rec_token="f8"),
            ev("add_to_cart", DAY2 + 2 * m, product="P7", session="s9", rec_token="f7"),  # by token: for_you
            # no unit price: the catalog's (20)
            ev("purchase", DAY2 + 3 * m, product="P5", session="s9", value=1, rec_token="zz", placement="cart"),
            ev("product_view", DAY2, product="P1"),
        ]
    )
    DroppedEventCount.objects.create(day=DAY1.date(), reason="no_consent", event_type="product_view", count=5)
    DroppedEventCount.objects.create(day=DAY1.date(), reason="gpc", event_type="product_view", count=2)
    DroppedEventCount.objects.create(day=DAY1.date(), reason="bot", event_type="product_view", count=3)
    ModelVersion.objects.create(status="active", metrics={"precision@10": 0.125}, activated_at=NOW - dt.timedelta(hours=6))
    CatalogItem.objects.create(product_key="P5", price=20.0)


def test_figures_per_placement(events: None) -> None:
    data = dashboard(days=7, now=NOW)
    by_placement = {p["placement"]: p for p in data["placements"]}
    assert by_placement["home"] == {
        "placement": "home", "impressions": 4, "clicks": 1, "ctr": 0.25,
        "add_to_carts": 1, "purchases": 1, "revenue": 50.0,
    }
    assert by_placement["for_you"]["ctr"] == 1.0
    assert by_placement["for_you"]["add_to_carts"] == 1
    assert (by_placement["cart"]["purchases"], by_placement["cart"]["revenue"]) == (1, 20.0)


def clicked_purchases(*purchases: tuple[str, float | None, dict[str, Any]]) -> None:
    """A ``home`` click on each product, then its purchase (quantity, context) in the session."""
    m = dt.timedelta(minutes=1)
    for i, (product, quantity, context) in enumerate(purchases):
        session = f"q{i}"
        Event.objects.bulk_create([
            ev("rec_click", DAY1 + m, product=product, session=session, placement="home", rec_token=f"t{i}"),
            ev("purchase", DAY1 + 2 * m, product=product, session=session, value=quantity, **context),
        ])


def home_revenue() -> float:
    return {p["placement"]: p["revenue"] for p in dashboard(days=7, now=NOW)["placements"]}["home"]


def test_revenue_is_quantity_times_the_unit_price_of_the_event() -> None:
    CatalogItem.objects.create(product_key="P1", price=99.0)  # the event's own price wins
    clicked_purchases(("P1", 3, {"unit_price": 10.0}))
    assert home_revenue() == 30.0


def test_revenue_without_a_unit_price_uses_the_catalog_price() -> None:
    CatalogItem.objects.bulk_create([CatalogItem(product_key="P1", price=12.5), CatalogItem(product_key="P2", price=4.0)])
    clicked_purchases(
        ("P1", 2, {}),
        ("P2", 3, {"unit_price": None}),  # an order line without a price, as order_placed stores it
        ("P2", 1, {"unit_price": "cheap"}),  # not a number: ignored
        ("P2", None, {}),  # no quantity: one
        ("P9", 5, {}),  # not in the catalog: no money, still a purchase
    )
    data = {p["placement"]: p for p in dashboard(days=7, now=NOW)["placements"]}["home"]
    assert (data["purchases"], data["revenue"]) == (5, 2 * 12.5 + 3 * 4.0 + 4.0 + 4.0)


def test_attribution_is_one_query(events: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        attributed(NOW - dt.timedelta(days=7))


def test_series_over_days(events: None) -> None:
    data = dashboard(days=3, now=NOW)
    assert data["days"] == [DAY1.date().isoformat(), DAY2.date().isoformat(), NOW.date().isoformat()]
    impressions = {s["name"]: s["values"] for s in data["charts"]["impressions"]}
    assert impressions["home"] == [4, 0, 0] and impressions["for_you"] == [0, 2, 0]
    ingestion = {s["name"]: s["values"] for s in data["charts"]["ingestion"]}
    assert ingestion["dropped (no consent)"] == [7, 0, 0]  # bots are not a consent matter
    assert ingestion["stored"] == [10, 7, 0]
    assert data["ingestion_totals"] == {"stored": 17, "dropped_no_consent": 7}


def test_model_age_and_metrics(events: None) -> None:
    model = dashboard(days=3, now=NOW)["model"]
    assert model["age_hours"] == pytest.approx(6.0)
    assert model["recent"][0]["metrics"] == [("precision@10", 0.125)]


def test_dashboard_page_shows_the_figures(client: Any, events: None) -> None:
    client.force_login(get_user_model().objects.create_superuser("m", "m@example.com", "pw-12345678"))
    days = (timezone.now() - DAY1).days + 2
    page = client.get(reverse("admin:reco_app_dashboard"), {"days": days}).content.decode()
    assert 'data-placement="home"' in page and "25&nbsp;%" in page
    assert "17 stored, 7 dropped for lack of consent." in page
    assert 'id="reco-chart-data"' in page and "reco_app/charts.js" in page


def test_dashboard_on_postgresql(postgres_db: Any, events: None) -> None:
    data = dashboard(days=7, now=NOW)
    assert {p["placement"]: p["revenue"] for p in data["placements"]} == {"cart": 20.0, "for_you": 0, "home": 50.0}


def test_revenue_on_postgresql(postgres_db: Any) -> None:
    CatalogItem.objects.bulk_create([CatalogItem(product_key="P1", price=99.0), CatalogItem(product_key="P2", price=4.0)])
    clicked_purchases(("P1", 3, {"unit_price": 10}), ("P2", 2, {"unit_price": "4.50"}), ("P2", None, {"unit_price": None}))
    assert home_revenue() == 30.0 + 2 * 4.0 + 4.0


def test_cache_hit_rate_counts_every_read() -> None:
    from reco_app import cache
    from reco_app.rules import cache_stats

    before = cache_stats.shared()
    key = cache.make_key("test", "hit-rate", uuid.uuid4().hex)
    for _ in range(3):
        cache.get_or_set(key, lambda: [1, 2, 3])
    after = dashboard(days=1, now=NOW)["cache"]
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (2, 1)
    assert 0 < after["hit_rate"] <= 1
