"""Shared shapes of the serving pipeline: the catalog as arrays, and candidate sets.

Candidate sources, the rules engine and rankers all work on these arrays, so no stage
loops over products in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class CatalogIndex:
    """The catalog snapshot (``CatalogItem``) as column arrays, row ``i`` = one product."""

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

    def __post_init__(self) -> None:
        if not self.key_to_idx:
            self.key_to_idx = {str(k): i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def indices(self, keys: Any) -> np.ndarray:
        """Row indices of the given product keys (unknown keys are dropped)."""
        lookup = self.key_to_idx
        return np.fromiter((lookup[k] for k in keys if k in lookup), dtype=np.int64)

    @property
    def available(self) -> np.ndarray:
        return self.in_stock & self.published

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]], version: str = "") -> CatalogIndex:
        """Build from dicts with CatalogItem field names (tests and the DB loader use this)."""
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

        def ts(value: Any) -> float:
            if isinstance(value, dt.datetime):
                return value.timestamp()
            return float("nan")

        return cls(
            keys=np.array([str(r["product_key"]) for r in rows], dtype=str),
            names=np.array([r.get("name") or "" for r in rows], dtype=object),
            category=np.array([cat_code.get(r.get("category") or "", -1) for r in rows], np.int32),
            categories=categories,
            brand=np.array([brand_code.get(r.get("brand") or "", -1) for r in rows], np.int32),
            brands=brands,
            price=np.array([np.nan if r.get("price") is None else float(r["price"]) for r in rows], np.float64),
            stock=np.array([-1 if r.get("stock") is None else int(r["stock"]) for r in rows], np.int64),
            in_stock=np.array([bool(r.get("in_stock", True)) for r in rows], bool),
            published=np.array([bool(r.get("published", True)) for r in rows], bool),
            launched_at=np.array([ts(r.get("launched_at")) for r in rows], np.float64),
            tags=tags,
            tag_names=tag_names,
            version=version,
        )


@dataclass
class Candidates:
    """A scored candidate list: parallel arrays over catalog row indices.

    ``source`` holds, per candidate, the index into ``source_names`` of the source that
    proposed it; ``reasons`` optional short human reasons by catalog index.
    ``pinned`` maps a 0-based output position to a catalog index (set by pin rules,
    honoured by the ranker's truncation).
    """

    idx: np.ndarray  # int64 catalog rows, unique
    score: np.ndarray  # float64
    source: np.ndarray  # int16 codes into source_names
    source_names: list[str] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    pinned: dict[int, int] = field(default_factory=dict)
    trace: dict[int, list[str]] = field(default_factory=dict)  # catalog idx -> rule names that moved it

    def __len__(self) -> int:
        return len(self.idx)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int16), [])

    def take(self, mask_or_order: np.ndarray) -> Candidates:
        """A subset/reordering (boolean mask or integer positions); side tables are kept."""
        return Candidates(
            idx=self.idx[mask_or_order],
            score=self.score[mask_or_order],
            source=self.source[mask_or_order],
            source_names=self.source_names,
            reasons=self.reasons,
            pinned=self.pinned,
            trace=self.trace,
        )


@dataclass
class ServingContext:
    """Who and where: passed to every pipeline stage."""

    placement: str
    subject: str | None = None  # customer key or ``anon:<visitor id>``; None when unknown
    user: Any = None
    visitor_id: str | None = None
    session_id: str | None = None
    product_key: str | None = None
    cart_keys: list[str] = field(default_factory=list)
    limit: int = 10
    segments: list[str] = field(default_factory=list)
    device: str = ""
    page_category: str = ""
    personalised: bool = True  # False when consent is refused/unknown
    now: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
