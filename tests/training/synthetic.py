"""A small deterministic shop history: shoppers with category/brand tastes, some products
launched late (inside the holdout), for the training tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np

from reco_app.datasets.events import CatalogArrays, EventArrays

WORDS = {
    "shoes": "running trail cushioned sole lace grip",
    "coats": "waterproof warm hood insulated zip winter",
    "bags": "leather strap pocket travel laptop carry",
    "watches": "steel dial strap water resistant chrono",
    "hats": "wool brim knit warm cap sun",
    "socks": "cotton ankle cushioned breathable merino pair",
}
UNTIL = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@dataclass
class Shop:
    catalog: list[dict]
    events: list[tuple]  # (subject, product_key, event_type, value, timestamp)

    def catalog_arrays(self) -> CatalogArrays:
        return CatalogArrays.from_rows(self.catalog)

    def event_arrays(self) -> EventArrays:
        return EventArrays.from_rows(self.events)


def make_shop(
    *, n_users: int = 300, n_items: int = 240, days: int = 90, holdout_days: int = 14,
    late_share: float = 0.1, events_per_user: int = 40, seed: int = 7, until: dt.datetime = UNTIL,
) -> Shop:
    rng = np.random.default_rng(seed)
    cats = list(WORDS)
    brands = [f"brand{b}" for b in range(8)]
    start = until - dt.timedelta(days=days)
    cutoff = until - dt.timedelta(days=holdout_days)
    catalog = []
    for i in range(n_items):
        cat = cats[i % len(cats)]
        brand = brands[(i // len(cats)) % len(brands)]
        late = rng.random() < late_share
        launched = cutoff + dt.timedelta(days=float(rng.uniform(0.5, 3))) if late else start - dt.timedelta(days=30)
        words = WORDS[cat].split()
        catalog.append({
            "product_key": f"P{i:04d}", "category": cat, "brand": brand,
            "price": float(round((cats.index(cat) + 1) * 10 + rng.uniform(0, 20), 2)),
            "tags": [cat, words[0]], "description": " ".join(rng.choice(words, 5)) + f" {brand}",
            "launched_at": launched, "available": True,
        })
    cat_items = {c: [r for r in catalog if r["category"] == c] for c in cats}
    events: list[tuple] = []
    for u in range(n_users):
        subject = f"u{u:04d}"
        taste = rng.choice(cats, 2, replace=False)
        fav_brand = brands[rng.integers(len(brands))]
        for _ in range(events_per_user):
            when = start + dt.timedelta(seconds=float(rng.uniform(0, days * 86400)))
            cat = taste[0] if rng.random() < 0.6 else taste[1] if rng.random() < 0.85 else rng.choice(cats)
            items = [r for r in cat_items[cat] if r["launched_at"] <= when]
            if not items:
                continue
            pref = np.array([3.0 if r["brand"] == fav_brand else 1.0 for r in items])
            pref *= np.array([4.0 if r["launched_at"] > cutoff else 1.0 for r in items])  # new products sell
            item = items[rng.choice(len(items), p=pref / pref.sum())]
            key = item["product_key"]
            events.append((subject, key, "product_view", None, when))
            if rng.random() < 0.35:
                events.append((subject, key, "add_to_cart", None, when + dt.timedelta(minutes=2)))
                if rng.random() < 0.5:
                    events.append((subject, key, "purchase", None, when + dt.timedelta(minutes=9)))
    return Shop(catalog, events)


def save_shop(shop: Shop, consent: str = "granted") -> None:
    """Write the shop into CatalogItem and Event rows."""
    from reco_app.models import CatalogItem, Event

    CatalogItem.objects.bulk_create([
        CatalogItem(
            product_key=r["product_key"], name=r["product_key"], category=r["category"], brand=r["brand"],
            price=r["price"], tags=r["tags"], description=r["description"], launched_at=r["launched_at"],
        )
        for r in shop.catalog
    ])
    Event.objects.bulk_create(
        [
            Event(event_id=uuid.uuid4(), subject=s, product_key=p, event_type=t, value=v, timestamp=ts, consent=consent)
            for s, p, t, v, ts in shop.events
        ],
        batch_size=5000,
    )
