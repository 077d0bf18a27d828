from __future__ import annotations

import pytest

from example_shop.shop.models import Brand, Category, Product
from reco_app.models import CatalogItem


@pytest.mark.django_db
def test_saving_a_product_updates_the_catalog_snapshot(client) -> None:  # type: ignore[no-untyped-def]
    cat = Category.objects.create(name="Shoes")
    brand = Brand.objects.create(name="Acme")
    p = Product.objects.create(sku="SKU-1", name="Trail runner", category=cat, brand=brand, price="59.90", stock=3, tags="running|trail")
    item = CatalogItem.objects.get(product_key="SKU-1")
    assert (item.category, item.brand, item.tags, item.in_stock) == ("Shoes", "Acme", ["running", "trail"], True)
    p.stock = 0
    p.save()
    assert CatalogItem.objects.get(product_key="SKU-1").in_stock is False
    p.delete()
    assert not CatalogItem.objects.filter(product_key="SKU-1").exists()
    assert client.get("/").status_code == 200
