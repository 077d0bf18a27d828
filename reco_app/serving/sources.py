"""Candidate sources: each proposes scored catalog rows for one pipeline.

Write your own by subclassing :class:`CandidateSource` and naming it in a placement's
``"sources"`` (see docs/serving.rst)::

    class OnSale(CandidateSource):
        name = "on_sale"

        def generate(self, inputs: SourceInputs) -> Scored:
            scores = my_discount_array(inputs.catalog)      # one float per catalog row
            return self.top(scores, inputs)

        def reason(self, row: int, inputs: SourceInputs) -> str:
            return "On sale"

Sources score the whole catalog with array operations (never a Python loop per product)
and return at most ``limit`` rows (option, default 200) with a positive score.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reco_app.serving import stats
from reco_app.serving.model_store import ServingModel, user_vector
from reco_app.serving.profile import Profile
from reco_app.serving.types import CatalogIndex, ServingContext, unique_inverse

Scored = tuple[np.ndarray, np.ndarray]  # (catalog rows, scores), best first not required
EMPTY: Scored = (np.zeros(0, np.int64), np.zeros(0, np.float64))


@dataclass
class SourceInputs:
    """Everything a source may read; computed once per pipeline run."""

    catalog: CatalogIndex
    ctx: ServingContext
    model: ServingModel | None
    profile: Profile
    anchors: np.ndarray  # rows of the product on the page, or of the cart
    eligible: np.ndarray  # bool per row: available and not an anchor
    _user_vec: Any = field(default=False, repr=False)
    _recent_units: np.ndarray | None = field(default=None, repr=False)

    def user_vector(self) -> np.ndarray | None:
        if self._user_vec is False:
            p = self.profile
            # (the shopper's namespace version and "suppressed" flag, read with their list:
            # no second read)
            self._user_vec = user_vector(p.subject, self.model, p.recent, p.recent_weights,
                                         namespace_version=self.ctx.extra.get("subject_version"),
                                         suppressed=self.ctx.extra.get("suppressed"))
        return self._user_vec  # type: ignore[no-any-return]

    def name(self, row: int) -> str:
        return str(self.catalog.names[row])


class CandidateSource:
    """Base class of candidate sources. Options come from the placement's settings."""

    name = "source"

    def __init__(self, limit: int = 200, only_without_model: bool = False, **options: Any) -> None:
        self.limit = limit
        #: skip this source while a model is active (a cold-start helper)
        self.only_without_model = only_without_model
        self.options = options

    def generate(self, inputs: SourceInputs) -> Scored:
        raise NotImplementedError

    def reason(self, row: int, inputs: SourceInputs) -> str:
        return ""

    def top(self, scores: np.ndarray, inputs: SourceInputs, mask: np.ndarray | None = None, positive: bool = True) -> Scored:
        """The ``limit`` best eligible rows (with a positive score unless ``positive=False``). Exact."""
        n = len(scores)
        if n > 16 * self.limit:
            # a threshold from a strided sample keeps ~4x limit rows; check only those
            sample = np.sort(scores[:: max(n // 2048, 1)])
            keep = int(np.ceil(len(sample) * 4 * self.limit / n))
            above = np.flatnonzero(scores >= sample[max(len(sample) - keep, 0)])
            if len(above) < n // 4:
                ok = inputs.eligible[above]
                if positive:
                    ok &= scores[above] > 0
                if mask is not None:
                    ok &= mask[above]
                if int(ok.sum()) >= self.limit:  # every eligible row not in ``above`` scores lower
                    return self._best(above[ok], scores[above[ok]])
        ok = inputs.eligible & (scores > 0) if positive else inputs.eligible
        if mask is not None:
            ok = ok & mask
        rows = np.flatnonzero(ok)
        return self._best(rows, scores[rows])

    def _best(self, rows: np.ndarray, values: np.ndarray) -> Scored:
        """The ``limit`` best of ``rows`` by ``values`` (parallel to ``rows``)."""
        if len(rows) > self.limit:
            part = np.argpartition(-values, self.limit - 1)[: self.limit]
            rows, values = rows[part], values[part]
        return rows.astype(np.int64), values.astype(np.float64)


def row_sums(matrix: Any, rows: np.ndarray) -> Scored:
    """(columns, summed values) of a CSR matrix's ``rows``: ``matrix[rows].sum(axis=0)``'s nonzeros.

    The rows are sliced straight out of the CSR arrays, in the order ``matrix[rows]`` would
    give them (so sums are bit-identical), without scipy's indexing overhead.
    """
    spans = [slice(matrix.indptr[r], matrix.indptr[r + 1]) for r in rows.tolist()]
    found, inverse = unique_inverse(np.concatenate([matrix.indices[s] for s in spans]))
    return found, np.bincount(inverse, weights=np.concatenate([matrix.data[s] for s in spans]), minlength=len(found))


def anchor_rows(inputs: SourceInputs, anchor: str) -> np.ndarray:
    """Rows to be similar to: the page product / cart, else (``auto``) recent history."""
    if anchor in ("product", "cart", "auto") and len(inputs.anchors):
        return inputs.anchors
    if anchor in ("history", "auto"):
        return inputs.profile.recent[:5]
    return np.zeros(0, np.int64)


class ModelScores(CandidateSource):
    """The model's scores over the whole catalog: one matrix-vector product.

    ``anchor="user"`` scores against the shopper's vector (trained or folded in);
    ``"product"``/``"cart"`` against the anchors' vectors (cosine similarity).
    """

    name = "model"

    def __init__(self, anchor: str = "user", **options: Any) -> None:
        super().__init__(**options)
        self.anchor = anchor

    def generate(self, inputs: SourceInputs) -> Scored:
        model = inputs.model
        if model is None:
            return EMPTY
        if self.anchor == "user":
            vec = inputs.user_vector()
            if vec is None:
                return EMPTY
            rows, scores = self.top(model.scores(vec), inputs, positive=False)  # rank, not sign, matters
            return rows, scores - scores.min(initial=0.0) + 1e-6
        rows = anchor_rows(inputs, self.anchor)
        if not len(rows):
            return EMPTY
        return self.top(model.similar_to(rows), inputs)

    def reason(self, row: int, inputs: SourceInputs) -> str:
        model = inputs.model
        if self.anchor != "user" and len(inputs.anchors):
            return "Goes with your cart" if inputs.ctx.cart_keys else f"Similar to {inputs.name(int(inputs.anchors[0]))}"
        recent = inputs.profile.recent[:10]
        if model is not None and len(recent) and (len(recent) > 1 or recent[0] != row):
            # the recent products' unit vectors, gathered once per run for every row's reason
            if inputs._recent_units is None:
                inputs._recent_units = model.unit_vectors[recent]
            sims = inputs._recent_units @ model.unit_vectors[row]
            sims[recent == row] = -np.inf  # never "because you viewed" the product itself
            return f"Because you viewed {inputs.name(int(recent[int(np.argmax(sims))]))}"
        return "Recommended for you"


class CoOccurrence(CandidateSource):
    """Products that share baskets (sessions) with the anchors: "bought together"."""

    name = "cooccurrence"

    def __init__(self, anchor: str = "auto", event_types: tuple[str, ...] = ("purchase", "add_to_cart"), window_days: int = 365, **options: Any) -> None:
        super().__init__(**options)
        self.anchor, self.event_types, self.window_days = anchor, tuple(event_types), window_days

    def generate(self, inputs: SourceInputs) -> Scored:
        rows = anchor_rows(inputs, self.anchor)
        if not len(rows):
            return EMPTY
        co = stats.cooccurrence(inputs.catalog, self.event_types, self.window_days)
        if not co.nnz:
            return EMPTY
        found, scores = row_sums(co, rows)
        keep = inputs.eligible[found] & (scores > 0)
        return self._best(found[keep], scores[keep]) if keep.any() else EMPTY

    def reason(self, row: int, inputs: SourceInputs) -> str:
        if inputs.ctx.cart_keys:
            return "Often bought with items in your cart"
        rows = anchor_rows(inputs, self.anchor)
        return f"Often bought with {inputs.name(int(rows[0]))}" if len(rows) else "Often bought together"


class Trending(CandidateSource):
    """Time-decayed popularity; ``per_category=True`` keeps to the page's category."""

    name = "trending"

    def __init__(self, per_category: bool = False, half_life_days: float | None = None, window_days: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.per_category, self.half_life_days, self.window_days = per_category, half_life_days, window_days

    def category_code(self, inputs: SourceInputs) -> int:
        if not self.per_category:
            return -1
        cat = inputs.ctx.page_category
        if cat:
            return inputs.catalog.categories.index(cat) if cat in inputs.catalog.categories else -1
        return int(inputs.catalog.category[inputs.anchors[0]]) if len(inputs.anchors) else -1

    def generate(self, inputs: SourceInputs) -> Scored:
        scores = stats.popularity(inputs.catalog, self.half_life_days, self.window_days)
        code = self.category_code(inputs)
        mask = inputs.catalog.category == code if code >= 0 else None
        return self.top(scores, inputs, mask)

    def reason(self, row: int, inputs: SourceInputs) -> str:
        cat = inputs.catalog.category_name(row)
        return f"Trending in {cat}" if cat else "Trending now"


class RecentlyViewed(CandidateSource):
    """The shopper's recently viewed products, newest first."""

    name = "recent"

    def generate(self, inputs: SourceInputs) -> Scored:
        rows = inputs.profile.viewed[: self.limit]
        rows = rows[inputs.eligible[rows]]
        return rows, 1.0 / (1.0 + np.arange(len(rows), dtype=np.float64))

    def reason(self, row: int, inputs: SourceInputs) -> str:
        return "You viewed this recently"


class NewArrivals(CandidateSource):
    """Newest products (launched within ``days``, default ``NEW_PRODUCT_DAYS``; else newest)."""

    name = "new"

    def __init__(self, days: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.days = days

    def generate(self, inputs: SourceInputs) -> Scored:
        from reco_app import conf

        launched = np.nan_to_num(inputs.catalog.launched_at, nan=0.0)
        now = inputs.ctx.now.timestamp() if inputs.ctx.now else float(launched.max(initial=0.0))
        days = self.days or conf.get("NEW_PRODUCT_DAYS")
        scores = 1.0 + (launched - now) / (86400.0 * days)  # 1 = today, 0 = `days` ago
        rows, s = self.top(scores, inputs)
        if not len(rows):  # nothing launched recently: the newest there are
            rows, s = self.top(launched - launched.min(initial=0.0) + 1.0, inputs)
        return rows, s

    def reason(self, row: int, inputs: SourceInputs) -> str:
        cat = inputs.catalog.category_name(row)
        return f"New in {cat}" if cat else "Just arrived"


class BuyAgain(CandidateSource):
    """Products the shopper bought before, most bought first (``categories`` limits to consumables)."""

    name = "buy_again"

    def __init__(self, categories: list[str] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.categories = categories

    def generate(self, inputs: SourceInputs) -> Scored:
        p = inputs.profile
        rows, counts = p.purchased, p.purchase_counts.astype(np.float64)
        keep = inputs.eligible[rows]
        if self.categories:
            codes = [inputs.catalog.categories.index(c) for c in self.categories if c in inputs.catalog.categories]
            keep &= np.isin(inputs.catalog.category[rows], codes)
        return rows[keep], counts[keep]

    def reason(self, row: int, inputs: SourceInputs) -> str:
        return "You bought this before"


class MetadataSimilarity(CandidateSource):
    """Same category and brand, shared tags, close price — works with no events and no model."""

    name = "metadata"

    def __init__(self, anchor: str = "auto", category: float = 1.0, brand: float = 0.5, tags: float = 1.0, price: float = 0.3, **options: Any) -> None:
        super().__init__(**options)
        self.anchor = anchor
        self.w = {"category": category, "brand": brand, "tags": tags, "price": price}

    def generate(self, inputs: SourceInputs) -> Scored:
        rows = anchor_rows(inputs, self.anchor)
        if not len(rows):
            return EMPTY
        cat = inputs.catalog
        scores = np.zeros(len(cat), np.float32)
        # (a page has a few anchors: their codes and prices are read as Python values; numpy's
        # unique, isin and nanmedian cost tens of microseconds each on arrays this small)
        for column, weight in ((cat.category, self.w["category"]), (cat.brand, self.w["brand"])):
            codes = sorted({code for code in column[rows].tolist() if code >= 0})
            if len(codes) == 1:
                scores[column == codes[0]] += weight
            elif codes:
                wanted = np.zeros(int(column.max()) + 2, bool)  # (index -1, no code, stays False)
                wanted[codes] = True
                scores[wanted[column]] += weight
        if cat.tags.shape[1]:
            anchor_tags = np.asarray(cat.tags[rows].sum(axis=0)).ravel() > 0
            if anchor_tags.any():
                shared = cat.tags @ anchor_tags.astype(np.float32)
                scores += (self.w["tags"] / float(anchor_tags.sum())) * shared
        prices = [p for p in cat.price[rows].tolist() if math.isfinite(p)]
        ref = statistics.median(prices) if prices else math.nan
        if math.isfinite(ref) and ref > 0:
            near = np.flatnonzero(scores > 0)  # price only ranks products already related
            closeness = 1.0 / (1.0 + np.abs(np.log(np.maximum(cat.price[near], 0.01) / ref)))
            closeness[np.isnan(closeness)] = 0.0  # (no price)
            scores[near] += self.w["price"] * closeness.astype(np.float32)
        return self.top(scores, inputs)

    def reason(self, row: int, inputs: SourceInputs) -> str:
        rows = anchor_rows(inputs, self.anchor)
        if not len(rows):
            return ""
        if inputs.ctx.cart_keys:
            return "Goes with your cart"
        if inputs.profile.recent[:5].tolist() == rows.tolist():
            return f"Because you viewed {inputs.name(int(rows[0]))}"
        brand = inputs.catalog.brand_name(row)
        if brand and brand == inputs.catalog.brand_name(int(rows[0])):
            return f"More from {brand}"
        return f"Similar to {inputs.name(int(rows[0]))}"
