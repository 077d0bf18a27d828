"""Baselines scored exactly like the model: popularity, recent trending, co-occurrence.

A baseline knows nothing about a product without interactions before the cutoff, so such
products score ``-inf`` (ranked last): they are what cold-item recall measures.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from reco_app.datasets.interactions import binary
from reco_app.training.metrics import Scorer


def _known(train: sp.csr_matrix) -> np.ndarray:
    return np.asarray((train > 0).sum(axis=0)).ravel().astype(np.float64)


def popularity(train: sp.csr_matrix) -> Scorer:
    """Number of shoppers who interacted with each product before the cutoff."""
    pop = _known(train)
    scores = np.where(pop > 0, pop, -np.inf)

    def score(rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(scores, (len(rows), len(scores)))

    return score


def trending(recent: sp.csr_matrix, train: sp.csr_matrix) -> Scorer:
    """Decayed interaction weight of the last days before the cutoff (``recent``), with
    all-time popularity breaking ties."""
    pop = _known(train)
    trend = np.asarray(recent.sum(axis=0)).ravel().astype(np.float64)
    scores = np.where(pop > 0, trend + pop / (pop.max() + 1.0) * 1e-3, -np.inf)

    def score(rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(scores, (len(rows), len(scores)))

    return score


def cooccurrence(train: sp.csr_matrix) -> Scorer:
    """Item-to-item: products most often engaged with by the shoppers of the user's products
    (cosine-normalised co-occurrence counts), summed over the user's history.

    ``score_j = Σ_i x_ri · c_ij / (‖i‖·‖j‖)`` is computed through the shoppers
    (``((x_r / ‖·‖) @ Xᵀ) @ (X / ‖·‖)``) instead of materialising the item×item matrix,
    which for a large catalog is the costly part. The diagonal (an item with itself) only
    touches the user's own products, which the evaluation excludes anyway.
    """
    x = binary(train)
    norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float64)
    norms[norms == 0] = 1.0
    scaled = sp.csr_matrix(x @ sp.diags(1.0 / norms))
    xt = sp.csr_matrix(x.T)  # items × users
    pop = _known(train)
    tie = pop / (pop.max() + 1.0) * 1e-6 if len(pop) else pop

    def score(rows: np.ndarray) -> np.ndarray:
        through_users = scaled[rows] @ xt
        s = (through_users @ scaled).toarray() + tie
        s[:, pop == 0] = -np.inf
        return s

    return score
