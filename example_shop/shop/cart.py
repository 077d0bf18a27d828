"""The session cart: {product id: quantity} in ``request.session["cart"]``.

Every change goes through :func:`add`, :func:`update` or :func:`remove`, so that
add_to_cart / remove_from_cart tracking can be hooked in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest

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
    new = min(product.stock, raw.get(str(product.pk), 0) + quantity)
    raw[str(product.pk)] = new
    _save(request, raw)
    return new


def update(request: HttpRequest, product: Product, quantity: int) -> int:
    """Set a line's quantity (0 removes it; capped at the stock while there is some —
    a sold-out line stays visible and checkout explains why it cannot be bought)."""
    if quantity <= 0:
        remove(request, product)
        return 0
    raw = _raw(request)
    raw[str(product.pk)] = min(quantity, product.stock) if product.stock > 0 else quantity
    _save(request, raw)
    return raw[str(product.pk)]


def remove(request: HttpRequest, product: Product) -> None:
    raw = _raw(request)
    if raw.pop(str(product.pk), None) is not None:
        _save(request, raw)


def clear(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def get_cart(request: HttpRequest) -> Cart:
    raw = _raw(request)
    products = Product.objects.select_related("brand", "category").in_bulk([int(k) for k in raw])
    lines = [CartLine(products[int(k)], int(q)) for k, q in raw.items() if int(k) in products and int(q) > 0]
    return Cart(lines)
