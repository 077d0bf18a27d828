"""Events → a weighted user×item interaction matrix (pure numpy/scipy)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from reco_app.datasets.events import EventArrays
from reco_app.datasets.idmaps import encode

DAY = 86400.0
#: A rating event weighs ``EVENT_WEIGHTS["rating"] * (value - RATING_MIDPOINT)``: 1-2 stars
#: reduce the weight, 3-5 stars add to it.
RATING_MIDPOINT = 2.5


def event_weights(events: EventArrays, weights: Mapping[str, float]) -> np.ndarray:
    """The weight of each event from its type (ratings scaled by their value)."""
    out = np.zeros(len(events), dtype=np.float64)
    for event_type, weight in weights.items():
        mask = events.types == event_type
        if not mask.any():
            continue
        if event_type == "rating":
            values = np.nan_to_num(events.values[mask] - RATING_MIDPOINT, nan=0.0)
            out[mask] = weight * values
        else:
            out[mask] = weight
    return out


def decay(timestamps: np.ndarray, now: float, half_life_days: float | None) -> np.ndarray:
    """``0.5 ** (age / half-life)``; events in the future count fully; no half-life, no decay."""
    if not half_life_days:
        return np.ones(len(timestamps))
    age = np.clip(now - timestamps, 0.0, None) / DAY
    return np.power(0.5, age / float(half_life_days))


def build_interactions(
    events: EventArrays,
    user_index: dict[str, int],
    item_index: dict[str, int],
    weights: Mapping[str, float],
    *,
    now: float,
    half_life_days: float | None = None,
) -> sp.csr_matrix:
    """Sum of decayed event weights per (shopper, product), clipped at 0.

    Negative signals (``remove_from_cart``, low ratings) subtract from the pair's sum, so a
    product added and removed again ends near zero instead of counting as a positive.
    Events of shoppers or products outside the maps are ignored.
    """
    shape = (len(user_index), len(item_index))
    if not len(events):
        return sp.csr_matrix(shape, dtype=np.float32)
    if events.rows is not None and events.cols is not None:
        rows, cols = events.rows, events.cols
    else:
        rows, cols = encode(events.subjects, user_index), encode(events.products, item_index)
    w = event_weights(events, weights) * decay(events.timestamps, now, half_life_days)
    keep = (rows >= 0) & (cols >= 0) & (w != 0)
    matrix = sp.coo_matrix((w[keep], (rows[keep], cols[keep])), shape=shape).tocsr()  # sums duplicates
    matrix.data = np.clip(matrix.data, 0.0, None)
    matrix.eliminate_zeros()
    return matrix.astype(np.float32)


def binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    out.eliminate_zeros()
    return out
