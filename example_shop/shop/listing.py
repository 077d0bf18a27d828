"""Product listings: category and search queries, sorting, pagination."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from example_shop.shop.models import Category, Product

PER_PAGE = 24
SORTS = {
    "featured": ("Featured", ["-stock", "name"]),
    "price_asc": ("Price: low to high", ["price", "name"]),
    "price_desc": ("Price: high to low", ["-price", "name"]),
    "newest": ("Newest", ["-created_at", "name"]),
    "name": ("Name", ["name"]),
}


def visible() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).select_related("brand", "category")


def in_category(category: Category) -> QuerySet[Product]:
    return visible().filter(category=category)


def search(query: str) -> QuerySet[Product]:
    """Every word must match the name, brand, category or tags."""
    qs = visible()
    words = query.split()
    if not words:
        return qs.none()
    for word in words[:8]:
        qs = qs.filter(
            Q(name__icontains=word) | Q(brand__name__icontains=word)
            | Q(category__name__icontains=word) | Q(tags__icontains=word)
        )
    return qs


def filter_by(qs: QuerySet[Product], brand: str | None, in_stock: bool) -> QuerySet[Product]:
    if brand and brand.isdigit():
        qs = qs.filter(brand_id=int(brand))
    if in_stock:
        qs = qs.filter(stock__gt=0)
    return qs


def brand_facets(qs: QuerySet[Product], limit: int = 15) -> list[dict]:  # type: ignore[type-arg]
    """The most common brands of a listing, with counts (for the filter sidebar)."""
    return list(
        qs.exclude(brand=None).values("brand_id", "brand__name").annotate(n=Count("id")).order_by("-n", "brand__name")[:limit]
    )


def sort_key(value: str | None) -> str:
    return value if value in SORTS else "featured"


def paginate(qs: QuerySet[Product], sort: str, page: str | None) -> Page:
    return Paginator(qs.order_by(*SORTS[sort][1]), PER_PAGE).get_page(page)
