from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from example_shop.shop import cart as cart_service
from example_shop.shop import checkout as checkout_service
from example_shop.shop.forms import CheckoutForm
from example_shop.shop.models import Order


def checkout(request: HttpRequest) -> HttpResponse:
    cart = cart_service.get_cart(request)
    if not cart.lines:
        messages.info(request, "Your cart is empty.")
        return redirect("cart")
    initial = {"email": request.user.email, "full_name": request.user.get_full_name()} if request.user.is_authenticated else {}
    form = CheckoutForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                order = checkout_service.place_order(request, **form.cleaned_data)
            except checkout_service.CheckoutError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(order)
        status = 400
    return render(request, "shop/checkout.html", {"cart": cart, "form": form}, status=status)


def order_confirmation(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("lines__product"), pk=pk)
    if not checkout_service.can_view_order(request, order):
        raise Http404("No such order.")
    order_keys = [line.product.sku for line in order.lines.all()]
    return render(request, "shop/order_confirmation.html", {"order": order, "order_keys": order_keys})
