"""Ranking: blend the sources' scores, keep the list diverse, explore, honour pins, truncate.

:func:`blend` merges the sources' candidates into one :class:`Candidates` (scores rescaled
to 0..1 per source, then weighted and summed). A ranker is any object with
``rank(cands, catalog, ctx, limit) -> Candidates`` returning at most ``limit`` rows in
display order; subclass :class:`Ranker` to change the policy.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from reco_app.serving.types import Candidates, CatalogIndex, ServingContext, unique_inverse

EXPLORE = "explore"
RULES = "rules"


def _rescale(scores: np.ndarray) -> np.ndarray:
    if not len(scores):
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo < 1e-12:
        return np.ones_like(scores)
    return 0.1 + 0.9 * (scores - lo) / (hi - lo)


def _without(sorted_rows: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``sorted_rows`` (ascending, unique) minus ``drop`` (few): binary search, not np.isin."""
    if not len(drop) or not len(sorted_rows):
        return sorted_rows
    if len(sorted_rows) > 1 and not (sorted_rows[1:] > sorted_rows[:-1]).all():  # a subclass's own pool
        return sorted_rows[~np.isin(sorted_rows, drop)]
    at = np.minimum(np.searchsorted(sorted_rows, drop), len(sorted_rows) - 1)
    hit = at[sorted_rows[at] == drop]
    if not len(hit):
        return sorted_rows
    keep = np.ones(len(sorted_rows), bool)
    keep[hit] = False
    return sorted_rows[keep]


def blend(parts: list[tuple[str, float, np.ndarray, np.ndarray]]) -> Candidates:
    """Merge ``(source name, weight, rows, scores)`` parts; a row keeps its strongest source."""
    names = [p[0] for p in parts]
    parts = [p for p in parts if len(p[2])]
    if not parts:
        return Candidates(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int16), names)
    rows = np.concatenate([p[2] for p in parts])
    contrib = np.concatenate([p[1] * _rescale(p[3]) for p in parts])
    src = np.concatenate([np.full(len(p[2]), names.index(p[0]), np.int16) for p in parts])
    uniq, inverse = unique_inverse(rows)
    total = np.bincount(inverse, weights=contrib, minlength=len(uniq))
    # the strongest contributor names the source: sort by contribution, last write wins
    order = np.argsort(contrib, kind="stable")
    best_src = np.zeros(len(uniq), np.int16)
    best_src[inverse[order]] = src[order]
    return Candidates(uniq.astype(np.int64), total, best_src, names)


