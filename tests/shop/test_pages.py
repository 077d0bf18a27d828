from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_home_shows_hero_categories_and_products(client, catalog) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/").content.decode()
    assert "Everything for the way you live" in html
    assert "Outdoor &amp; Hiking" in html and "Coffee &amp; Tea" in html
    assert "Roastery 47 Espresso Beans" in html  # a deal under $25
    assert "Nordkap Storm Tent" not in html  # out of stock: not promoted on the home page


def test_category_listing_sorts_and_paginates(client, catalog) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/c/outdoor-hiking/?sort=price_desc")
    html = r.content.decode()
    assert r.status_code == 200
    assert html.index("Storm Tent") < html.index("Rain Jacket") < html.index("Trail Daypack")
    assert "Espresso" not in html.split("<main")[1]
    r = client.get("/c/outdoor-hiking/?sort=price_asc")
    html = r.content.decode()
    assert html.index("Trail Daypack") < html.index("Rain Jacket")


def test_listing_pagination(client, catalog) -> None:  # type: ignore[no-untyped-def]
    from example_shop.shop.models import Product

    base = catalog["P4"]
    for i in range(30):
        Product.objects.create(sku=f"X{i:02d}", name=f"Roastery 47 Blend {i:02d}", category=base.category,
                               brand=base.brand, price="9.99", stock=5)
    first = client.get("/c/coffee-tea/?sort=name").content.decode()
    second = client.get("/c/coffee-tea/?sort=name&page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "Blend 00" in first and "Blend 00" not in second
    assert client.get("/c/coffee-tea/?page=99").status_code == 200  # clamps to the last page


def test_search_matches_every_word_across_name_brand_and_tags(client, catalog) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/search/?q=nordkap+waterproof").content.decode()
    assert "Rain Jacket" in html and "Storm Tent" in html
    assert "Trail Daypack" not in html
    assert "2 products" in html
    assert "No products found" in client.get("/search/?q=").content.decode()


def test_product_page_shows_price_stock_tags_and_cart_form(client, catalog) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/p/P1/").content.decode()
    for text in ("$129.99", "Only 4 left", "waterproof", "hiking", "Nordkap", "Add to cart", "/img/P1.svg"):
        assert text in html
    sold_out = client.get("/p/P3/").content.decode()
    assert "Out of stock" in sold_out and "Add to cart" not in sold_out
    assert client.get("/p/NOPE/").status_code == 404
    img = client.get("/img/P1.svg")
    assert img["Content-Type"] == "image/svg+xml"


def test_signup_logs_the_new_user_in(client, db) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/accounts/signup/").status_code == 200
    r = client.post("/accounts/signup/", {"username": "ann", "email": "ann@example.com",
                                          "password1": "s3cret-pass!", "password2": "s3cret-pass!"})
    assert r.status_code == 302
    assert client.get("/account/").status_code == 200
    client.logout()
    bad = client.post("/accounts/signup/", {"username": "ann", "email": "x", "password1": "a", "password2": "b"})
    assert bad.status_code == 400


def test_signup_refuses_a_username_that_keys_someone_elses_history(client, db) -> None:  # type: ignore[no-untyped-def]
    """Usernames are the customer keys: a seeded customer without an account ("c00042")
    must not be claimable, or the new account would read their history."""
    from reco_app.models import Event

    Event.objects.create(subject="c00042", event_type="purchase", product_key="SKU-1", timestamp="2026-01-01T00:00:00Z", consent="imported")
    form = {"username": "c00042", "email": "x@example.com", "password1": "s3cret-pass!", "password2": "s3cret-pass!"}
    r = client.post("/accounts/signup/", form)
    assert r.status_code == 400 and b"already exists" in r.content
    assert not get_user_model().objects.filter(username="c00042").exists()
    assert client.post("/accounts/signup/", {**form, "username": "c00043"}).status_code == 302


def test_login_logout_and_account_requires_login(client, db) -> None:  # type: ignore[no-untyped-def]
    get_user_model().objects.create_user("bob", "bob@example.com", "pw-123456")
    assert client.get("/account/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200
    assert client.post("/accounts/login/", {"username": "bob", "password": "pw-123456"}).status_code == 302
    assert "Signed in as <strong>bob</strong>" in client.get("/account/").content.decode()
    client.post("/accounts/logout/")
    assert client.get("/account/").status_code == 302


def test_product_page_shows_similar_products_with_rec_tokens(client, catalog) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/p/P1/").content.decode()
    similar = html.split('<section class="reco-widget" data-reco-placement="similar">')[1].split("</section>")[0]
    keys = re.findall(r'data-reco-product="([^"]+)"', similar)
    assert keys[0] == "P2"  # same brand, category and a shared tag
    assert "P1" not in keys and "P3" not in keys  # not the product itself, nor one out of stock
    assert similar.count("?rt=") == len(keys)


def test_admin_lists_products_and_orders(admin_client, catalog) -> None:  # type: ignore[no-untyped-def]
    assert "Nordkap Alpine Rain Jacket" in admin_client.get("/admin/shop/product/?q=jacket").content.decode()
    assert admin_client.get("/admin/shop/order/").status_code == 200
    assert admin_client.get("/admin/shop/order/add/").status_code == 200
    assert admin_client.get("/admin/shop/category/").status_code == 200
    assert admin_client.get("/admin/shop/brand/").status_code == 200


def test_listing_filters_by_brand_and_stock(client, catalog) -> None:  # type: ignore[no-untyped-def]
    from example_shop.shop.models import Brand, Product

    other = Brand.objects.create(name="Ridgeway")
    Product.objects.create(sku="R1", name="Ridgeway Summit Fleece", category=catalog["P1"].category,
                           brand=other, price="49.99", stock=3)
    html = client.get("/c/outdoor-hiking/").content.decode()
    assert "Ridgeway <small>1</small>" in html and "Nordkap <small>3</small>" in html
    html = client.get(f"/c/outdoor-hiking/?brand={other.pk}").content.decode()
    assert "Summit Fleece" in html and "Rain Jacket" not in html
    html = client.get("/c/outdoor-hiking/?in_stock=1").content.decode()
    assert "Rain Jacket" in html and "Storm Tent" not in html
    assert client.get("/c/outdoor-hiking/?brand=nonsense").status_code == 200


def test_the_cookie_settings_page_is_in_the_shops_layout(client, db) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/cookies/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<title>Cookie settings · Northwind Market</title>" in html and "<h1>Cookies</h1>" in html
