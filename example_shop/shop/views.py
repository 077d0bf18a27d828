from __future__ import annotations

import hashlib

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from example_shop.shop.models import Category, Product


def home(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(is_active=True).select_related("brand", "category").order_by("-created_at")[:12]
    return render(request, "shop/home.html", {"products": products})


def category(request: HttpRequest, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    products = cat.products.filter(is_active=True).select_related("brand")[:48]
    return render(request, "shop/listing.html", {"title": cat.name, "products": products, "category": cat})


def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    products = Product.objects.none()
    if q:
        products = Product.objects.filter(is_active=True).filter(
            Q(name__icontains=q) | Q(tags__icontains=q) | Q(brand__name__icontains=q)
        ).select_related("brand")[:48]
    return render(request, "shop/listing.html", {"title": f"Search: {q}", "products": products, "query": q})


def product_detail(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("brand", "category"), sku=sku, is_active=True)
    return render(request, "shop/product.html", {"product": product})


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
