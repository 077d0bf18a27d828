"""The example shop's synthetic catalog and history as reco_app data, for tests and benchmarks.

:func:`generate` runs the generator ``shop_seed`` uses (:mod:`example_shop.shop.seed_catalog`,
then :mod:`example_shop.shop.seed_history` on the same ``numpy.random.Generator``) and returns
a :class:`SyntheticShop`: catalog snapshot rows and event rows with datetimes, the column
arrays training reads, and :meth:`SyntheticShop.save` to write ``CatalogItem`` and ``Event``
rows without the shop's own models. :mod:`example_shop.shop.seeding` writes the same plans
into the shop (products, users, orders) for the demo.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from django.db import connection

from example_shop.shop.seed_catalog import CatalogPlan, generate_catalog
from example_shop.shop.seed_history import Behaviour, HistoryPlan, simulate
from reco_app.datasets.catalog import CatalogIndex
from reco_app.datasets.events import EventArrays
from reco_app.models import CatalogItem, Event

BATCH = 5000
EVENT_COLUMNS = (
    "event_id", "subject", "user", "visitor_id", "product_key", "event_type", "value",
    "session_id", "context", "consent", "source", "timestamp", "received_at",
)


def generate(
    *, products: int, shoppers: int, events: int, days: int, end: dt.datetime,
    seed: int | np.random.Generator = 0, behaviours: dict[str, Behaviour] | None = None,
    new_product_boost: float = 1.0,
) -> SyntheticShop:
    """A catalog of ``products`` and ``shoppers``' history of at least ``events`` events over
    the ``days`` before ``end``; the same arguments give the same shop."""
    rng = np.random.default_rng(seed)
    plan = generate_catalog(rng, products, days)
    history = simulate(
        rng, plan, shoppers, events, days, behaviours=behaviours, new_product_boost=new_product_boost
    )
    return SyntheticShop(plan, history, end - dt.timedelta(days=days))


def at(start: dt.datetime, day: float) -> dt.datetime:
    """The moment ``day`` days (whole seconds) after ``start``."""
    return start + dt.timedelta(seconds=int(day * 86400))


@dataclass
class SyntheticShop:
    plan: CatalogPlan
    history: HistoryPlan
    start: dt.datetime  # day 0 of the plans

    @cached_property
    def catalog(self) -> list[dict[str, Any]]:
        """One dict of ``CatalogItem`` fields per product."""
        p = self.plan
        return [
            {
                "product_key": p.sku[i], "name": p.name[i], "category": p.categories[p.category[i]],
                "brand": p.brands[p.brand[i]], "price": float(p.price[i]), "tags": p.product_tags[i],
                "description": p.description[i], "stock": int(p.stock[i]), "in_stock": bool(p.stock[i] > 0),
                "launched_at": at(self.start, float(p.launch_day[i])),
            }
            for i in range(len(p.sku))
        ]

    @cached_property
    def events(self) -> list[tuple[str, str, str, float | None, dt.datetime]]:
        """(subject, product_key, event_type, value, timestamp), oldest first; searches have no product."""
        keys = [s.key for s in self.history.shoppers]
        sku = self.plan.sku
        return [
            (keys[si], sku[pj] if pj >= 0 else "", etype, value, at(self.start, day))
            for si, pj, etype, value, _sid, day, _ctx in self.history.events
        ]

    def catalog_arrays(self) -> CatalogIndex:
        return CatalogIndex.from_rows(self.catalog)

    def event_arrays(self) -> EventArrays:
        """The events with a product, as :func:`reco_app.datasets.events.load_events` reads them."""
        return EventArrays.from_rows([e for e in self.events if e[1]])

    def save(self, *, consent: str = "granted", source: str = "synthetic") -> int:
        """Write the catalog snapshot and the events; returns the number of events."""
        CatalogItem.objects.bulk_create([CatalogItem(**r) for r in self.catalog], batch_size=BATCH)
        keys = [s.key for s in self.history.shoppers]
        now = dt.datetime.now(dt.UTC)
        rows = [
            (uuid.uuid4(), keys[si], None, "", self.plan.sku[pj] if pj >= 0 else "", etype, value, sid, ctx,
             consent, source, at(self.start, day), now)
            for si, pj, etype, value, sid, day, ctx in self.history.events
        ]
        with connection.cursor() as cursor:
            write = event_writer(cursor)
            for i in range(0, len(rows), BATCH):
                write(rows[i : i + BATCH])
        return len(rows)


def event_writer(cursor: Any) -> Callable[[list[tuple[Any, ...]]], None]:
    """Write rows of EVENT_COLUMNS values: COPY on PostgreSQL with psycopg 3, ``executemany``
    elsewhere (psycopg2 included).

    ``Event.objects.bulk_create`` spends ~10x more per row in Python than this.
    """
    fields: list[Any] = [Event._meta.get_field(name) for name in EVENT_COLUMNS]  # all concrete fields
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in fields)
    from reco_app.tracking.pg_copy import copy_usable

    if copy_usable():
        ctx_at = EVENT_COLUMNS.index("context")

        def copy_rows(rows: list[tuple[Any, ...]]) -> None:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row[:ctx_at] + (json.dumps(row[ctx_at]),) + row[ctx_at + 1 :])

        return copy_rows
    # Only these columns need the backend's conversion (uuid, JSON, datetimes).
    prep = {i: fields[i].get_db_prep_save for i, name in enumerate(EVENT_COLUMNS)
            if name in ("event_id", "context", "timestamp", "received_at")}
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"

    def insert_rows(rows: list[tuple[Any, ...]]) -> None:
        cursor.executemany(sql, [
            tuple(prep[i](v, connection) if i in prep else v for i, v in enumerate(row)) for row in rows
        ])

    return insert_rows
