"""Catalog snapshot service: copy shop products into ``CatalogItem`` rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from reco_app import cache
from reco_app.adapter import get_adapter
from reco_app.models import CatalogItem

SNAPSHOT_FIELDS = [
    "object_pk", "name", "url", "image_url", "price", "category", "brand", "tags",
    "description", "stock", "in_stock", "published", "launched_at",
]
logger = logging.getLogger(__name__)
_KEY_MAX: int = getattr(CatalogItem._meta.get_field("product_key"), "max_length", None) or 64


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0  # products without a usable key (empty, too long, repeated) or unreadable

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _usable_key(key: str) -> bool:
    return bool(key) and len(key) <= _KEY_MAX


def _snapshot(adapter: Any, product: Any) -> dict[str, Any] | None:
    """The product's snapshot row, or None when it has no usable key or cannot be read.

    A product the adapter fails on is logged and left out rather than breaking the
    shop's save or the whole bulk sync.
    """
    try:
        if not _usable_key(adapter.product_key(product)):
            return None
        return adapter.snapshot(product)  # type: ignore[no-any-return]
    except Exception:
        logger.exception("reco_app: cannot read product %r for the catalog snapshot", getattr(product, "pk", product))
        return None


def sync_product(product: Any) -> CatalogItem | None:
    """Create or update the snapshot row of one product (called on ``post_save``).

    A product whose key changed leaves no row behind under its old key.
    """
    data = _snapshot(get_adapter(), product)
    if data is None:
        return None
    key = data.pop("product_key")
    item, _ = CatalogItem.objects.update_or_create(product_key=key, defaults=data)
    CatalogItem.objects.filter(object_pk=data["object_pk"]).exclude(product_key=key).delete()
    _changed()
    return item


def remove_product(product: Any) -> None:
    """Forget a deleted product at once."""
    CatalogItem.objects.filter(product_key=get_adapter().product_key(product)).delete()
    _changed()


def sync_all(batch_size: int = 1000, progress: Callable[[int], None] | None = None) -> SyncResult:
    """Bulk sync every product; rows of products that no longer exist are removed.

    ``progress(n)`` is called with the number of products handled after each batch.
    """
    adapter = get_adapter()
    with transaction.atomic():
        existing = set(CatalogItem.objects.values_list("product_key", flat=True))
        result, seen = _sync_products(adapter, adapter.get_queryset(), existing, batch_size, progress)
        # Products created while we ran were never in ``existing``, so they are safe.
        stale = sorted(existing - seen)
        for i in range(0, len(stale), 500):
            result.removed += CatalogItem.objects.filter(product_key__in=stale[i : i + 500]).delete()[0]
    _changed()
    return result


def sync_products(products: Any, batch_size: int = 1000) -> SyncResult:
    """Bulk sync some products (a queryset or a list), e.g. all products of a renamed brand."""
    adapter = get_adapter()
    with transaction.atomic():
        result, _ = _sync_products(adapter, products, None, batch_size, None)
    _changed()
    return result


def _sync_products(
    adapter: Any,
    products: Any,
    existing: set[str] | None,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> tuple[SyncResult, set[str]]:
    result = SyncResult()
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        known = existing
        if known is None:
            known = set(CatalogItem.objects.filter(product_key__in=[d["product_key"] for d in batch]).values_list("product_key", flat=True))
        _write(batch, known, result)
        batch.clear()
        if progress:
            progress(len(seen))

    iterable = products.iterator(chunk_size=batch_size) if hasattr(products, "iterator") else products
    for product in iterable:
        data = _snapshot(adapter, product)
        if data is None or data["product_key"] in seen:
            result.skipped += 1
            continue
        seen.add(data["product_key"])
        batch.append(data)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return result, seen


def _write(batch: list[dict[str, Any]], existing: set[str], result: SyncResult) -> None:
    new = [CatalogItem(**d) for d in batch if d["product_key"] not in existing]
    CatalogItem.objects.bulk_create(new)
    result.created += len(new)
    old = {d["product_key"]: d for d in batch if d["product_key"] in existing}
    if not old:
        return
    changed = []
    now = timezone.now()
    for row in CatalogItem.objects.filter(product_key__in=list(old)):
        data = old[row.product_key]
        if all(getattr(row, f) == data[f] for f in SNAPSHOT_FIELDS):
            result.unchanged += 1
            continue
        for f in SNAPSHOT_FIELDS:
            setattr(row, f, data[f])
        row.updated_at = now
        changed.append(row)
    CatalogItem.objects.bulk_update(changed, [*SNAPSHOT_FIELDS, "updated_at"])
    result.updated += len(changed)


_listeners: list[Callable[[], None]] = []


def on_catalog_changed(fn: Callable[[], None]) -> Callable[[], None]:
    """Register a callback run after the snapshot changes (serving drops its catalog index)."""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def _changed() -> None:
    transaction.on_commit(lambda: cache.bump("catalog"))
    for fn in _listeners:
        transaction.on_commit(fn)
