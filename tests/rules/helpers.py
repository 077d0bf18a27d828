"""A small known catalog and helpers to read the outcome of the rules stage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

ROWS: list[dict[str, Any]] = [
    # key, category, brand, price, stock, tags, launched days ago
    {"product_key": "S1", "name": "Trail runner", "category": "Shoes", "brand": "Acme", "price": 80.0, "stock": 50, "tags": ["running"], "launched_at": NOW - dt.timedelta(days=400)},
    {"product_key": "S2", "name": "Road runner", "category": "Shoes", "brand": "Acme", "price": 120.0, "stock": 3, "tags": ["running", "sale"], "launched_at": NOW - dt.timedelta(days=10)},
    {"product_key": "S3", "name": "Court shoe", "category": "Shoes", "brand": "Bolt", "price": 60.0, "stock": 20, "tags": [], "launched_at": NOW - dt.timedelta(days=3)},
    {"product_key": "T1", "name": "Tee", "category": "Shirts", "brand": "Bolt", "price": 20.0, "stock": 100, "tags": ["sale"], "launched_at": NOW - dt.timedelta(days=200)},
    {"product_key": "T2", "name": "Polo", "category": "Shirts", "brand": "Crest", "price": 45.0, "stock": 1, "tags": [], "launched_at": NOW - dt.timedelta(days=40)},
    {"product_key": "T3", "name": "Henley", "category": "Shirts", "brand": "Crest", "price": None, "stock": None, "tags": [], "launched_at": None},
    {"product_key": "B1", "name": "Backpack", "category": "Bags", "brand": "Acme", "price": 70.0, "stock": 8, "tags": ["outdoor"], "launched_at": NOW - dt.timedelta(days=1)},
    {"product_key": "B2", "name": "Tote", "category": "Bags", "brand": "Bolt", "price": 30.0, "stock": 0, "in_stock": False, "tags": [], "launched_at": NOW - dt.timedelta(days=90)},
]
# Scores before rules: S1 best ... B1 worst (B2 is out of stock and never a candidate).
SCORES = {"S1": 8.0, "S2": 7.0, "S3": 6.0, "T1": 5.0, "T2": 4.0, "T3": 3.0, "B1": 2.0}


def catalog() -> CatalogIndex:
    return CatalogIndex.from_rows(ROWS, version="test")


def candidates(cat: CatalogIndex, scores: dict[str, float] | None = None) -> Candidates:
    scores = scores or SCORES
    idx = cat.indices(scores)
    return Candidates(
        idx=idx,
        score=np.array([scores[str(cat.keys[i])] for i in idx], np.float64),
        source=np.zeros(len(idx), np.int16),
        source_names=["model"],
    )


def ctx(placement: str = "for_you", **kwargs: Any) -> ServingContext:
    kwargs.setdefault("now", NOW)
    return ServingContext(placement=placement, **kwargs)


def ranked(cands: Candidates, cat: CatalogIndex, limit: int = 10) -> list[str]:
    """Final list as a ranker honouring pins would show it: pins at their slots, the rest by score."""
    order = np.argsort(-cands.score, kind="stable")
    pinned = set(cands.pinned.values())
    rest = [int(cands.idx[i]) for i in order if int(cands.idx[i]) not in pinned]
    out: list[int] = []
    for pos in range(min(limit, len(rest) + len(cands.pinned))):
        out.append(cands.pinned[pos] if pos in cands.pinned else rest.pop(0))
    return [str(cat.keys[i]) for i in out]


def vip_segments(subject: str | None) -> list[str]:
    """A segments provider for tests: shoppers whose key ends in "-vip" are VIPs."""
    return ["vip"] if subject and subject.endswith("-vip") else []
