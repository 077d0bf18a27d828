from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def shop(request: HttpRequest) -> dict[str, Any]:
    from example_shop.shop.models import Category

    cart = request.session.get("cart", {}) if hasattr(request, "session") else {}
    return {
        "nav_categories": Category.objects.all()[:12],
        "cart_count": sum(int(q) for q in cart.values()),
    }
