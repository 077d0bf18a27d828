"""example_shop's reco_app adapter: shoppers are known by their username.

Usernames ("c00042", "shopper") are the customer keys of the seeded history, so imported
events and live events of the same person share one subject.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from reco_app.adapter import ShopAdapter


class ExampleShopAdapter(ShopAdapter):
    def customer_key(self, user: Any) -> str:
        return str(user.get_username())

    def get_user_for_customer_key(self, key: str) -> Any | None:
        User = get_user_model()
        return User._default_manager.filter(**{User.USERNAME_FIELD: key}).first()
