"""Item and user features for LightFM's hybrid model.

Item features: the product itself (identity), its category, brand, price band (quantiles of
the catalog's prices), tags and description words (TF-IDF weights, capped vocabulary). Each
row is L1-normalised so a product with many tags does not get a longer vector; within it the
identity feature weighs ``identity_share`` and the metadata the rest (each attribute group
alike). With a small identity share a product with a history is blurred into the average of
its category and brand; with a large one its own vector dominates while the metadata still
learns from it. A product the model never saw interacting gets its vector from its metadata
alone (weights summing to 1).

User features: the shopper's identity plus segment memberships, the segments together
weighing ``segment_share`` of the row, so a few memberships do not drown the shopper's own
vector.
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

from reco_app.datasets.catalog import CatalogIndex

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


# Feature names: training's vocabulary, and what serving looks up to embed a product the
# model has never seen (``reco_app.serving.features``), so there is one spelling of each.
def item_feature(key: str) -> str:
    return f"item:{key}"


def category_feature(name: str) -> str:
    return f"category:{name}"


def brand_feature(name: str) -> str:
    return f"brand:{name}"


def price_feature(band: int) -> str:
    return f"price:{band}"


def tag_feature(name: str) -> str:
    return f"tag:{name}"


def word_feature(word: str) -> str:
    return f"word:{word}"


#: Default share of the identity feature in a known product's row (see the module docstring).
IDENTITY_SHARE = 0.3
#: Default sum of the feature row of a product the model has no identity for.
NEW_PRODUCT_WEIGHT = 0.95
#: Default share of all segment memberships in a shopper's row.
SEGMENT_SHARE = 0.2


def _item_row(
    key: str, category: str, brand: str, price: float, tags: list[str], description: str,
    edges: list[float], idf: Mapping[str, float], identity_share: float | None,
) -> dict[str, float]:
    identity = item_feature(key)
    row: dict[str, float] = {identity: 1.0}
    if category:
        row[category_feature(category)] = 1.0
    if brand:
        row[brand_feature(brand)] = 1.0
    if edges and not math.isnan(price):
        row[price_feature(int(np.searchsorted(edges, price, side="right")))] = 1.0
    for tag in tags:
        row[tag_feature(tag)] = 1.0 / len(tags)
    words = [w for w in tokenize(description) if w in idf]
    if words:
        counts = Counter(words)
        tfidf = {w: (c / len(words)) * idf[w] for w, c in counts.items()}
        total = sum(tfidf.values())
        for w, v in tfidf.items():
            row[word_feature(w)] = v / total  # the description as a whole weighs like one attribute
    return row if identity_share is None else with_identity_share(row, identity, identity_share)


def with_identity_share(row: dict[str, float], identity: str, share: float) -> dict[str, float]:
    """``row`` scaled so that ``identity`` weighs ``share`` (0 < share ≤ 1) of its sum and the
    other features ``1 - share`` between them (just the identity when there is nothing else)."""
    rest = sum(v for name, v in row.items() if name != identity)
    if not rest:
        return {identity: 1.0}
    scale = (1.0 - share) / rest
    scaled = {name: v * scale for name, v in row.items() if name != identity and v * scale > 0}
    return {identity: share, **scaled}


def build_item_features(
    catalog: CatalogIndex,
    item_keys: np.ndarray,
    *,
    price_bands: int = 5,
    max_vocabulary: int = 2000,
    spec: Mapping[str, Any] | None = None,
    names: np.ndarray | None = None,
    identity_share: float = IDENTITY_SHARE,
    new_weight: float = NEW_PRODUCT_WEIGHT,
) -> FeatureMatrix:
    """Feature matrix (len(item_keys) × n_features), rows L1-normalised, the identity
    feature weighing ``identity_share`` of a row (the spec's share when ``spec`` is given),
    products without a known identity summing to ``new_weight`` (see :func:`drop_identity`).

    With ``spec`` and ``names`` (from an earlier model) the vocabulary is fixed: features the
    model does not know are dropped, so the columns match its embeddings.
    """
    if spec is None:
        spec = {
            "price_edges": price_edges(catalog.price, price_bands),
            "idf": word_idf(list(catalog.descriptions), max_vocabulary),
            "identity_share": float(identity_share),
            "new_product_weight": float(new_weight),
        }
    edges, idf = list(spec["price_edges"]), dict(spec["idf"])
    share = spec.get("identity_share")  # None (models before the setting): identity weighs like one attribute
    # the coded columns decoded once, for the loop over products
    categories, brands = catalog.category_names().tolist(), catalog.brand_names().tolist()
    prices, tags, descriptions = catalog.price.tolist(), catalog.tag_lists(), catalog.descriptions.tolist()
    position = catalog.key_to_idx
    rows: list[dict[str, float]] = []
    for key in item_keys:
        i = position.get(str(key))
        if i is None:
            rows.append({item_feature(str(key)): 1.0})
            continue
        attributes = (categories[i], brands[i], prices[i], tags[i], descriptions[i])
        rows.append(_item_row(str(key), *attributes, edges, idf, share))
    fixed = names is not None
    vocab: dict[str, int] = {str(n): j for j, n in enumerate(names)} if names is not None else {}
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
    names_out = np.array(list(vocab), dtype=object)
    if share is None:  # a model before the identity share: every row sums to 1
        return FeatureMatrix(normalize_rows(matrix), names_out, dict(spec))
    # The rows sum to 1. A product whose identity the model does not know (launched after
    # training) keeps its known features, scaled to the spec's new-product weight.
    index = {str(n): j for j, n in enumerate(names_out)}
    unseen = np.array([item_feature(k) not in index for k in item_keys], dtype=bool)
    matrix = scale_rows(sp.csr_matrix(matrix, dtype=np.float32), unseen, new_product_weight(spec))
    return FeatureMatrix(matrix, names_out, dict(spec))


def build_user_features(
    user_keys: np.ndarray,
    provider: Callable[[list[str]], Mapping[str, Sequence[str]]] | None,
    segment_share: float = SEGMENT_SHARE,
) -> FeatureMatrix | None:
    """Identity + segment memberships per shopper (the segments weighing ``segment_share``
    of the row together); ``None`` (identity only) without segments."""
    memberships = provider([str(k) for k in user_keys]) if provider else {}
    if not memberships or not any(memberships.values()):
        return None
    segments = sorted({str(s) for segs in memberships.values() for s in segs})
    names = np.array([f"user:{k}" for k in user_keys] + [f"segment:{s}" for s in segments], dtype=object)
    matrix = _user_matrix(user_keys, memberships, {str(name): j for j, name in enumerate(names)}, segment_share)
    return FeatureMatrix(matrix, names, {"segment_share": float(segment_share)})


def _user_matrix(
    user_keys: np.ndarray, memberships: Mapping[str, Sequence[str]], index: Mapping[str, int],
    segment_share: float | None,
) -> sp.csr_matrix:
    """Rows of identity + known segments; ``segment_share`` None weighs every feature alike."""
    rows, cols, vals = [], [], []
    for i, key in enumerate(user_keys):
        row = {f"segment:{s}": 1.0 for s in memberships.get(str(key), ()) if f"segment:{s}" in index}
        identity = f"user:{key}"
        if segment_share is not None:
            row = with_identity_share({identity: 1.0, **row}, identity, 1.0 - segment_share)
        elif identity in index:
            row[identity] = 1.0
        for name, value in row.items():
            if name in index:
                rows.append(i)
                cols.append(index[name])
                vals.append(value)
    matrix = sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(len(user_keys), len(index)))
    return normalize_rows(matrix)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ matrix, dtype=np.float32)


def drop_identity(features: FeatureMatrix, item_keys: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    """Item features where the products in ``rows`` (a boolean mask) have no identity feature.

    A product without interactions has nothing to learn its own vector from; without one,
    its representation is its metadata, shared with similar products that do sell, scaled
    to sum to the spec's ``new_product_weight`` (1 for models before it). At
    ``1 - identity_share`` a new product scores like the metadata part of a known one, with
    an unknown identity counting as zero; above it, new products get a deliberate lift.
    """
    index = features.index()
    cols = np.array([index.get(item_feature(k), -1) for k in item_keys], dtype=np.int64)
    coo = features.matrix.tocoo()
    drop = rows[coo.row] & (coo.col == cols[coo.row])
    matrix = sp.csr_matrix((coo.data[~drop], (coo.row[~drop], coo.col[~drop])), shape=features.matrix.shape)
    if features.spec.get("identity_share") is None:
        return normalize_rows(matrix)
    return scale_rows(matrix, rows, new_product_weight(features.spec))


def new_product_weight(spec: Mapping[str, Any]) -> float:
    """Sum of the feature row of a product without identity (1.0 for models before it)."""
    return float(spec.get("new_product_weight", 1.0))


def scale_rows(matrix: sp.csr_matrix, rows: np.ndarray, total: float) -> sp.csr_matrix:
    """``matrix`` with the rows in the boolean mask ``rows`` scaled to sum to ``total``."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    factor = np.ones(matrix.shape[0])
    pick = rows & (sums > 0)
    factor[pick] = total / sums[pick]
    return sp.csr_matrix(sp.diags(factor) @ matrix, dtype=np.float32)


def identity_mask(features: FeatureMatrix, item_keys: np.ndarray) -> np.ndarray:
    """Which products have a non-zero identity feature in ``features``."""
    index = features.index()
    cols = np.array([index.get(item_feature(k), -1) for k in item_keys], dtype=np.int64)
    coo = features.matrix.tocoo()
    mask = np.zeros(len(item_keys), dtype=bool)
    hit = coo.col == cols[coo.row]
    mask[coo.row[hit]] = True
    return mask


def build_user_features_fixed(
    user_keys: np.ndarray,
    provider: Callable[[list[str]], Mapping[str, Sequence[str]]] | None,
    names: Sequence[str],
    segment_share: float | None = None,
) -> sp.csr_matrix | None:
    """User features with an earlier model's columns (``names``) and segment share (from its
    manifest; ``None`` for models before the setting); ``None`` if it had no user features."""
    if not len(names):
        return None
    index = {str(n): j for j, n in enumerate(names)}
    memberships = provider([str(k) for k in user_keys]) if provider else {}
    return _user_matrix(user_keys, memberships, index, segment_share)
