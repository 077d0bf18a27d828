from __future__ import annotations

import time

import pytest
from django.core import signing
from django.test import Client

from example_shop.shop.models import Brand, Category, Product


@pytest.fixture(autouse=True)
def _unbuffered_counts(settings):  # type: ignore[no-untyped-def]
    """Write dropped-event counts at once so tests can read them."""
    from django.core.cache import cache

    from example_shop.settings import RECO_APP
    from reco_app.tracking import dropped

    cache.clear()  # cached consent decisions are keyed by user pk, which tests reuse
    dropped._pending.clear()  # counts buffered by a test that changed RECO_APP
    settings.RECO_APP = {**RECO_APP, "DROPPED_COUNT_FLUSH_SECONDS": 0}


@pytest.fixture
def product(db):  # type: ignore[no-untyped-def]
    cat = Category.objects.create(name="Shoes")
    brand = Brand.objects.create(name="Acme")
    return Product.objects.create(sku="SKU-1", name="Trail runner", category=cat, brand=brand, price="59.90", stock=3)


@pytest.fixture
def product_url(product) -> str:  # type: ignore[no-untyped-def]
    return f"/p/{product.sku}/"


def accept(client: Client) -> None:
    """Click "Accept" on the banner."""
    response = client.post("/reco/consent/accept/", {"next": "/"})
    assert response.status_code == 302


@pytest.fixture
def consenting(client, db) -> Client:  # type: ignore[no-untyped-def]
    accept(client)
    return client


def signed_visitor_cookie(vid: str, sid: str = "s1", last: float | None = None) -> str:
    from reco_app.tracking.context import COOKIE_SALT

    last = time.time() if last is None else last
    return signing.get_cookie_signer(salt="reco_v" + COOKIE_SALT).sign(f"{vid}:{sid}:{int(last)}")
