"""Filters: pipeline stages that drop candidates (``apply(cands, catalog, ctx)``).

A filter is any object with that method; subclass :class:`Filter` and name it in a
placement's ``"filters"``. Filters see the shopper's :class:`~reco_app.serving.profile.Profile`
as ``ctx.extra["profile"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reco_app.serving.types import Candidates, CatalogIndex, ServingContext


class Filter:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def keep(self, idx: np.ndarray, catalog: CatalogIndex, ctx: ServingContext) -> np.ndarray:
        """Boolean mask over ``idx``: True = keep."""
        raise NotImplementedError

    def apply(self, cands: Candidates, catalog: CatalogIndex, ctx: ServingContext) -> Candidates:
        if not len(cands):
            return cands
        return cands.take(self.keep(cands.idx, catalog, ctx))


class Available(Filter):
    """Out of stock and unpublished products never show."""

    def keep(self, idx: np.ndarray, catalog: CatalogIndex, ctx: ServingContext) -> np.ndarray:
        return catalog.available[idx]


class ExcludeContext(Filter):
    """Not the product on the page, nothing already in the cart, nothing in ``context["exclude"]``."""

    def keep(self, idx: np.ndarray, catalog: CatalogIndex, ctx: ServingContext) -> np.ndarray:
        keys = [ctx.product_key, *ctx.cart_keys, *ctx.extra.get("exclude", [])]
        rows = catalog.indices([k for k in keys if k])
        return ~np.isin(idx, rows) if len(rows) else np.ones(len(idx), bool)


class AlreadyPurchased(Filter):
    """Products the shopper bought already (placements such as ``buy_again`` leave it out)."""

    def keep(self, idx: np.ndarray, catalog: CatalogIndex, ctx: ServingContext) -> np.ndarray:
        profile = ctx.extra.get("profile")
        if profile is None or not len(profile.purchased):
            return np.ones(len(idx), bool)
        return ~np.isin(idx, profile.purchased)
