"""The LightFM trainer: fit with early stopping, incremental ``fit_partial``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from reco_app.datasets.interactions import binary
from reco_app.training.params import TrainParams

#: Called with (epoch, validation score or None) after every epoch.
EpochCallback = Callable[[int, float | None], None]
Validator = Callable[[LightFM], float]

STATE_ARRAYS = (
    "item_embeddings", "item_embedding_gradients", "item_embedding_momentum",
    "item_biases", "item_bias_gradients", "item_bias_momentum",
    "user_embeddings", "user_embedding_gradients", "user_embedding_momentum",
    "user_biases", "user_bias_gradients", "user_bias_momentum",
)


@dataclass
class FitResult:
    model: LightFM
    epochs: int  # epochs of the returned model
    best_score: float | None = None
    history: list[tuple[int, float | None]] = field(default_factory=list)


def lightfm_inputs(weights: sp.csr_matrix) -> tuple[sp.coo_matrix, sp.coo_matrix]:
    """LightFM's (interactions, sample_weight): positives, weighted by ``log1p(weight)``.

    The log keeps a shopper who bought the same product ten times from dominating the
    gradient steps while still counting more than a single view.
    """
    interactions = binary(weights).tocoo()
    sample_weight = sp.coo_matrix(weights, dtype=np.float32, copy=True)
    sample_weight.data = np.log1p(sample_weight.data).astype(np.float32)
    return interactions, sample_weight


def make_model(params: TrainParams) -> LightFM:
    return LightFM(**params.model_kwargs())


def fit(
    weights: sp.csr_matrix,
    params: TrainParams,
    *,
    item_features: sp.csr_matrix | None = None,
    user_features: sp.csr_matrix | None = None,
    validate: Validator | None = None,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Fit up to ``params.epochs``; with ``validate``, stop after ``params.patience`` epochs
    without improvement and return the best epoch's model."""
    model = make_model(params)
    interactions, sample_weight = lightfm_inputs(weights)
    best: LightFM | None = None
    best_score: float | None = None
    best_epoch = 0
    history: list[tuple[int, float | None]] = []
    for epoch in range(1, params.epochs + 1):
        model.fit_partial(
            interactions, user_features=user_features, item_features=item_features,
            sample_weight=sample_weight, epochs=1, num_threads=params.threads,
        )
        score = validate(model) if validate else None
        history.append((epoch, score))
        if on_epoch:
            on_epoch(epoch, score)
        if score is None:
            best_epoch = epoch
            continue
        if best_score is None or score > best_score:
            best, best_score, best_epoch = copy.deepcopy(model), score, epoch
        elif epoch - best_epoch >= params.patience:
            break
    return FitResult(best if best is not None else model, best_epoch, best_score, history)


def fit_more(
    model: LightFM,
    weights: sp.csr_matrix,
    epochs: int,
    params: TrainParams,
    *,
    item_features: sp.csr_matrix | None = None,
    user_features: sp.csr_matrix | None = None,
) -> LightFM:
    """Continue training ``model`` (same shapes) for ``epochs`` on ``weights``."""
    if epochs <= 0 or weights.nnz == 0:
        return model
    interactions, sample_weight = lightfm_inputs(weights)
    model.fit_partial(
        interactions, user_features=user_features, item_features=item_features,
        sample_weight=sample_weight, epochs=epochs, num_threads=params.threads,
    )
    return model


def model_state(model: LightFM) -> dict[str, np.ndarray]:
    """Every array ``fit_partial`` needs to continue training (embeddings + adagrad state)."""
    return {name: np.asarray(getattr(model, name)) for name in STATE_ARRAYS}


def restore_model(params: TrainParams, state: dict[str, np.ndarray]) -> LightFM:
    model = make_model(params)
    for name in STATE_ARRAYS:
        setattr(model, name, np.ascontiguousarray(state[name], dtype=np.float32))
    return model


def representations(
    model: LightFM, item_features: sp.csr_matrix | None, user_features: sp.csr_matrix | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(item_biases, item_embeddings, user_biases, user_embeddings), as ``predict`` sums them."""
    ib, ie = model.get_item_representations(item_features)
    ub, ue = model.get_user_representations(user_features)
    return ib, ie, ub, ue
