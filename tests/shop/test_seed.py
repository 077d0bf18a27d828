from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict

import numpy as np
import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from example_shop.shop.models import Order, Product
from example_shop.shop.seed_catalog import generate_catalog
from example_shop.shop.seed_history import make_shoppers
from example_shop.shop.seed_words import CATEGORIES
from example_shop.shop.seeding import SeedParams, seed_shop
from reco_app.adapter import get_adapter
from reco_app.models import CatalogItem, Event

pytestmark = pytest.mark.django_db
END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
CATEGORY_NAMES = [c.name for c in CATEGORIES]
BRAND_NAMES = [b for c in CATEGORIES for b in c.brands]  # the order seed_catalog gives brands


def _digest() -> str:
    h = hashlib.sha256()
    for row in Product.objects.order_by("sku").values_list(
        "sku", "name", "category__name", "brand__name", "price", "stock", "tags", "description", "created_at"
    ):
        h.update(repr(row).encode())
    for row in Event.objects.order_by("event_id").values_list(
        "event_id", "subject", "product_key", "event_type", "value", "session_id", "context", "timestamp"
    ):
        h.update(repr(row).encode())
    return h.hexdigest()


def test_same_seed_gives_identical_data_and_another_seed_differs() -> None:
    tiny = {"products": 150, "shoppers": 150, "events": 3000, "end": END}
    seed_shop(SeedParams(seed=7, **tiny))
    first = _digest()
    count = Event.objects.count()
    seed_shop(SeedParams(seed=7, **tiny), flush=True)
    assert _digest() == first
    assert Event.objects.count() == count >= 3000  # the flush left no duplicates behind
    seed_shop(SeedParams(seed=8, **tiny), flush=True)
    assert _digest() != first


def test_default_size_plans_the_required_volume() -> None:
    d = SeedParams()
    assert (d.products, d.shoppers, d.events, d.days) == (2000, 5000, 200_000, 180)
    rng = np.random.default_rng(d.seed)
    cat = generate_catalog(rng, d.products, d.days)
    assert len(set(cat.sku)) == 2000 and len(cat.categories) >= 10 and len(cat.brands) >= 50
    shoppers = make_shoppers(rng, cat, d.shoppers, d.events, d.days)
    assert len(shoppers) == 5000 and sum(s.budget for s in shoppers) >= 200_000


def test_small_seed_is_a_realistic_shop() -> None:
    params = SeedParams.small(end=END)
    result = seed_shop(params)
    start, end = result.window
    assert end == END and start == END - dt.timedelta(days=180)

    # sizes: what was asked for, and the snapshot is in sync
    assert Product.objects.count() == CatalogItem.objects.count() == 300
    assert get_user_model().objects.filter(username__regex=r"^c\d{5}$").count() == 299  # + "shopper"
    events = list(Event.objects.values_list("subject", "product_key", "event_type", "value", "timestamp", "session_id"))
    assert len(events) >= params.events
    types = Counter(e[2] for e in events)
    assert set(types) == {"product_view", "add_to_cart", "remove_from_cart", "purchase", "rating", "search", "wishlist_add"}
    # a funnel: views > carts > purchases
    assert types["product_view"] > 4 * types["add_to_cart"] > 4 * types["purchase"] / 2 > 0
    assert all(start <= e[4] < end for e in events)
    assert Event.objects.exclude(consent="imported").count() == 0
    assert Event.objects.exclude(source="seed").count() == 0
    assert Event.objects.filter(user__isnull=True).count() == 0
    assert Product.objects.filter(stock=0).exists()

    # cold products: launched after most of the history, with little of it
    ts = sorted(e[4] for e in events)
    late_cut = ts[int(0.85 * len(ts))]
    cold = set(Product.objects.filter(created_at__gte=late_cut).values_list("sku", flat=True))
    assert len(cold) >= 0.05 * 300
    per_product = Counter(e[1] for e in events if e[1])
    assert np.mean([per_product[s] for s in cold]) < 0.5 * np.mean([per_product[s] for s in per_product if s not in cold])

    # trending products: a much larger share of the views in the last three weeks
    recent = end - dt.timedelta(days=21)
    views = [(e[1], e[4] >= recent) for e in events if e[2] == "product_view"]
    trending = set(result.trending)
    assert trending

    def share(late: bool) -> float:
        return sum(1 for sku, lt in views if lt == late and sku in trending) / sum(1 for _, lt in views if lt == late)

    assert share(True) > 2 * share(False)

    # late shoppers: whose first event falls in the last fifth of the window
    first_seen: dict[str, dt.datetime] = {}
    for subject, *_rest, t, _sid in events:
        first_seen[subject] = min(t, first_seen.get(subject, t))
    late = [s for s, t in first_seen.items() if t >= start + dt.timedelta(days=144)]
    assert len(late) >= 0.05 * len(first_seen)
    assert 0 < result.late_shoppers <= len(late)  # arrived late ⇒ first seen late


