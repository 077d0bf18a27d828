"""Checkout: turn the session cart into an Order, decrement stock, announce the order."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from example_shop.shop import cart as cart_service
from example_shop.shop.models import Order, OrderLine, Product
from reco_app.signals import order_placed

RECENT_ORDERS_KEY = "recent_orders"


class CheckoutError(Exception):
    pass


def place_order(request: HttpRequest, *, email: str, full_name: str = "", address: str = "") -> Order:
    """Create the order from the cart; ``order_placed`` is sent once the order is committed."""
    cart = cart_service.get_cart(request)
    if not cart.lines:
        raise CheckoutError("Your cart is empty.")
    user: Any = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        stock = dict(
            Product.objects.select_for_update().filter(pk__in=[line.product.pk for line in cart.lines]).values_list("pk", "stock")
        )
        short = [line.product.name for line in cart.lines if stock.get(line.product.pk, 0) < line.quantity]
        if short:
            raise CheckoutError("Not enough stock for: " + ", ".join(short) + ".")
        order = Order.objects.create(
            user=user, email=email or (user.email if user else ""), full_name=full_name,
            address=address, total=cart.total,
        )
        OrderLine.objects.bulk_create(
            [OrderLine(order=order, product=line.product, quantity=line.quantity, unit_price=line.unit_price) for line in cart.lines]
        )
        for line in cart.lines:  # rows are locked: no lost updates
            line.product.stock = stock[line.product.pk] - line.quantity
            line.product.save(update_fields=["stock"])  # post_save: the catalog snapshot sees it
        lines = [(line.product, line.quantity, line.unit_price) for line in cart.lines]
        transaction.on_commit(
            lambda: order_placed.send(sender=Order, request=request, order=order, lines=lines, user=user)
        )
    cart_service.clear(request)
    request.session[RECENT_ORDERS_KEY] = [order.pk, *request.session.get(RECENT_ORDERS_KEY, [])][:10]
    return order


def can_view_order(request: HttpRequest, order: Order) -> bool:
    if request.user.is_authenticated and order.user_id == request.user.pk:
        return True
    return order.pk in request.session.get(RECENT_ORDERS_KEY, [])
