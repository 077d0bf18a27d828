"""``shop_seed``: a synthetic catalog and a simulated shopping history, deterministic by seed.

The catalog comes from :mod:`example_shop.shop.seed_catalog`, the shoppers and their
events from :mod:`example_shop.shop.seed_history` (both pure numpy on one
``numpy.random.Generator``; tests and benchmarks get the same data through
:mod:`example_shop.shop.synthetic`); this module writes them into the shop and syncs the
reco_app catalog snapshot once at the end (bulk inserts send no per-row signals, and
``--flush`` deletes with the catalog signals paused).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

from example_shop.shop.demo_users import ensure_demo_users
from example_shop.shop.models import Brand, Category, Order, OrderLine, Product
from example_shop.shop.seed_catalog import CatalogPlan, generate_catalog
from example_shop.shop.seed_history import DEMO_SHOPPER, HistoryPlan, Shopper, simulate
from example_shop.shop.synthetic import at, event_writer
from reco_app.catalog import sync_all
from reco_app.models import CatalogItem, Event
from reco_app.models.events import ConsentBasis

SOURCE = "seed"
# Seeded shoppers cannot log in; this marker (an unusable password) also lets --flush find them.
SEEDED_PASSWORD = "!seeded-shopper"
BATCH = 5000

Progress = Callable[[str], None]


class SeedError(Exception):
    pass


@dataclass(frozen=True)
class SeedParams:
    products: int = 2000
    shoppers: int = 5000
    events: int = 200_000
    days: int = 180
    seed: int = 42
    end: dt.datetime | None = None  # end of the history window; default today 00:00 UTC

    @classmethod
    def small(cls, **overrides: Any) -> SeedParams:
        """The preset for tests: 300 products, 300 shoppers, ~10k events."""
        return cls(**{"products": 300, "shoppers": 300, "events": 10_000, **overrides})

    def window(self) -> tuple[dt.datetime, dt.datetime]:
        end = self.end or dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return end - dt.timedelta(days=self.days), end


@dataclass
class SeedResult:
    params: SeedParams
    window: tuple[dt.datetime, dt.datetime]
    categories: int = 0
    brands: int = 0
    products: int = 0
    cold_products: int = 0
    out_of_stock: int = 0
    trending: list[str] = field(default_factory=list)  # product keys that surge at the end
    shoppers: int = 0
    late_shoppers: int = 0
    events: int = 0
    event_counts: dict[str, int] = field(default_factory=dict)
    tastes: dict[str, Shopper] = field(default_factory=dict)


def _quiet(msg: str) -> None:
    pass


def seed_shop(params: SeedParams, *, flush: bool = False, progress: Progress = _quiet) -> SeedResult:
    if Product.objects.exists() and not flush:
        raise SeedError("the shop already has products; pass --flush to replace them")
    rng = np.random.default_rng(params.seed)
    start, end = params.window()
    result = SeedResult(params=params, window=(start, end))
    with transaction.atomic():
        if flush:
            progress("flushing the previous catalog, orders, seeded shoppers and seeded events")
            flush_shop()
        progress(f"generating {params.products} products")
        catalog = generate_catalog(rng, params.products, params.days)
        _write_catalog(catalog, start, result)
        progress(f"simulating {params.shoppers} shoppers (~{params.events} events over {params.days} days)")
        history = simulate(rng, catalog, params.shoppers, params.events, params.days)
        user_ids = _write_shoppers(history, start, result)
        _write_events(rng, catalog, history, user_ids, start, result, progress)
        _write_demo_orders(catalog, history, user_ids, start)
    progress("syncing the reco_app catalog snapshot")
    sync_all()
    ensure_demo_users()
    return result


@contextmanager
def catalog_signals_paused() -> Iterator[None]:
    """Bulk deletes without one snapshot query per product (sync_all runs afterwards)."""
    from reco_app import signals

    post_save.disconnect(sender=Product, dispatch_uid="reco_app_catalog_save")
    post_delete.disconnect(sender=Product, dispatch_uid="reco_app_catalog_delete")
    try:
        yield
    finally:
        post_save.connect(signals._on_save, sender=Product, dispatch_uid="reco_app_catalog_save")
        post_delete.connect(signals._on_delete, sender=Product, dispatch_uid="reco_app_catalog_delete")


def flush_shop() -> None:
    with catalog_signals_paused():
        OrderLine.objects.all().delete()
        Order.objects.all().delete()
        Product.objects.all().delete()
        Brand.objects.all().delete()
        Category.objects.all().delete()
        CatalogItem.objects.all().delete()  # every product is gone
    Event.objects.filter(source=SOURCE).delete()
    get_user_model().objects.filter(password=SEEDED_PASSWORD).delete()


def _write_catalog(cat: CatalogPlan, start: dt.datetime, result: SeedResult) -> None:
    cats = Category.objects.bulk_create([Category(name=n, slug=_slug(n)) for n in cat.categories])
    brands = Brand.objects.bulk_create([Brand(name=n) for n in cat.brands])
    products = [
        Product(
            sku=cat.sku[i], name=cat.name[i], category_id=cats[cat.category[i]].pk,
            brand_id=brands[cat.brand[i]].pk, price=Decimal(f"{cat.price[i]:.2f}"),
            stock=int(cat.stock[i]), tags="|".join(cat.product_tags[i]),
            description=cat.description[i], created_at=at(start, float(cat.launch_day[i])),
        )
        for i in range(len(cat.sku))
    ]
    Product.objects.bulk_create(products, batch_size=BATCH)
    result.categories, result.brands, result.products = len(cats), len(brands), len(products)
    result.cold_products = int(cat.cold.sum())
    result.out_of_stock = int((cat.stock == 0).sum())
    result.trending = [cat.sku[i] for i in np.flatnonzero(cat.trending)]


def _slug(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)


def _write_shoppers(history: HistoryPlan, start: dt.datetime, result: SeedResult) -> dict[str, int]:
    User = get_user_model()
    keys = [s.key for s in history.shoppers]
    existing = set(User.objects.filter(username__in=keys).values_list("username", flat=True))
    new = [
        User(username=s.key, password=SEEDED_PASSWORD, date_joined=at(start, s.arrival_day))
        for s in history.shoppers
        if s.key not in existing
    ]
    User.objects.bulk_create(new, batch_size=BATCH)
    result.shoppers = len(history.shoppers)
    result.late_shoppers = sum(s.late for s in history.shoppers)
    result.tastes = {s.key: s for s in history.shoppers}
    ids: dict[str, int] = {}
    for i in range(0, len(keys), BATCH):
        ids.update(User.objects.filter(username__in=keys[i : i + BATCH]).values_list("username", "id"))
    return ids


def _write_events(
    rng: np.random.Generator, cat: CatalogPlan, history: HistoryPlan, user_ids: dict[str, int],
    start: dt.datetime, result: SeedResult, progress: Progress,
) -> None:
    raw = rng.bytes(16 * len(history.events))
    keys = [s.key for s in history.shoppers]
    now = dt.datetime.now(dt.UTC)
    counts: Counter[str] = Counter()
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        write = event_writer(cursor)
        for n, (si, pj, etype, value, sid, day, ctx) in enumerate(history.events):
            key = keys[si]
            rows.append((
                uuid.UUID(bytes=raw[16 * n : 16 * n + 16], version=4), key, user_ids.get(key), "",
                cat.sku[pj] if pj >= 0 else "", etype, value, sid, ctx, ConsentBasis.IMPORTED.value,
                SOURCE, at(start, day), now,
            ))
            counts[etype] += 1
            if len(rows) >= BATCH:
                write(rows)
                rows.clear()
                if (n + 1) % (BATCH * 10) == 0:
                    progress(f"  {n + 1:,} / {len(history.events):,} events written")
        if rows:
            write(rows)
    result.events = len(history.events)
    result.event_counts = dict(sorted(counts.items()))


def _write_demo_orders(cat: CatalogPlan, history: HistoryPlan, user_ids: dict[str, int], start: dt.datetime) -> None:
    """Give the demo shopper an order history (one order per purchasing session)."""
    sessions: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for si, pj, etype, value, sid, day, ctx in history.events:
        if si == 0 and etype == "purchase":
            sessions[sid].append((pj, value or 1.0, day))
    products = {p.sku: p for p in Product.objects.filter(sku__in=[cat.sku[pj] for s in sessions.values() for pj, _, _ in s])}
    for lines in sessions.values():
        order = Order.objects.create(
            user_id=user_ids.get(DEMO_SHOPPER), email=f"{DEMO_SHOPPER}@example.com",
            created_at=at(start, lines[0][2]),
        )
        rows = [
            OrderLine(order=order, product=products[cat.sku[pj]], quantity=int(q), unit_price=Decimal(f"{cat.price[pj]:.2f}"))
            for pj, q, _ in lines
        ]
        OrderLine.objects.bulk_create(rows)
        order.total = sum((r.line_total for r in rows), Decimal(0))
        order.save(update_fields=["total"])
