"""The session cart: {product id: quantity} in ``request.session["cart"]``.

Every change goes through :func:`add`, :func:`update` or :func:`remove`, which also record
add_to_cart / remove_from_cart events with ``reco_app.track`` (stored only when the
visitor's consent allows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest

import reco_app
from example_shop.shop.models import Product

SESSION_KEY = "cart"
FREE_SHIPPING_FROM = Decimal("50.00")
SHIPPING = Decimal("4.95")


class CartError(ValueError):
    pass


@dataclass
class CartLine:
    product: Product
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.product.price

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


@dataclass
class Cart:
    lines: list[CartLine]

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def shipping(self) -> Decimal:
        return Decimal("0.00") if not self.lines or self.subtotal >= FREE_SHIPPING_FROM else SHIPPING

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    @property
    def product_keys(self) -> list[str]:
        return [line.product.sku for line in self.lines]


def _raw(request: HttpRequest) -> dict[str, int]:
    return dict(request.session.get(SESSION_KEY, {}))


def _save(request: HttpRequest, raw: dict[str, int]) -> None:
    request.session[SESSION_KEY] = raw


def count(request: HttpRequest) -> int:
    return sum(int(q) for q in _raw(request).values())


def add(request: HttpRequest, product: Product, quantity: int = 1) -> int:
    """Add to the cart (capped at the stock); returns the new quantity of that product."""
    if not product.is_active or product.stock <= 0:
        raise CartError(f"{product.name} is out of stock.")
    if quantity < 1:
        raise CartError("Quantity must be at least 1.")
    raw = _raw(request)
    old = raw.get(str(product.pk), 0)
    new = min(product.stock, old + quantity)
    raw[str(product.pk)] = new
    _save(request, raw)
    if new > old:
        reco_app.track(request, "add_to_cart", product, new - old)
    return new


def update(request: HttpRequest, product: Product, quantity: int) -> int:
    """Set a line's quantity (0 removes it; capped at the stock while there is some —
    a sold-out line stays visible and checkout explains why it cannot be bought)."""
    if quantity <= 0:
        remove(request, product)
        return 0
    raw = _raw(request)
    old = raw.get(str(product.pk), 0)
    raw[str(product.pk)] = new = min(quantity, product.stock) if product.stock > 0 else quantity
    _save(request, raw)
    if new > old:
        reco_app.track(request, "add_to_cart", product, new - old)
    elif new < old:
        reco_app.track(request, "remove_from_cart", product, old - new)
    return new


def remove(request: HttpRequest, product: Product) -> None:
    raw = _raw(request)
    old = raw.pop(str(product.pk), None)
    if old is not None:
        _save(request, raw)
        reco_app.track(request, "remove_from_cart", product, old)


def clear(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def get_cart(request: HttpRequest) -> Cart:
    raw = _raw(request)
    products = Product.objects.select_related("brand", "category").in_bulk([int(k) for k in raw])
    lines = [CartLine(products[int(k)], int(q)) for k, q in raw.items() if int(k) in products and int(q) > 0]
    return Cart(lines)
