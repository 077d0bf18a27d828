"""Serving's side of the item feature vocabulary: a product the model has never seen gets a
vector from the embeddings of its metadata features, named as training names them
(:mod:`reco_app.datasets.features` holds the one spelling of each feature name).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from reco_app.datasets.features import brand_feature, category_feature, tag_feature
from reco_app.serving.types import CatalogIndex

__all__ = ["brand_feature", "catalog_feature_matrix", "category_feature", "item_feature_names", "tag_feature"]


def item_feature_names(catalog_row: dict[str, Any]) -> list[str]:
    """The metadata feature names of one product (a ``CatalogItem`` row as a dict).

    ``category:<category>``, ``brand:<brand>`` and one ``tag:<tag>`` per tag, exactly as the
    catalog snapshot stores them (tags are already lower-cased by the adapter).
    """
    names = []
    if catalog_row.get("category"):
        names.append(category_feature(str(catalog_row["category"])))
    if catalog_row.get("brand"):
        names.append(brand_feature(str(catalog_row["brand"])))
    names.extend(tag_feature(str(t)) for t in catalog_row.get("tags") or [])
    return names


def catalog_feature_matrix(catalog: CatalogIndex, feature_names: list[str], rows: np.ndarray) -> sp.csr_matrix:
    """Rows ``rows`` of the catalog as a row-normalised (len(rows), len(feature_names)) matrix.

    Built from the catalog's column arrays (the same names as :func:`item_feature_names`);
    features the model does not know are ignored. Rows with no known feature are all zero.
    """
    col = {name: j for j, name in enumerate(feature_names)}
    cat_cols = np.array([col.get(category_feature(c), -1) for c in catalog.categories] + [-1], np.int64)
    brand_cols = np.array([col.get(brand_feature(b), -1) for b in catalog.brands] + [-1], np.int64)
    tag_cols = np.array([col.get(tag_feature(t), -1) for t in catalog.tag_names] + [-1], np.int64)
    n = len(rows)
    r_parts = [np.arange(n), np.arange(n)]
    c_parts = [cat_cols[catalog.category[rows]], brand_cols[catalog.brand[rows]]]
    tags = catalog.tags[rows].tocoo()
    r_parts.append(tags.row)
    c_parts.append(tag_cols[tags.col] if len(tag_cols) > 1 else np.full(len(tags.col), -1))
    r = np.concatenate(r_parts)
    c = np.concatenate(c_parts)
    keep = c >= 0
    m = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (r[keep], c[keep])), shape=(n, len(feature_names)))
    counts = np.asarray(m.sum(axis=1)).ravel()
    counts[counts == 0] = 1.0
    return sp.diags(1.0 / counts).dot(m).tocsr()
