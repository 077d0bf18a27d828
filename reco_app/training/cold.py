"""Vectors for products the active model has never seen, from their metadata.

A product's representation in LightFM is the weighted sum of its features' embeddings
(and biases). The artifact carries every item feature's vector and name plus the encoding
spec (price band edges, word idf), so serving can embed a product added after training.
"""

from __future__ import annotations

import numpy as np

from reco_app.datasets.catalog import CatalogIndex
from reco_app.datasets.features import build_item_features
from reco_app.training.artifact import ModelArtifact


def embed_items(artifact: ModelArtifact, catalog: CatalogIndex) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (n, d), biases (n,)) of ``catalog``'s products, known to the model or not."""
    features = build_item_features(
        catalog, catalog.keys, spec=artifact.manifest["item_feature_spec"], names=artifact.feature_names
    )
    return (
        np.asarray(features.matrix @ artifact.feature_embeddings, dtype=np.float32),
        np.asarray(features.matrix @ artifact.feature_biases, dtype=np.float32).ravel(),
    )
