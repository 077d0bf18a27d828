"""Ranking metrics over a time-based holdout, the same code for the model and the baselines.

For each evaluated shopper the scorer ranks every product except the ``exclude`` ones (by
default the products they bought before the cutoff: the personalised placements filter
those out too, and re-buying is the ``buy_again`` placement's job); the excluded products
are removed from the test set as well, so a repeat purchase is neither a hit nor a miss.
Products only viewed or carted before the cutoff stay candidates: showing them again is
what the live placements do. A shopper is evaluated when they have at least one
interaction before the cutoff and at least one purchase or cart of a non-excluded product
after it. Every scorer (model or baseline) is ranked over the same candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

#: scores for a batch of user rows → (len(rows), n_items) array
Scorer = Callable[[np.ndarray], np.ndarray]
METRICS = ("precision", "recall", "ndcg", "map", "auc", "coverage", "cold_recall")


def eval_users(
    train: sp.csr_matrix, test: sp.csr_matrix, max_users: int | None = None, seed: int = 0,
    exclude: sp.csr_matrix | None = None,
) -> np.ndarray:
    """Users with train history and at least one non-excluded product in the test period
    (``exclude`` defaults to every product of their train history)."""
    exclude = train if exclude is None else exclude
    old = test.multiply(exclude > 0)
    n_new = np.diff(test.indptr) - np.diff(sp.csr_matrix(old).indptr)
    has_train = np.diff(train.indptr) > 0
    users = np.flatnonzero(has_train & (n_new > 0))
    if max_users and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first (ties by lower index)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


def evaluate(
    scorer: Scorer,
    exclude: sp.csr_matrix,
    test: sp.csr_matrix,
    users: np.ndarray,
    *,
    k: int = 10,
    cold_items: np.ndarray | None = None,
    batch_size: int = 512,
    with_auc: bool = True,
) -> dict[str, float | None]:
    """Mean P@k, R@k, NDCG@k, MAP@k and AUC over ``users``; catalog coverage of all top-k
    lists; cold-item recall = share of test purchases/carts of cold products found in top-k."""
    n_items = exclude.shape[1]
    if not len(users):
        return {m: None for m in METRICS}
    totals = dict.fromkeys(("precision", "recall", "ndcg", "map", "auc"), 0.0)
    auc_users = 0
    shown = np.zeros(n_items, dtype=bool)
    cold_hits = cold_total = 0
    for start in range(0, len(users), batch_size):
        rows = users[start : start + batch_size]
        scores = np.asarray(scorer(rows), dtype=np.float64)
        seen = exclude[rows].toarray() > 0
        relevant = (test[rows].toarray() > 0) & ~seen
        ranked_scores = np.where(seen, -np.inf, scores)
        top = topk(ranked_scores, k)
        shown[top.ravel()] = True
        if cold_items is not None:
            cold_rel = relevant & cold_items[None, :]
            cold_total += int(cold_rel.sum())
            cold_hits += int(np.take_along_axis(cold_rel, top, axis=1).sum())
        hits = np.take_along_axis(relevant, top, axis=1)
        n_rel = relevant.sum(axis=1)
        n_hits = hits.sum(axis=1)
        totals["precision"] += float((n_hits / k).sum())
        totals["recall"] += float((n_hits / n_rel).sum())
        totals["ndcg"] += float(ndcg_rows(hits, n_rel, k).sum())
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, top.shape[1] + 1)
        totals["map"] += float(((precision_at * hits).sum(axis=1) / np.minimum(n_rel, k)).sum())
        if with_auc:
            auc_sum, n_auc = auc(scores, seen, relevant)
            totals["auc"] += auc_sum
            auc_users += n_auc
    n = len(users)
    result: dict[str, float | None] = {m: totals[m] / n for m in ("precision", "recall", "ndcg", "map")}
    result["auc"] = totals["auc"] / auc_users if auc_users else None
    result["coverage"] = float(shown.sum() / n_items) if n_items else None
    result["cold_recall"] = (cold_hits / cold_total) if cold_total else None
    return result


def auc(scores: np.ndarray, seen: np.ndarray, relevant: np.ndarray) -> tuple[float, int]:
    """Per shopper, the chance that a relevant product outranks a non-relevant candidate
    (ties count half; excluded products are not candidates). Returns (sum over rows, rows)."""
    total, n = 0.0, 0
    for r in range(scores.shape[0]):
        candidates = ~seen[r]
        s, rel = scores[r][candidates], relevant[r][candidates]
        negatives = np.sort(s[~rel])
        positives = s[rel]
        if not len(negatives) or not len(positives):
            continue
        below = np.searchsorted(negatives, positives, "left") + np.searchsorted(negatives, positives, "right")
        total += float(below.sum()) / (2.0 * len(positives) * len(negatives))
        n += 1
    return total, n


def ndcg_rows(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k per row from the hit matrix of the top-k lists (binary relevance)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
    return (hits * discounts[: hits.shape[1]]).sum(axis=1) / ideal


class NdcgValidator:
    """Mean NDCG@k of a fixed set of shoppers, with their masks prepared once (it runs after
    every epoch)."""

    def __init__(self, exclude: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, k: int, batch_size: int = 512) -> None:
        self.k = k
        self.batches = []
        for start in range(0, len(users), batch_size):
            rows = users[start : start + batch_size]
            seen = exclude[rows].toarray() > 0
            relevant = (test[rows].toarray() > 0) & ~seen
            self.batches.append((rows, seen, relevant, relevant.sum(axis=1)))
        self.n = len(users)

    def __call__(self, scorer: Scorer) -> float:
        total = 0.0
        for rows, seen, relevant, n_rel in self.batches:
            scores = np.where(seen, -np.inf, scorer(rows))
            hits = np.take_along_axis(relevant, topk(scores, self.k), axis=1)
            total += float(ndcg_rows(hits, n_rel, self.k).sum())
        return total / self.n if self.n else 0.0
