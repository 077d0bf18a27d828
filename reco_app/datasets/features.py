"""Item and user features for LightFM's hybrid model.

Item features: the product itself (identity), its category, brand, price band (quantiles of
the catalog's prices), tags and description words (TF-IDF weights, capped vocabulary). Each
row is L1-normalised so a product with many tags does not get a longer vector. A product the
model never saw interacting gets its vector from its metadata alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco_app.datasets.events import CatalogArrays

TOKEN = re.compile(r"[a-z0-9][a-z0-9\-]{2,}")
STOPWORDS = frozenset(
    ["the", "and", "for", "with", "you", "your", "our", "this", "that", "from", "are", "was", "were", "has", "have", "had", "not", "but", "all", "any", "can", "its", "it's", "into", "out", "over", "more", "most", "very", "will", "just", "than", "then", "them", "they", "their", "there", "which", "what", "who", "how", "why", "when", "where", "made", "make", "also", "each", "other", "such", "only", "own", "same", "too", "per"]
)


@dataclass
class FeatureMatrix:
    matrix: sp.csr_matrix
    names: np.ndarray
    #: How to encode a product later (price band edges, word idf); stored in the manifest.
    spec: dict[str, Any] = field(default_factory=dict)

    def index(self) -> dict[str, int]:
        return {str(n): i for i, n in enumerate(self.names)}


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


def price_edges(prices: np.ndarray, bands: int) -> list[float]:
    known = prices[~np.isnan(prices)]
    if bands < 2 or not len(known):
        return []
    return sorted({float(x) for x in np.quantile(known, np.linspace(0, 1, bands + 1)[1:-1])})


def word_idf(descriptions: Sequence[str], max_vocabulary: int) -> dict[str, float]:
    """Smoothed idf of the ``max_vocabulary`` words found in the most descriptions (≥ 2)."""
    df: Counter[str] = Counter()
    for text in descriptions:
        df.update(set(tokenize(text)))
    n = len(descriptions)
    ranked = sorted((w for w, c in df.items() if c >= 2), key=lambda w: (-df[w], w))[:max_vocabulary]
    return {w: math.log((1 + n) / (1 + df[w])) + 1.0 for w in ranked}


def _item_row(catalog: CatalogArrays, i: int, edges: list[float], idf: Mapping[str, float]) -> dict[str, float]:
    row: dict[str, float] = {f"item:{catalog.keys[i]}": 1.0}
    if catalog.categories[i]:
        row[f"category:{catalog.categories[i]}"] = 1.0
    if catalog.brands[i]:
        row[f"brand:{catalog.brands[i]}"] = 1.0
    price = catalog.prices[i]
    if edges and not math.isnan(price):
        row[f"price:{int(np.searchsorted(edges, price, side='right'))}"] = 1.0
    tags = catalog.tags[i]
    for tag in tags:
        row[f"tag:{tag}"] = 1.0 / len(tags)
    words = [w for w in tokenize(catalog.descriptions[i]) if w in idf]
    if words:
        counts = Counter(words)
        tfidf = {w: (c / len(words)) * idf[w] for w, c in counts.items()}
        total = sum(tfidf.values())
        for w, v in tfidf.items():
            row[f"word:{w}"] = v / total  # the description as a whole weighs like one attribute
    return row


def build_item_features(
    catalog: CatalogArrays,
    item_keys: np.ndarray,
    *,
    price_bands: int = 5,
    max_vocabulary: int = 2000,
    spec: Mapping[str, Any] | None = None,
    names: np.ndarray | None = None,
) -> FeatureMatrix:
    """Feature matrix (len(item_keys) × n_features), rows L1-normalised.

    With ``spec`` and ``names`` (from an earlier model) the vocabulary is fixed: features the
    model does not know are dropped, so the columns match its embeddings.
    """
    if spec is None:
        spec = {
            "price_edges": price_edges(catalog.prices, price_bands),
            "idf": word_idf(list(catalog.descriptions), max_vocabulary),
        }
    edges, idf = list(spec["price_edges"]), dict(spec["idf"])
    position = {str(k): i for i, k in enumerate(catalog.keys)}
    rows: list[dict[str, float]] = []
    for key in item_keys:
        i = position.get(str(key))
        rows.append({f"item:{key}": 1.0} if i is None else _item_row(catalog, i, edges, idf))
    fixed = names is not None
    vocab: dict[str, int] = {str(n): j for j, n in enumerate(names)} if fixed else {}  # type: ignore[union-attr]
    indptr, indices, data = [0], [], []
    for row in rows:
        for name, value in row.items():
            j = vocab.get(name)
            if j is None:
                if fixed:
                    continue
                j = vocab[name] = len(vocab)
            indices.append(j)
            data.append(value)
        indptr.append(len(indices))
    matrix = sp.csr_matrix(
        (np.array(data, np.float32), np.array(indices, np.int32), np.array(indptr, np.int64)),
        shape=(len(rows), len(vocab)),
    )
    return FeatureMatrix(normalize_rows(matrix), np.array(list(vocab), dtype=object), dict(spec))


def build_user_features(
    user_keys: np.ndarray, provider: Callable[[list[str]], Mapping[str, Sequence[str]]] | None
) -> FeatureMatrix | None:
    """Identity + segment memberships per shopper; ``None`` (identity only) without segments."""
    memberships = provider([str(k) for k in user_keys]) if provider else {}
    if not memberships or not any(memberships.values()):
        return None
    n = len(user_keys)
    segments = sorted({str(s) for segs in memberships.values() for s in segs})
    seg_index = {s: n + j for j, s in enumerate(segments)}
    rows, cols = list(range(n)), list(range(n))
    for i, key in enumerate(user_keys):
        for s in memberships.get(str(key), ()):
            rows.append(i)
            cols.append(seg_index[str(s)])
    matrix = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n + len(segments))
    )
    names = np.array([f"user:{k}" for k in user_keys] + [f"segment:{s}" for s in segments], dtype=object)
    return FeatureMatrix(normalize_rows(matrix), names)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ matrix, dtype=np.float32)


def drop_identity(features: FeatureMatrix, item_keys: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    """Item features where the products in ``rows`` (a boolean mask) have no identity feature.

    A product without interactions only ever appears as a WARP negative, which would push its
    own identity vector (and bias) down and bury it; without one, its representation is its
    metadata alone, shared with similar products that do sell.
    """
    index = features.index()
    cols = np.array([index.get(f"item:{k}", -1) for k in item_keys], dtype=np.int64)
    coo = features.matrix.tocoo()
    drop = rows[coo.row] & (coo.col == cols[coo.row])
    matrix = sp.csr_matrix((coo.data[~drop], (coo.row[~drop], coo.col[~drop])), shape=features.matrix.shape)
    return normalize_rows(matrix)


def identity_mask(features: FeatureMatrix, item_keys: np.ndarray) -> np.ndarray:
    """Which products have a non-zero identity feature in ``features``."""
    index = features.index()
    cols = np.array([index.get(f"item:{k}", -1) for k in item_keys], dtype=np.int64)
    coo = features.matrix.tocoo()
    mask = np.zeros(len(item_keys), dtype=bool)
    hit = coo.col == cols[coo.row]
    mask[coo.row[hit]] = True
    return mask


def build_user_features_fixed(
    user_keys: np.ndarray, provider: Callable[[list[str]], Mapping[str, Sequence[str]]] | None, names: Sequence[str]
) -> sp.csr_matrix | None:
    """User features with an earlier model's columns (``names``); ``None`` if it had none."""
    if not len(names):
        return None
    index = {str(n): j for j, n in enumerate(names)}
    memberships = provider([str(k) for k in user_keys]) if provider else {}
    rows, cols = [], []
    for i, key in enumerate(user_keys):
        for name in [f"user:{key}", *(f"segment:{s}" for s in memberships.get(str(key), ()))]:
            j = index.get(name)
            if j is not None:
                rows.append(i)
                cols.append(j)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(user_keys), len(names)))
    return normalize_rows(matrix)
