"""The training tests' shop: the example shop's synthetic history, small, ending at UNTIL.

New products get four times the view odds in their first two weeks, so products launched
inside the 14-day holdout sell there and cold recall has something to measure.
"""

from __future__ import annotations

import datetime as dt

from example_shop.shop.synthetic import SyntheticShop, generate

UNTIL = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def make_shop(
    *, n_users: int = 400, n_items: int = 240, days: int = 90, events_per_user: int = 40, seed: int = 1,
    until: dt.datetime = UNTIL,
) -> SyntheticShop:
    return generate(
        products=n_items, shoppers=n_users, events=n_users * events_per_user, days=days, end=until, seed=seed,
        new_product_boost=4.0,
    )
