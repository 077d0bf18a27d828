"""A shop adapter subclass used by the tests (named in RECO_APP["ADAPTER"])."""

from __future__ import annotations

from typing import Any

from reco_app.adapter import ShopAdapter


class HouseBrandAdapter(ShopAdapter):
    """Products without a brand are sold under the shop's own brand."""

    def product_brand(self, product: Any) -> str:
        return super().product_brand(product) or "House brand"

    def customer_key(self, user: Any) -> str:
        return f"cust-{user.pk}"


class FussyAdapter(ShopAdapter):
    """Fails on one product, as a buggy custom adapter might."""

    def product_url(self, product: Any) -> str:
        if product.sku == "BROKEN":
            raise RuntimeError("no URL for this one")
        return super().product_url(product)
