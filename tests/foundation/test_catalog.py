from __future__ import annotations

import pytest
from django.core.management import call_command

from example_shop.shop.models import Product
from reco_app import cache
from reco_app.catalog import sync_all
from reco_app.models import CatalogItem
from tests.foundation.helpers import make_product, product_fields, reco_settings

pytestmark = pytest.mark.django_db


def available_keys() -> list[str]:
    return list(CatalogItem.objects.available().values_list("product_key", flat=True))


def test_signals_keep_the_snapshot_in_step_with_the_shop() -> None:
    p = make_product("SKU-1", price="20.00", stock=2)
    assert available_keys() == ["SKU-1"]
    p.price, p.name = "25.50", "Renamed"
    p.save()
    item = CatalogItem.objects.get(product_key="SKU-1")
    assert (item.price, item.name) == (25.5, "Renamed")
    p.stock = 0
    p.save()
    assert available_keys() == []  # out of stock: gone from recommendations at once
    p.stock, p.is_active = 4, False
    p.save()
    assert available_keys() == []  # unpublished
    assert CatalogItem.objects.get(product_key="SKU-1").published is False
    p.delete()
    assert not CatalogItem.objects.exists()


def test_a_changed_product_key_leaves_no_stale_row() -> None:
    p = make_product("OLD-1")
    p.sku = "NEW-1"
    p.save()
    assert list(CatalogItem.objects.values_list("product_key", flat=True)) == ["NEW-1"]


def test_catalog_changes_bump_the_cache_namespace(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    before = cache.ns_version("catalog")
    with django_capture_on_commit_callbacks(execute=True):
        make_product("SKU-1")
    assert cache.ns_version("catalog") > before


def test_bulk_sync_creates_updates_and_removes_vanished_products() -> None:
    make_product("SKU-1", stock=3)
    make_product("SKU-2", stock=3)
    CatalogItem.objects.all().delete()
    CatalogItem.objects.create(product_key="GONE-1", name="Deleted behind our back")
    first = sync_all(batch_size=1)
    assert (first.created, first.updated, first.removed, first.total) == (2, 0, 1, 2)
    assert sorted(available_keys()) == ["SKU-1", "SKU-2"]

    Product.objects.filter(sku="SKU-2").update(stock=0)  # bulk update: no signals
    again = sync_all()
    assert (again.created, again.updated, again.unchanged, again.removed) == (0, 1, 1, 0)
    assert available_keys() == ["SKU-1"]


def test_products_without_a_usable_key_are_skipped() -> None:
    make_product("SKU-1")
    Product.objects.filter(sku="SKU-1").update(sku="")
    assert (sync_all().total, sync_all().skipped) == (0, 1)
    Product.objects.all().delete()
    make_product("SKU-2", name="K" * 65)
    with product_fields(key="name"):  # a name longer than a catalog key may be
        result = sync_all()
    assert (result.total, result.skipped) == (0, 1)
    assert not CatalogItem.objects.exists()


def test_reco_sync_catalog_command_prints_a_summary(capsys) -> None:  # type: ignore[no-untyped-def]
    make_product("SKU-1")
    CatalogItem.objects.all().delete()
    call_command("reco_sync_catalog", "--batch-size", "1")
    out = capsys.readouterr().out
    assert "1 products synced" in out
    assert "1 products (1 new, 0 updated, 0 unchanged), 0 removed" in out
    assert CatalogItem.objects.filter(product_key="SKU-1").exists()


def test_a_product_the_adapter_cannot_read_is_skipped_not_fatal() -> None:
    with reco_settings(ADAPTER="tests.foundation.adapters.FussyAdapter"):
        make_product("BROKEN")  # saving the product still works
        make_product("SKU-1")
        assert list(CatalogItem.objects.values_list("product_key", flat=True)) == ["SKU-1"]
        result = sync_all()
    assert (result.total, result.skipped) == (1, 1)


def test_renaming_a_brand_or_category_updates_its_products_rows() -> None:
    p = make_product("SKU-1", brand="Acme")
    brand = p.brand
    brand.name = "Acme Outdoor"
    brand.save()
    assert CatalogItem.objects.get(product_key="SKU-1").brand == "Acme Outdoor"
    cat = p.category
    cat.name = "Running shoes"
    cat.save()
    assert CatalogItem.objects.get(product_key="SKU-1").category == "Running shoes"
