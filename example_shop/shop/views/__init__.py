from example_shop.shop.views.account import account, signup
from example_shop.shop.views.cart import cart_add, cart_detail, cart_remove, cart_update
from example_shop.shop.views.catalog import category, home, product_detail, product_image, search
from example_shop.shop.views.checkout import checkout, order_confirmation

__all__ = [
    "account",
    "cart_add",
    "cart_detail",
    "cart_remove",
    "cart_update",
    "category",
    "checkout",
    "home",
    "order_confirmation",
    "product_detail",
    "product_image",
    "search",
    "signup",
]
