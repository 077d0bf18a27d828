from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from example_shop.shop import cart as cart_service
from example_shop.shop.forms import AddToCartForm, UpdateCartForm
from example_shop.shop.models import Product


def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/cart.html", {"cart": cart_service.get_cart(request)})


@require_POST
def cart_add(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku, is_active=True)
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        return render(request, "shop/product.html", {"product": product, "form": form}, status=400)
    try:
        cart_service.add(request, product, form.cleaned_data["quantity"])
    except cart_service.CartError as exc:
        messages.error(request, str(exc))
        return redirect(product)
    messages.success(request, f"Added {product.name} to your cart.")
    return redirect("cart")


@require_POST
def cart_update(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    form = UpdateCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please enter a quantity between 0 and 99.")
        return redirect("cart")
    cart_service.update(request, product, form.cleaned_data["quantity"])
    return redirect("cart")


@require_POST
def cart_remove(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    cart_service.remove(request, product)
    messages.info(request, f"Removed {product.name} from your cart.")
    return redirect("cart")
