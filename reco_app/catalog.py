"""Catalog snapshot service: copy shop products into ``CatalogItem`` rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from reco_app.adapter import get_adapter
from reco_app.models import CatalogItem

SNAPSHOT_FIELDS = [
    "object_pk", "name", "url", "image_url", "price", "category", "brand", "tags",
    "description", "stock", "in_stock", "published", "launched_at",
]


def sync_product(product: Any) -> CatalogItem:
    """Create or update the snapshot row of one product (called on ``post_save``)."""
    data = get_adapter().snapshot(product)
    key = data.pop("product_key")
    item, _ = CatalogItem.objects.update_or_create(product_key=key, defaults=data)
    _changed()
    return item


def remove_product(product: Any) -> None:
    """Forget a deleted product at once."""
    adapter = get_adapter()
    CatalogItem.objects.filter(product_key=adapter.product_key(product)).delete()
    _changed()


def sync_all(batch_size: int = 1000, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Bulk sync every product; rows of products that no longer exist are removed."""
    adapter = get_adapter()
    existing = set(CatalogItem.objects.values_list("product_key", flat=True))
    seen: set[str] = set()
    created = updated = 0
    batch: list[CatalogItem] = []

    def flush() -> None:
        nonlocal created, updated
        if not batch:
            return
        keys = [b.product_key for b in batch]
        new = [b for b in batch if b.product_key not in existing]
        old = {b.product_key: b for b in batch if b.product_key in existing}
        if new:
            CatalogItem.objects.bulk_create(new, batch_size=batch_size)
            created += len(new)
        if old:
            rows = list(CatalogItem.objects.filter(product_key__in=list(old)))
            for row in rows:
                src = old[row.product_key]
                for f in SNAPSHOT_FIELDS:
                    setattr(row, f, getattr(src, f))
            CatalogItem.objects.bulk_update(rows, SNAPSHOT_FIELDS, batch_size=batch_size)
            updated += len(rows)
        if progress:
            progress(len(keys))
        batch.clear()

    with transaction.atomic():
        for product in adapter.get_queryset().iterator(chunk_size=batch_size):
            data = adapter.snapshot(product)
            if data["product_key"] in seen:
                continue
            seen.add(data["product_key"])
            batch.append(CatalogItem(**data))
            if len(batch) >= batch_size:
                flush()
        flush()
        removed, _ = CatalogItem.objects.exclude(product_key__in=seen).delete() if len(seen) < 30000 else _remove_missing(seen)
    _changed()
    return {"created": created, "updated": updated, "removed": removed, "total": len(seen)}


def _remove_missing(seen: set[str]) -> tuple[int, dict[str, int]]:
    stale = [k for k in CatalogItem.objects.values_list("product_key", flat=True) if k not in seen]
    total = 0
    for i in range(0, len(stale), 5000):
        n, _ = CatalogItem.objects.filter(product_key__in=stale[i : i + 5000]).delete()
        total += n
    return total, {}


_listeners: list[Callable[[], None]] = []


def on_catalog_changed(fn: Callable[[], None]) -> Callable[[], None]:
    """Register a callback run after the snapshot changes (serving drops its catalog index)."""
    _listeners.append(fn)
    return fn


def _changed() -> None:
    for fn in _listeners:
        transaction.on_commit(fn)