def test_tastes_are_learnable() -> None:
    result = seed_shop(SeedParams.small(end=END))
    category_of = dict(Product.objects.values_list("sku", "category__name"))
    brand_of = dict(Product.objects.values_list("sku", "brand__name"))
    share = Counter(category_of.values())
    bought: dict[str, list[str]] = defaultdict(list)
    for subject, sku in Event.objects.filter(event_type="purchase").values_list("subject", "product_key"):
        bought[subject].append(sku)
    hits, chance, brand_hits, brand_chance = [], [], [], []
    for key, skus in bought.items():
        if len(skus) < 3:
            continue
        taste = result.tastes[key]
        liked = {CATEGORY_NAMES[c] for c in taste.categories}
        hits.append(np.mean([category_of[s] in liked for s in skus]))
        chance.append(sum(share[c] for c in liked) / len(category_of))
        fav_brands = {BRAND_NAMES[b] for b in taste.brands}
        brand_hits.append(np.mean([brand_of[s] in fav_brands for s in skus]))
        brand_chance.append(sum(brand_of[s] in fav_brands for s in brand_of) / len(brand_of))
    assert len(hits) >= 30
    assert np.mean(hits) > 0.8 and np.mean(hits) > 3 * np.mean(chance)
    assert np.mean(brand_hits) > 3 * np.mean(brand_chance)


def test_command_seeds_logs_in_demo_users_and_refuses_to_reseed(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("shop_seed", "--small", "--seed", "3", "--end", "2026-06-01")
    out = capsys.readouterr().out
    assert "300 products" in out and "arrived late" in out and "cold" in out
    shopper = authenticate(username="shopper", password="shopper123")
    admin = authenticate(username="admin", password="admin")
    assert shopper is not None and admin is not None and admin.is_superuser
    # the demo shopper is a seeded shopper with one clear taste and an order history
    assert get_adapter().customer_key(shopper) == "shopper"
    assert get_adapter().get_user_for_customer_key("shopper") == shopper
    purchases = Event.objects.filter(subject="shopper", event_type="purchase")
    assert purchases.count() >= 3 and Order.objects.filter(user=shopper).exists()
    cats = Counter(Product.objects.get(sku=k).category.name for k in purchases.values_list("product_key", flat=True))
    assert cats.most_common(1)[0][0] == "Outdoor & Hiking" and cats.most_common(1)[0][1] >= 0.8 * sum(cats.values())
    with pytest.raises(CommandError, match="--flush"):
        call_command("shop_seed", "--small")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("shop_seed", "--small", "--end", "June")


def test_if_empty_skips_a_shop_that_has_products(capsys, catalog) -> None:  # type: ignore[no-untyped-def]
    call_command("shop_seed", "--small", "--if-empty")
    assert "already has 5 products" in capsys.readouterr().out
    assert not Event.objects.exists()


def test_demo_users_command_resets_passwords(db) -> None:  # type: ignore[no-untyped-def]
    call_command("shop_demo_users")
    user = get_user_model().objects.get(username="shopper")
    user.set_password("changed")
    user.save()
    call_command("shop_demo_users")
    assert authenticate(username="shopper", password="shopper123") is not None
