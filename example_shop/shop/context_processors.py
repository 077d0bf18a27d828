from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def shop(request: HttpRequest) -> dict[str, Any]:
    from example_shop.shop import cart
    from example_shop.shop.models import Category

    return {
        "nav_categories": Category.objects.all()[:12],
        "cart_count": cart.count(request) if hasattr(request, "session") else 0,
    }
