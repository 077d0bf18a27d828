from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from reco_app.adapter import ShopAdapter, get_adapter
from reco_app.catalog import sync_product
from reco_app.models import CatalogItem
from tests.foundation.adapters import HouseBrandAdapter
from tests.foundation.helpers import make_product, product_fields, reco_settings

pytestmark = pytest.mark.django_db


def test_default_adapter_reads_related_fields_and_callables() -> None:
    p = make_product("SKU-7", category="Shoes", brand="Acme", price="59.90", tags="Trail|running", description="Light")
    snap = get_adapter().snapshot(p)
    assert snap["product_key"] == "SKU-7"
    assert (snap["category"], snap["brand"]) == ("Shoes", "Acme")  # "category.name", "brand.name"
    assert snap["url"] == p.get_absolute_url() and "SKU-7" in snap["url"]  # a callable is called
    assert snap["price"] == pytest.approx(59.90)
    assert snap["tags"] == ["running", "trail"]
    assert snap["launched_at"] == p.created_at
    assert (snap["stock"], snap["in_stock"], snap["published"]) == (5, True, True)


def test_tags_from_a_string_or_a_list() -> None:
    adapter = ShopAdapter()
    assert adapter.product_tags(SimpleNamespace(tags="red, Blue ,red")) == ["blue", "red"]
    assert adapter.product_tags(SimpleNamespace(tags="a|b")) == ["a", "b"]
    assert adapter.product_tags(SimpleNamespace(tags=["Wool", "winter", ""])) == ["winter", "wool"]
    assert adapter.product_tags(SimpleNamespace(tags=None)) == []


def test_many_valued_paths_are_read_on_each_item() -> None:
    product = SimpleNamespace(labels=[SimpleNamespace(name="Eco"), SimpleNamespace(name="Vegan")])
    with product_fields(tags="labels.name"):
        assert get_adapter().product_tags(product) == ["eco", "vegan"]


def test_missing_and_unset_fields_give_empty_values() -> None:
    p = make_product("SKU-8", brand=None)
    with product_fields(brand="brand.name", image=None, description="no_such_attribute", stock=None):
        snap = get_adapter().snapshot(p)
    assert (snap["brand"], snap["image_url"], snap["description"]) == ("", "", "")
    assert (snap["stock"], snap["in_stock"]) == (None, True)  # stock not tracked = available


def test_unreadable_numbers_and_naive_dates_do_not_break_the_snapshot() -> None:
    adapter = ShopAdapter()
    odd = SimpleNamespace(price="n/a", stock="lots", created_at=dt.date(2024, 5, 1), available=False)
    assert adapter.product_price(odd) is None
    assert adapter.product_stock(odd) is None
    assert adapter.product_launched_at(odd) == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    with product_fields(stock="available"):  # a yes/no flag instead of a count
        assert get_adapter().product_in_stock(odd) is False


def test_get_products_by_key_ignores_unknown_keys() -> None:
    a, b = make_product("SKU-1"), make_product("SKU-2")
    assert get_adapter().get_products(["SKU-2", "SKU-1", "NOPE"]) == {"SKU-1": a, "SKU-2": b}
    with product_fields(key="pk"):
        found = get_adapter().get_products([str(a.pk), "not-a-number"])
    assert found == {str(a.pk): a}


def test_a_subclassed_adapter_named_in_settings_is_used() -> None:
    user = get_user_model().objects.create_user("ann", password="x" * 10)
    with reco_settings(ADAPTER="tests.foundation.adapters.HouseBrandAdapter"):
        assert isinstance(get_adapter(), HouseBrandAdapter)
        sync_product(make_product("SKU-9", brand=None))
        assert get_adapter().customer_key(user) == f"cust-{user.pk}"
    assert CatalogItem.objects.get(product_key="SKU-9").brand == "House brand"
    # the cache is dropped when the setting is restored: the shop's own adapter is back
    assert not isinstance(get_adapter(), HouseBrandAdapter)
    assert get_adapter().customer_key(user) != f"cust-{user.pk}"


def test_customer_key_round_trips_to_the_user() -> None:
    user = get_user_model().objects.create_user("bob", password="x" * 10)
    adapter = get_adapter()
    assert adapter.get_user_for_customer_key(adapter.customer_key(user)) == user
    assert adapter.get_user_for_customer_key("not-a-pk") is None
