from __future__ import annotations

import hashlib

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

import reco_app
from example_shop.shop import listing
from example_shop.shop.forms import AddToCartForm
from example_shop.shop.models import Category, Product


def home(request: HttpRequest) -> HttpResponse:
    products = listing.visible().filter(stock__gt=0)
    return render(request, "shop/home.html", {
        "categories": Category.objects.annotate(n=Count("products")).filter(n__gt=0),
        "new_arrivals": products.order_by("-created_at")[:8],
        "deals": products.filter(price__lt=25).order_by("-stock", "name")[:8],
    })


def _listing(request: HttpRequest, qs, template_ctx: dict) -> HttpResponse:  # type: ignore[no-untyped-def]
    sort = listing.sort_key(request.GET.get("sort"))
    brand, in_stock = request.GET.get("brand", ""), request.GET.get("in_stock") == "1"
    page = listing.paginate(listing.filter_by(qs, brand, in_stock), sort, request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "shop/listing.html", {
        **template_ctx, "page": page, "products": page.object_list, "sort": sort,
        "sorts": [(k, label) for k, (label, _) in listing.SORTS.items()],
        "brands": listing.brand_facets(qs), "brand": brand, "in_stock": in_stock,
        "querystring": params.urlencode(),
    })


def category(request: HttpRequest, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    return _listing(request, listing.in_category(cat), {"title": cat.name, "category": cat})


def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    if q and request.GET.get("page", "1") == "1":
        reco_app.track(request, "search", query=q)
    return _listing(request, listing.search(q), {"title": f"Results for “{q}”" if q else "Search", "query": q})


def product_detail(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("brand", "category"), sku=sku, is_active=True)
    return render(request, "shop/product.html", {"product": product, "form": AddToCartForm()})


def product_image(request: HttpRequest, sku: str) -> HttpResponse:
    """A deterministic SVG placeholder, so the demo needs no image files."""
    digest = hashlib.sha1(sku.encode()).hexdigest()
    hue = int(digest[:2], 16) * 360 // 256
    label = sku[-6:]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        f'<rect width="320" height="240" fill="hsl({hue},55%,88%)"/>'
        f'<circle cx="160" cy="110" r="56" fill="hsl({hue},50%,62%)"/>'
        f'<text x="160" y="212" font-family="sans-serif" font-size="18" text-anchor="middle" fill="hsl({hue},40%,30%)">{label}</text>'
        f"</svg>"
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response
