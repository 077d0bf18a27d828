"""Aggregates over all events that candidate sources share: popularity and co-occurrence.

Each is computed in a few database queries (aggregation happens in SQL or in numpy, never
per product in Python) and kept per process for ``STATS_REFRESH_SECONDS``, keyed on the
catalog version. Aggregates hold no personal data: they are counts per product.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from reco_app import conf
from reco_app.serving.types import CatalogIndex

T = TypeVar("T")
_lock = threading.Lock()
_memo: dict[tuple[Any, ...], tuple[float, Any]] = {}


def _memoised(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    hit = _memo.get(key)
    if hit is not None and time.monotonic() - hit[0] < conf.get("STATS_REFRESH_SECONDS"):
        return hit[1]  # type: ignore[no-any-return]
    with _lock:
        hit = _memo.get(key)
        if hit is not None and time.monotonic() - hit[0] < conf.get("STATS_REFRESH_SECONDS"):
            return hit[1]  # type: ignore[no-any-return]
        value = build()
        stale = [k for k in _memo if k[0] == key[0] and k[1] != key[1]]
        for k in stale:  # the same aggregate for an older catalog
            del _memo[k]
        _memo[key] = (time.monotonic(), value)
        return value


def reset() -> None:
    """Forget every aggregate (tests, and after bulk imports)."""
    _memo.clear()


def popularity(catalog: CatalogIndex, half_life_days: float | None = None, window_days: int | None = None) -> np.ndarray:
    """Time-decayed, event-weighted popularity of every catalog row (float64, >= 0)."""
    half_life = float(half_life_days or conf.get("TRENDING_HALF_LIFE_DAYS"))
    window = int(window_days or conf.get("TRENDING_WINDOW_DAYS"))
    return _memoised(("popularity", catalog.version, half_life, window), lambda: _popularity(catalog, half_life, window))


def _popularity(catalog: CatalogIndex, half_life: float, window: int) -> np.ndarray:
    from reco_app.models import Event

    weights: dict[str, float] = {k: float(v) for k, v in conf.get("EVENT_WEIGHTS").items() if float(v) > 0}
    today = timezone.now().date()
    rows = (
        Event.objects.since(timezone.now() - dt.timedelta(days=window)).of_types(list(weights)).exclude(product_key="")
        .annotate(day=TruncDate("timestamp")).values_list("product_key", "event_type", "day").annotate(n=Count("id")).order_by()
    )
    scores = np.zeros(len(catalog), np.float64)
    lookup = catalog.key_to_idx
    for key, etype, day, n in rows:
        i = lookup.get(key)
        if i is None:
            continue
        age = (today - day).days if isinstance(day, dt.date) else 0
        scores[i] += weights[etype] * n * math.pow(0.5, max(age, 0) / half_life)
    return scores


def cooccurrence(catalog: CatalogIndex, event_types: Sequence[str] = ("purchase", "add_to_cart"), window_days: int = 365) -> sp.csr_matrix:
    """Item-item co-occurrence counts (CSR, zero diagonal): products in the same basket.

    A basket is one session (or, without a session id, one shopper's day).
    """
    types = tuple(sorted(event_types))
    return _memoised(("cooccurrence", catalog.version, types, window_days), lambda: _cooccurrence(catalog, types, window_days))


def _cooccurrence(catalog: CatalogIndex, types: tuple[str, ...], window_days: int) -> sp.csr_matrix:
    from reco_app.models import Event

    n = len(catalog)
    qs = (
        Event.objects.since(timezone.now() - dt.timedelta(days=window_days)).of_types(types).exclude(product_key="")
        .values_list("session_id", "subject", "timestamp", "product_key").order_by()[:1_000_000]
    )
    baskets: dict[str, int] = {}
    b_idx: list[int] = []
    i_idx: list[int] = []
    lookup = catalog.key_to_idx
    for session, subject, ts, key in qs.iterator(chunk_size=20_000):
        i = lookup.get(key)
        basket = session or (f"{subject}@{ts:%Y-%m-%d}" if subject else "")
        if i is None or not basket:
            continue
        b_idx.append(baskets.setdefault(basket, len(baskets)))
        i_idx.append(i)
    if not b_idx:
        return sp.csr_matrix((n, n), dtype=np.float32)
    basket_items = sp.csr_matrix((np.ones(len(b_idx), np.float32), (b_idx, i_idx)), shape=(len(baskets), n))
    basket_items.data[:] = 1.0  # duplicates summed by the constructor: count a basket once
    co = (basket_items.T @ basket_items).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    return co
