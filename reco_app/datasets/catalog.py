"""The catalog snapshot (``CatalogItem`` rows) as column arrays: :class:`CatalogIndex`.

Training (item features, cold-product vectors) and serving (sources, rules, ranking) read
the same type, built by :meth:`CatalogIndex.from_rows`, the one place where the product
attributes are normalised; :func:`load_catalog` is the one reader of ``CatalogItem`` rows.
Row ``i`` is one product; callers that align other arrays to it do so by product key
(``key_to_idx``), never by assuming an order.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

#: What a web process reads. Descriptions stay out: a page never shows them and they are
#: the bulk of a row (serving reads them only for the few products a model has not seen).
SERVING_FIELDS = (
    "product_key", "name", "url", "image_url", "price", "category", "brand", "tags",
    "stock", "in_stock", "published", "launched_at",
)
#: What the item features read (no names, URLs or images: a large catalog is read whole).
TRAINING_FIELDS = (
    "product_key", "category", "brand", "price", "tags", "description", "launched_at",
    "published", "in_stock",
)
ALL_FIELDS = (*SERVING_FIELDS, "description")

_builds = itertools.count(1)


def _epoch(value: Any) -> float:
    """Seconds since 1970 of a datetime (or a number already in seconds); nan when unknown."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


@dataclass
class CatalogIndex:
    """The catalog snapshot as column arrays, row ``i`` = one product.

    Category, brand and tags are coded (integer columns into sorted name lists, tags as a
    sparse 0/1 matrix) so that serving filters and scores with array operations; training
    decodes them with :meth:`category_names`, :meth:`brand_names` and :meth:`tag_lists`.
    Columns a loader did not read hold neutral values (empty text, unknown price and launch
    date, untracked stock, in stock, published).
    """

    keys: np.ndarray  # str, product keys
    names: np.ndarray  # str
    category: np.ndarray  # int32 codes into ``categories`` (-1 = none)
    categories: list[str]
    brand: np.ndarray  # int32 codes into ``brands`` (-1 = none)
    brands: list[str]
    price: np.ndarray  # float64, nan = unknown
    stock: np.ndarray  # int64, -1 = not tracked
    in_stock: np.ndarray  # bool
    published: np.ndarray  # bool
    launched_at: np.ndarray  # float64 unix seconds, nan = unknown
    tags: sp.csr_matrix  # (n_items, n_tags) 0/1
    tag_names: list[str]
    version: str = ""
    key_to_idx: dict[str, int] = field(default_factory=dict)
    urls: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    images: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    descriptions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    #: Unique per index in this process: what a model aligned to it is remembered by.
    build: int = 0

    def __post_init__(self) -> None:
        if not self.key_to_idx:
            self.key_to_idx = {str(k): i for i, k in enumerate(self.keys)}
        n = len(self.keys)
        for name in ("urls", "images", "descriptions"):
            if len(getattr(self, name)) != n:
                setattr(self, name, np.full(n, "", dtype=object))
        if not self.build:
            self.build = next(_builds)

    def __len__(self) -> int:
        return len(self.keys)

    def indices(self, keys: Any) -> np.ndarray:
        """Row indices of the given product keys (unknown keys are dropped)."""
        lookup = self.key_to_idx
        return np.fromiter((lookup[k] for k in keys if k in lookup), dtype=np.int64)

    @property
    def available(self) -> np.ndarray:
        return self.in_stock & self.published

    def category_name(self, i: int) -> str:
        code = int(self.category[i])
        return self.categories[code] if code >= 0 else ""

    def brand_name(self, i: int) -> str:
        code = int(self.brand[i])
        return self.brands[code] if code >= 0 else ""

    def category_names(self) -> np.ndarray:
        """Every row's category name ("" for none), as an object array."""
        return np.array([*self.categories, ""], dtype=object)[self.category]

    def brand_names(self) -> np.ndarray:
        """Every row's brand name ("" for none), as an object array."""
        return np.array([*self.brands, ""], dtype=object)[self.brand]

    def tag_lists(self) -> list[list[str]]:
        """Every row's tags, sorted and without repeats."""
        names, indices = self.tag_names, self.tags.indices.tolist()
        return [[names[j] for j in indices[a:b]] for a, b in itertools.pairwise(self.tags.indptr.tolist())]

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], version: str = "") -> CatalogIndex:
        """Build from dicts with ``CatalogItem`` field names (missing fields: neutral values).

        Tags are a set (sorted, without repeats), as the adapter stores them; availability
        is ``published and in_stock``; an unknown price or launch date is nan.
        """
        n = len(rows)
        categories = sorted({r.get("category") or "" for r in rows} - {""})
        brands = sorted({r.get("brand") or "" for r in rows} - {""})
        cat_code = {c: i for i, c in enumerate(categories)}
        brand_code = {b: i for i, b in enumerate(brands)}
        tag_names = sorted({t for r in rows for t in (r.get("tags") or [])})
        tag_code = {t: i for i, t in enumerate(tag_names)}
        indptr = [0]
        indices: list[int] = []
        for r in rows:
            indices.extend(sorted({tag_code[t] for t in (r.get("tags") or [])}))
            indptr.append(len(indices))
        tags = sp.csr_matrix(
            (np.ones(len(indices), np.float32), np.array(indices, np.int64), np.array(indptr, np.int64)),
            shape=(n, len(tag_names)),
        )

        def text(name: str) -> np.ndarray:
            return np.array([r.get(name) or "" for r in rows], dtype=object)

        return cls(
            keys=np.array([str(r["product_key"]) for r in rows], dtype=str),
            names=text("name"),
            category=np.array([cat_code.get(r.get("category") or "", -1) for r in rows], np.int32),
            categories=categories,
            brand=np.array([brand_code.get(r.get("brand") or "", -1) for r in rows], np.int32),
            brands=brands,
            price=np.array([np.nan if r.get("price") is None else float(r["price"]) for r in rows], np.float64),
            stock=np.array([-1 if r.get("stock") is None else int(r["stock"]) for r in rows], np.int64),
            in_stock=np.array([bool(r.get("in_stock", True)) for r in rows], bool),
            published=np.array([bool(r.get("published", True)) for r in rows], bool),
            launched_at=np.array([_epoch(r.get("launched_at")) for r in rows], np.float64),
            tags=tags,
            tag_names=tag_names,
            version=version,
            urls=text("url"),
            images=text("image_url"),
            descriptions=text("description"),
        )


def load_catalog(
    *, fields: Sequence[str] = ALL_FIELDS, keys: Iterable[str] | None = None, version: str = ""
) -> CatalogIndex:
    """The ``CatalogItem`` rows as a :class:`CatalogIndex`: all of them in insertion order
    (``id``), or those of ``keys`` in the order of ``keys`` (unknown keys are left out).

    One query (one per 5,000 keys) reading values, not model objects.
    """
    from reco_app.models import CatalogItem

    columns = ("product_key", *(f for f in fields if f != "product_key"))
    if keys is None:
        values = CatalogItem.objects.order_by("id").values_list(*columns)
        rows = [dict(zip(columns, v, strict=True)) for v in values]
        return CatalogIndex.from_rows(rows, version=version)
    wanted = list(dict.fromkeys(str(k) for k in keys))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 5000):
        chunk = CatalogItem.objects.order_by().filter(product_key__in=wanted[start : start + 5000])
        for values in chunk.values_list(*columns):
            found[values[0]] = dict(zip(columns, values, strict=True))
    return CatalogIndex.from_rows([found[k] for k in wanted if k in found], version=version)
