from __future__ import annotations

from decimal import Decimal

import pytest

from example_shop.shop.models import Brand, Category, Product


@pytest.fixture
def catalog(db):  # type: ignore[no-untyped-def]
    """Two categories, two brands, five products (one out of stock)."""
    outdoor = Category.objects.create(name="Outdoor & Hiking")
    coffee = Category.objects.create(name="Coffee & Tea")
    nordkap = Brand.objects.create(name="Nordkap")
    roastery = Brand.objects.create(name="Roastery 47")
    rows = [
        ("P1", "Nordkap Alpine Rain Jacket", outdoor, nordkap, "129.99", 4, "waterproof|hiking"),
        ("P2", "Nordkap Trail Daypack", outdoor, nordkap, "59.99", 10, "hiking|lightweight"),
        ("P3", "Nordkap Storm Tent", outdoor, nordkap, "249.99", 0, "camping|waterproof"),
        ("P4", "Roastery 47 Espresso Beans", coffee, roastery, "12.49", 50, "espresso|organic"),
        ("P5", "Roastery 47 Earl Grey", coffee, roastery, "8.99", 20, "loose-leaf"),
    ]
    products = {
        sku: Product.objects.create(sku=sku, name=name, category=c, brand=b, price=Decimal(p), stock=s, tags=t,
                                    description=f"{name}: a fine product.")
        for sku, name, c, b, p, s, t in rows
    }
    return products
