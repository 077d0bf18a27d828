from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings

from example_shop.shop.models import Brand, Category, Product


def reco_settings(**changes: Any) -> override_settings:
    """``override_settings`` of some ``RECO_APP`` keys over the project's own."""
    return override_settings(RECO_APP={**settings.RECO_APP, **changes})


def product_fields(**changes: Any) -> override_settings:
    return reco_settings(PRODUCT_FIELDS={**settings.RECO_APP["PRODUCT_FIELDS"], **changes})


def make_product(sku: str = "SKU-1", *, category: str = "Shoes", brand: str | None = "Acme", **kw: Any) -> Product:
    values: dict[str, Any] = {"name": f"Product {sku}", "price": "10.00", "stock": 5, "tags": "", **kw}
    return Product.objects.create(
        sku=sku,
        category=Category.objects.get_or_create(name=category)[0],
        brand=Brand.objects.get_or_create(name=brand)[0] if brand else None,
        **values,
    )


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path
