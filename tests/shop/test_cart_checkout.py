from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from example_shop.shop.models import Order, Product
from reco_app.models import CatalogItem
from reco_app.signals import order_placed

pytestmark = pytest.mark.django_db


def _cart(client) -> str:  # type: ignore[no-untyped-def]
    return client.get("/cart/").content.decode()


def test_add_update_remove_and_totals(client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/cart/add/P4/", {"quantity": 2}).status_code == 302
    client.post("/cart/add/P5/", {"quantity": 1})
    html = _cart(client)
    assert "$24.98" in html and "$33.97" in html  # 2 x 12.49 line; subtotal
    assert "$38.92" in html  # + $4.95 shipping under $50
    client.post("/cart/update/P4/", {"quantity": 5})
    html = _cart(client)
    assert "$62.45" in html and "Free" in html  # over $50: free shipping
    client.post("/cart/remove/P5/")
    client.post("/cart/update/P4/", {"quantity": 0})
    assert "Your cart is empty" in _cart(client)


def test_cart_caps_at_stock_and_refuses_sold_out(client, catalog) -> None:  # type: ignore[no-untyped-def]
    client.post("/cart/add/P1/", {"quantity": 9})
    assert 'value="4"' in _cart(client)  # only 4 in stock
    r = client.post("/cart/add/P3/", {"quantity": 1}, follow=True)
    assert "out of stock" in r.content.decode()
    assert "Storm Tent" not in _cart(client)
    assert client.post("/cart/add/P1/", {"quantity": "lots"}).status_code == 400
    assert client.get("/cart/add/P1/").status_code == 405


def test_guest_checkout_creates_order_decrements_stock_and_signals_once(
    client, catalog, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    received: list[dict] = []

    def listener(**kwargs) -> None:  # type: ignore[no-untyped-def]
        received.append(kwargs)

    order_placed.connect(listener)
    try:
        client.post("/cart/add/P1/", {"quantity": 2})
        client.post("/cart/add/P4/", {"quantity": 1})
        assert client.get("/checkout/").status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            r = client.post("/checkout/", {"email": "guest@example.com", "full_name": "Gus Guest", "address": "1 Main St"})
    finally:
        order_placed.disconnect(listener)
    order = Order.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/orders/{order.pk}/"
    assert order.email == "guest@example.com" and order.user is None
    assert [(line.product.sku, line.quantity, line.unit_price) for line in order.lines.order_by("product__sku")] == [
        ("P1", 2, Decimal("129.99")), ("P4", 1, Decimal("12.49")),
    ]
    assert order.total == Decimal("272.47")
    assert Product.objects.get(sku="P1").stock == 2 and Product.objects.get(sku="P4").stock == 49
    assert CatalogItem.objects.get(product_key="P1").stock == 2  # the snapshot follows
    assert len(received) == 1
    sent = received[0]
    assert sent["order"] == order and sent["user"] is None and sent["request"] is not None
    assert sorted((p.sku, q, price) for p, q, price in sent["lines"]) == [("P1", 2, Decimal("129.99")), ("P4", 1, Decimal("12.49"))]
    confirmation = client.get(r["Location"]).content.decode()
    assert f"Order #{order.pk} is confirmed" in confirmation and "guest@example.com" in confirmation
    assert "Your cart is empty" in _cart(client)


def test_logged_in_checkout_belongs_to_the_user_and_shows_in_account(client, catalog) -> None:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw-123456")
    client.force_login(user)
    client.post("/cart/add/P2/", {"quantity": 1})
    form = client.get("/checkout/").content.decode()
    assert 'value="ann@example.com"' in form
    client.post("/checkout/", {"email": "ann@example.com", "full_name": "Ann", "address": "2 High St"})
    order = Order.objects.get()
    assert order.user == user
    assert "Trail Daypack" in client.get("/account/").content.decode()
    client.logout()
    assert client.get(f"/orders/{order.pk}/").status_code == 404  # not someone else's


def test_checkout_refuses_when_stock_ran_out(client, catalog) -> None:  # type: ignore[no-untyped-def]
    client.post("/cart/add/P1/", {"quantity": 3})
    Product.objects.filter(sku="P1").update(stock=1)
    r = client.post("/checkout/", {"email": "g@example.com", "full_name": "G", "address": "x"})
    assert r.status_code == 400 and "Not enough stock" in r.content.decode()
    assert not Order.objects.exists()
    assert Product.objects.get(sku="P1").stock == 1


def test_checkout_with_bad_input_or_empty_cart(client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/checkout/").status_code == 302  # empty cart → back to the cart
    client.post("/cart/add/P4/", {"quantity": 1})
    r = client.post("/checkout/", {"email": "not-an-email", "full_name": "", "address": ""})
    assert r.status_code == 400 and "Enter a valid email address" in r.content.decode()
    assert not Order.objects.exists()
