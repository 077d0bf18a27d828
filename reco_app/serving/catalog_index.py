"""The catalog snapshot as a :class:`CatalogIndex`, loaded once per process.

The index is rebuilt when the cache namespace ``"catalog"`` changes: the catalog service
calls :func:`on_catalog_changed` listeners after every snapshot change, and ours bumps it,
so every process (and every web node) picks up the new catalog on its next request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from reco_app import cache
from reco_app.serving.types import CatalogIndex

COLUMNS = (
    "product_key", "name", "url", "image_url", "price", "category", "brand", "tags",
    "stock", "in_stock", "published", "launched_at",
)


@dataclass
class ServingCatalog(CatalogIndex):
    """A :class:`CatalogIndex` plus what a rendered card needs (URL, image)."""

    urls: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    images: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def category_name(self, i: int) -> str:
        code = int(self.category[i])
        return self.categories[code] if code >= 0 else ""

    def brand_name(self, i: int) -> str:
        code = int(self.brand[i])
        return self.brands[code] if code >= 0 else ""


def build_catalog(rows: list[dict[str, object]], version: str = "") -> ServingCatalog:
    index = ServingCatalog.from_rows(rows, version=version)
    assert isinstance(index, ServingCatalog)
    index.urls = np.array([r.get("url") or "" for r in rows], dtype=object)
    index.images = np.array([r.get("image_url") or "" for r in rows], dtype=object)
    return index


def load_catalog(version: str = "") -> ServingCatalog:
    from reco_app.models import CatalogItem

    rows = [dict(zip(COLUMNS, values)) for values in CatalogItem.objects.order_by("id").values_list(*COLUMNS)]
    return build_catalog(rows, version=version)


_lock = threading.Lock()
_current: ServingCatalog | None = None


def get_catalog(version: int | None = None) -> ServingCatalog:
    """The process's catalog index for the current ``"catalog"`` namespace version."""
    global _current
    tag = str(cache.ns_version("catalog") if version is None else version)
    current = _current
    if current is not None and current.version == tag:
        return current
    with _lock:
        if _current is None or _current.version != tag:
            _current = load_catalog(version=tag)
        return _current


def invalidate() -> None:
    """Drop this process's index and tell every other process to reload theirs."""
    global _current
    _current = None
    cache.bump("catalog")
