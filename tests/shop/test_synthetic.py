from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np
import pytest

from example_shop.shop.seed_history import NEW_DAYS, Behaviour
from example_shop.shop.synthetic import SyntheticShop, generate
from reco_app.models import CatalogItem, Event

END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _shop(**options: Any) -> SyntheticShop:
    return generate(products=150, shoppers=200, events=6000, days=180, end=END, seed=5, **options)


def test_behaviours_change_how_groups_shop_and_keep_their_tastes() -> None:
    plain = _shop()
    groups = {"lapsed": Behaviour(0.5, leaves=(0.2, 0.4)), "abandoner": Behaviour(0.5, cart=2.0, checkout=0.05)}
    grouped = _shop(behaviours=groups)
    taste = [[(s.categories, s.brands, s.level, s.arrival_day) for s in shop.history.shoppers] for shop in (plain, grouped)]
    assert taste[0] == taste[1]  # the behaviours are drawn after everything else

    shoppers = grouped.history.shoppers
    kind = [s.behaviour for s in shoppers]
    assert set(kind) == {"lapsed", "abandoner"}
    last = np.full(len(shoppers), -1.0)
    counts: dict[str, Counter[str]] = {"lapsed": Counter(), "abandoner": Counter()}
    for si, _pj, etype, _value, _sid, day, _ctx in grouped.history.events:
        if etype != "rating":  # a rating comes days after the purchase
            last[si] = max(last[si], day)
        counts[kind[si]][etype] += 1
    lapsed = [i for i, k in enumerate(kind) if k == "lapsed"]
    assert all(last[i] < shoppers[i].leave_day + 1 for i in lapsed)  # a session lasts minutes
    assert np.median([180 - last[i] for i in lapsed]) > 60
    per_cart = {k: c["purchase"] / c["add_to_cart"] for k, c in counts.items()}
    assert per_cart["abandoner"] < 0.3 * per_cart["lapsed"]


def test_new_product_boost_sells_products_in_their_first_weeks() -> None:
    def new_share(boost: float) -> float:
        shop = _shop(new_product_boost=boost)
        launch = shop.plan.launch_day
        views = [(pj, day) for _si, pj, etype, *_rest, day, _ctx in shop.history.events if etype == "product_view"]
        return np.mean([day - launch[pj] < NEW_DAYS for pj, day in views])

    assert new_share(4.0) > 2 * new_share(1.0)


@pytest.mark.django_db
def test_save_writes_the_catalog_snapshot_and_every_event() -> None:
    shop = _shop()
    assert shop.save() == len(shop.history.events) == Event.objects.count()
    assert CatalogItem.objects.count() == 150
    stored = Counter(Event.objects.values_list("event_type", flat=True))
    assert stored == Counter(e[2] for e in shop.events)
    assert not Event.objects.filter(event_type="search").exclude(product_key="").exists()
    first = shop.events[0]
    assert Event.objects.filter(subject=first[0], product_key=first[1], timestamp=first[4]).exists()
    assert all(shop.start <= e[4] < END for e in shop.events)
    assert len(shop.event_arrays()) == sum(1 for e in shop.events if e[1])
