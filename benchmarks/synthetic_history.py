"""The segment benchmark's and the feature comparison's history: the example shop's synthetic
history (``example_shop.shop.synthetic``) over a year, about 45 events per shopper.

Shoppers fall into groups that behave differently (loyal, regular, browsers, cart
abandoners, lapsed customers who stop visiting part-way), so RFM, lifecycle and cluster
segments have something to find.
"""

from __future__ import annotations

import datetime as dt

from example_shop.shop.seed_history import Behaviour
from example_shop.shop.synthetic import generate

PRODUCTS = 600
DAYS = 365
EVENTS_PER_SHOPPER = 45
BEHAVIOURS = {
    "loyal": Behaviour(0.20, activity=2.0, cart=1.5, checkout=0.8),
    "regular": Behaviour(0.35),
    "browser": Behaviour(0.20, cart=0.3, checkout=0.3),
    "abandoner": Behaviour(0.10, cart=2.0, checkout=0.1),
    "lapsed": Behaviour(0.15, leaves=(0.2, 0.6)),
}


def load(n_shoppers: int, now: dt.datetime, seed: int = 0) -> int:
    """Write the catalog snapshot and the events into the database; returns the event count."""
    shop = generate(
        products=PRODUCTS, shoppers=n_shoppers, events=EVENTS_PER_SHOPPER * n_shoppers, days=DAYS, end=now,
        seed=seed, behaviours=BEHAVIOURS,
    )
    return shop.save(source="import")
