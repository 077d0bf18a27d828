"""A realistic synthetic shop history for the segment benchmark and the feature comparison.

Shoppers follow one of five behaviours (loyal buyers, bargain hunters, browsers, cart
abandoners, lapsed customers), each with one or two favourite categories, a price level
and an active period, so RFM, lifecycle and cluster segments have something to find.
"""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np

CATEGORIES = ["Shoes", "Bags", "Hats", "Dresses", "Shirts", "Jackets", "Watches", "Jewellery", "Sports", "Books", "Toys", "Home"]
# name: (share, sessions/month, views/session, cart prob, buy-if-cart prob, price level, active-from, active-to (days ago))
BEHAVIOURS = {
    "loyal": (0.20, 2.0, 5, 0.6, 0.8, 1.4, 365, 0),
    "bargain": (0.20, 1.5, 6, 0.5, 0.6, 0.6, 300, 0),
    "browser": (0.30, 1.5, 4, 0.1, 0.2, 1.0, 120, 0),
    "abandoner": (0.15, 2.0, 4, 0.8, 0.1, 1.0, 200, 0),
    "lapsed": (0.15, 1.0, 4, 0.5, 0.6, 1.0, 365, 150),
}


def catalog(products_per_category: int = 50, seed: int = 1) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for c, name in enumerate(CATEGORIES):
        base = 20 + 15 * c % 120
        prices = np.round(base * rng.lognormal(0, 0.5, products_per_category), 2)
        rows += [(f"{name[:3].upper()}-{i:03d}", name, float(p)) for i, p in enumerate(prices)]
    return rows


def events(n_shoppers: int, now: dt.datetime, seed: int = 0, products_per_category: int = 50) -> list[dict]:
    """Event rows (dicts of Event fields), about 45 per shopper."""
    rng = np.random.default_rng(seed)
    items = catalog(products_per_category)
    by_cat = {c: [(k, p) for k, cat, p in items if cat == c] for c in CATEGORIES}
    names = list(BEHAVIOURS)
    kinds = rng.choice(len(names), n_shoppers, p=[BEHAVIOURS[n][0] for n in names])
    out: list[dict] = []
    for s in range(n_shoppers):
        _, per_month, views, p_cart, p_buy, price_level, start, end = BEHAVIOURS[names[kinds[s]]]
        subject = f"c{s:05d}" if rng.random() < 0.8 else f"anon:v{s:05d}"
        favourites = rng.choice(len(CATEGORIES), 2, replace=False)
        first = end + (start - end) * rng.uniform(0.3, 1.0)
        n_sessions = max(1, rng.poisson(per_month * (first - end) / 30.0))
        for n, day in enumerate(np.sort(rng.uniform(end, first, n_sessions))[::-1]):
            t = now - dt.timedelta(days=float(day))
            session = f"{subject}-{n}"
            cat = CATEGORIES[favourites[0] if rng.random() < 0.7 else (favourites[1] if rng.random() < 0.6 else rng.integers(len(CATEGORIES)))]
            pool = sorted(by_cat[cat], key=lambda kp: kp[1])
            # price level picks from the cheap or the expensive end of the category
            centre = min(len(pool) - 1, int(len(pool) * min(price_level / 2, 0.95)))
            picks = [pool[int(np.clip(rng.normal(centre, len(pool) / 6), 0, len(pool) - 1))] for _ in range(max(1, rng.poisson(views)))]
            for key, _price in picks:
                t += dt.timedelta(seconds=float(rng.exponential(60)))
                out.append(_row(subject, "product_view", key, None, session, t))
            if rng.random() < p_cart:
                carted = picks[-1 - int(rng.integers(min(2, len(picks)))) :]
                for key, _price in carted:
                    t += dt.timedelta(seconds=float(rng.exponential(30)))
                    out.append(_row(subject, "add_to_cart", key, None, session, t))
                if rng.random() < p_buy:
                    t += dt.timedelta(seconds=float(rng.exponential(120)))
                    out += [_row(subject, "purchase", key, price, session, t) for key, price in carted]
    return [r for r in out if r["timestamp"] <= now]


def _row(subject: str, event_type: str, product: str, value: float | None, session: str, t: dt.datetime) -> dict:
    return {"event_id": uuid.uuid4(), "subject": subject, "event_type": event_type, "product_key": product, "value": value, "session_id": session, "timestamp": t, "consent": "granted", "source": "import"}


def load(n_shoppers: int, now: dt.datetime, seed: int = 0) -> int:
    """Write the catalog snapshot and the events into the database; returns the event count."""
    from reco_app.models import CatalogItem, Event

    CatalogItem.objects.bulk_create([CatalogItem(product_key=k, name=k, category=c, price=p) for k, c, p in catalog()], ignore_conflicts=True)
    rows = events(n_shoppers, now, seed)
    for i in range(0, len(rows), 5000):
        Event.objects.bulk_create([Event(**r) for r in rows[i : i + 5000]])
    return len(rows)