class Ranker:
    """Diversity caps per brand and category, an exploration share for new products, pins.

    Options: ``max_per_brand`` / ``max_per_category`` (``None`` = no cap; relaxed when the
    list would otherwise come up short), ``explore_share`` (0..1 of the slots given to new
    products not yet in the list, picked deterministically per shopper and day),
    ``new_days`` (what counts as new; default ``NEW_PRODUCT_DAYS``).
    """

    def __init__(self, max_per_brand: int | None = None, max_per_category: int | None = None, explore_share: float = 0.0, new_days: int | None = None, **options: Any) -> None:
        self.max_per_brand = max_per_brand
        self.max_per_category = max_per_category
        self.explore_share = explore_share
        self.new_days = new_days
        self.options = options

    def rank(self, cands: Candidates, catalog: CatalogIndex, ctx: ServingContext, limit: int) -> Candidates:
        order = np.argsort(-cands.score, kind="stable")
        pinned = {pos: row for pos, row in cands.pinned.items() if 0 <= pos < limit and catalog.available[row]}
        n_explore = int(limit * self.explore_share) if self.explore_share > 0 else 0
        free = limit - len(pinned)
        chosen = self.diverse(order, cands, catalog, set(pinned.values()), max(free - n_explore, 0))
        if n_explore:
            chosen_rows = set(cands.idx[chosen].tolist()) | set(pinned.values())
            explore_rows = self.explore(catalog, ctx, chosen_rows, cands.take(np.array(chosen, np.int64)), n_explore)
        else:
            explore_rows = []
        if len(chosen) + len(explore_rows) < free:  # not enough new products: fill from the list
            more = self.diverse(order, cands, catalog, set(pinned.values()) | set(cands.idx[chosen].tolist()) | set(explore_rows), free - len(chosen) - len(explore_rows))
            chosen = chosen + more
        return self.assemble(cands, chosen, explore_rows, pinned, limit)

    def diverse(self, order: np.ndarray, cands: Candidates, catalog: CatalogIndex, taken: set[int], n: int) -> list[int]:
        """Positions into ``cands`` (best first), at most ``n``, within the caps if possible."""
        if n <= 0:
            return []
        picked: list[int] = []
        brands: dict[int, int] = {}
        cats: dict[int, int] = {}
        skipped: list[int] = []
        window = order[: max(n * 20, 200)]
        for pos in window:
            row = int(cands.idx[pos])
            if row in taken:
                continue
            b, c = int(catalog.brand[row]), int(catalog.category[row])
            if (self.max_per_brand and b >= 0 and brands.get(b, 0) >= self.max_per_brand) or (
                self.max_per_category and c >= 0 and cats.get(c, 0) >= self.max_per_category
            ):
                skipped.append(int(pos))
                continue
            picked.append(int(pos))
            brands[b] = brands.get(b, 0) + 1
            cats[c] = cats.get(c, 0) + 1
            if len(picked) == n:
                return picked
        rest = skipped + [int(p) for p in order[len(window):] if int(cands.idx[p]) not in taken]
        return picked + rest[: n - len(picked)]

    def new_rows(self, catalog: CatalogIndex, ctx: ServingContext) -> np.ndarray:
        """Available products launched within ``new_days`` (kept per catalog version and day)."""
        from reco_app import conf

        assert ctx.now is not None
        days = self.new_days or conf.get("NEW_PRODUCT_DAYS")
        key = (catalog.version, id(catalog), ctx.now.date(), days)
        cached = getattr(self, "_new", None)
        if cached is None or cached[0] != key:
            launched = np.nan_to_num(catalog.launched_at, nan=0.0)
            cached = (key, np.flatnonzero(catalog.available & (launched >= ctx.now.timestamp() - days * 86400)))
            self._new = cached
        return cached[1]

    def explore(self, catalog: CatalogIndex, ctx: ServingContext, taken: set[int], cands: Candidates, n: int) -> list[int]:
        if ctx.now is None:
            return []
        pool = self.new_rows(catalog, ctx)
        profile = ctx.extra.get("profile")
        drop = [
            catalog.indices([k for k in (ctx.product_key, *ctx.cart_keys, *ctx.extra.get("exclude", [])) if k]),
            np.fromiter(taken, np.int64, count=len(taken)),
            profile.purchased if profile is not None else np.zeros(0, np.int64),
        ]
        pool = _without(pool, np.concatenate(drop))
        if len(cands) and len(pool):  # prefer new products in the categories of the list
            # a table over category codes (+1: "no category" is -1) instead of np.isin
            listed = np.zeros(len(catalog.categories) + 1, bool)
            listed[catalog.category[cands.idx] + 1] = True
            near = pool[listed[catalog.category[pool] + 1]]
            if len(near):
                pool = near
        if not len(pool):
            return []
        seed = hashlib.sha1(f"{ctx.subject}|{ctx.placement}|{ctx.now:%Y-%m-%d}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(seed[:8], "big"))
        return [int(r) for r in rng.choice(pool, size=min(n, len(pool)), replace=False)]

    def assemble(self, cands: Candidates, chosen: list[int], explore_rows: list[int], pinned: dict[int, int], limit: int) -> Candidates:
        names = list(cands.source_names)
        if explore_rows and EXPLORE not in names:
            names.append(EXPLORE)
        entries: list[tuple[int, float, int]] = [(int(cands.idx[p]), float(cands.score[p]), int(cands.source[p])) for p in chosen]
        # new products go in the lower half of the list, spread out
        for k, row in enumerate(explore_rows):
            at = min(len(entries), max(1, len(entries) // 2 + k * 2 + 1))
            entries.insert(at, (row, 0.0, names.index(EXPLORE)))
        pos_of = {int(r): p for p, r in enumerate(cands.idx)} if pinned else {}
        for pos in sorted(pinned):
            row = pinned[pos]
            entries = [e for e in entries if e[0] != row]
            p = pos_of.get(row)
            if p is None:  # pinned by a rule from outside the candidates
                if RULES not in names:
                    names.append(RULES)
                entry = (row, 0.0, names.index(RULES))
            else:
                entry = (row, float(cands.score[p]), int(cands.source[p]))
            entries.insert(min(pos, len(entries)), entry)
        entries = entries[:limit]
        return Candidates(
            idx=np.array([e[0] for e in entries], np.int64),
            score=np.array([e[1] for e in entries], np.float64),
            source=np.array([e[2] for e in entries], np.int16),
            source_names=names,
            reasons=cands.reasons,
            pinned=cands.pinned,
            trace=cands.trace,
        )
