"""The example_shop records cart changes and searches through reco_app.track."""

from __future__ import annotations

import pytest

from reco_app.models import Event

pytestmark = pytest.mark.django_db


def _types(**filters):  # type: ignore[no-untyped-def]
    return list(Event.objects.filter(**filters).order_by("id").values_list("event_type", "product_key", "value"))


def test_cart_changes_and_searches_are_tracked_with_consent(client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/reco/consent/accept/", {"next": "/"}).status_code == 302
    client.post("/cart/add/P4/", {"quantity": 2})
    client.post("/cart/update/P4/", {"quantity": 1})
    client.post("/cart/remove/P4/")
    client.get("/search/", {"q": "tea"})
    assert _types(event_type__in=["add_to_cart", "remove_from_cart"]) == [
        ("add_to_cart", "P4", 2.0),
        ("remove_from_cart", "P4", 1.0),
        ("remove_from_cart", "P4", 1.0),
    ]
    search = Event.objects.get(event_type="search")
    assert search.context["query"] == "tea" and search.subject.startswith("anon:")


def test_without_consent_the_cart_works_and_nothing_is_stored(client, catalog) -> None:  # type: ignore[no-untyped-def]
    client.post("/cart/add/P4/", {"quantity": 2})
    client.get("/search/", {"q": "tea"})
    assert client.get("/cart/").context["cart_count"] == 2
    assert Event.objects.count() == 0


def test_product_pages_attribute_time_on_page_to_their_product(client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/reco/consent/accept/", {"next": "/"}).status_code == 302
    product_page = client.get("/p/P4/").content.decode()
    home = client.get("/").content.decode()
    assert 'data-product="P4"' in product_page
    assert 'data-product=""' in home and product_page.count("reco.js") == 1
