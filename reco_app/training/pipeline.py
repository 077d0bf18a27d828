"""One training run: fit with early stopping, evaluate against baselines, refit, artifact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from reco_app import conf
from reco_app.datasets.features import FeatureMatrix
from reco_app.training import baselines
from reco_app.training.artifact import ModelArtifact
from reco_app.training.data import Progress, TrainingData, no_progress
from reco_app.training.metrics import NdcgValidator, Scorer, eval_users, evaluate
from reco_app.training.params import TrainParams
from reco_app.training.trainer import FitResult, fit, fit_more, representations

MODEL_ROW = "lightfm"


@dataclass
class Split:
    """Holdout shoppers, split in two: one half steers early stopping, the other is reported."""

    validation: np.ndarray
    test: np.ndarray


def split_users(data: TrainingData, max_users: int | None = None) -> Split:
    users = eval_users(data.train, data.test, max_users=max_users, exclude=data.exclude)
    shuffled = np.random.default_rng(1).permutation(users)
    half = len(shuffled) // 2
    return Split(np.sort(shuffled[:half]), np.sort(shuffled[half:]))


def model_scorer(model: LightFM, data: TrainingData) -> Scorer:
    """Scores as of the cutoff (the item features the model was fitted with)."""
    ib, ie = model.get_item_representations(data.train_item_features)
    ie64, ib64 = ie.astype(np.float64), ib.astype(np.float64)
    if data.user_features is None:  # identity user features: the rows are the representations
        ue, ub = model.user_embeddings, model.user_biases
    else:
        ub, ue = model.get_user_representations(data.user_features.matrix)

    def score(rows: np.ndarray) -> np.ndarray:
        return ue[rows].astype(np.float64) @ ie64.T + ib64[None, :] + ub[rows, None].astype(np.float64)

    return score


def train_inputs(data: TrainingData) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(interactions, item features) of the fit before the cutoff, over the products on sale
    then: a product launched after the cutoff could not have been bought, so it must not be a
    WARP negative (which would push its metadata down and bury it). The fitted feature
    embeddings still give every product, launched or not, its representation."""
    on_sale = data.on_sale_at_cutoff
    if on_sale.all():
        return data.train, data.train_item_features
    return sp.csr_matrix(data.train[:, on_sale]), sp.csr_matrix(data.train_item_features[on_sale])


def _features(fm: Any) -> Any:
    return None if fm is None else fm.matrix


def validator(data: TrainingData, users: np.ndarray, k: int) -> Any:
    if not len(users):
        return None
    ndcg = NdcgValidator(data.exclude, data.test, users, k)

    def validate(model: LightFM) -> float:
        return ndcg(model_scorer(model, data))

    return validate


def evaluation_table(
    data: TrainingData, model: LightFM, users: np.ndarray, k: int, *, with_baselines: bool = True
) -> dict[str, Any]:
    scorers: dict[str, Scorer] = {MODEL_ROW: model_scorer(model, data)}
    if with_baselines:
        scorers["popularity"] = baselines.popularity(data.train)
        scorers["trending"] = baselines.trending(data.recent, data.train)
        scorers["cooccurrence"] = baselines.cooccurrence(data.train)
    rows = {
        name: evaluate(s, data.exclude, data.test, users, k=k, cold_items=data.cold_items)
        for name, s in scorers.items()
    }
    return {
        "k": k,
        "cutoff": data.cutoff.isoformat(),
        "until": data.until.isoformat(),
        "users": len(users),
        "cold_items": int(data.cold_items.sum()),
        "exclude": data.exclude_rule,
        "rows": rows,
    }


@dataclass
class RunResult:
    model: LightFM
    fit: FitResult
    evaluation: dict[str, Any]
    params: TrainParams

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.evaluation.get("rows", {}).get(MODEL_ROW, {}))


def run(
    data: TrainingData,
    params: TrainParams,
    *,
    progress: Progress = no_progress,
    with_baselines: bool = True,
    refit: bool = True,
) -> RunResult:
    """Fit on the events before the cutoff (early stopping on the validation shoppers),
    evaluate on the test shoppers, then refit on all events for ``params.refit_epochs``."""
    k = int(conf.get("TRAINING_EVAL_K"))
    split = split_users(data, conf.get("TRAINING_EVAL_MAX_USERS"))
    progress("fit", 0, params.epochs)
    weights, item_features = train_inputs(data)
    result = fit(
        weights, params,
        item_features=item_features, user_features=_features(data.user_features),
        validate=validator(data, split.validation, k),
        on_epoch=lambda epoch, score: progress("fit", epoch, params.epochs),
    )
    progress("evaluate", 0, 1)
    table = evaluation_table(data, result.model, split.test, k, with_baselines=with_baselines)
    table["validation_users"] = len(split.validation)
    table["epochs"] = result.epochs
    table["epochs_run"] = len(result.history)
    progress("evaluate", 1, 1)
    model = result.model
    if refit and params.refit_epochs:
        progress("refit", 0, params.refit_epochs)
        model = fit_more(
            model, data.full, params.refit_epochs, params,
            item_features=data.item_features.matrix, user_features=_features(data.user_features),
        )
        progress("refit", params.refit_epochs, params.refit_epochs)
    return RunResult(model, result, table, params)


def to_artifact(model: LightFM, data: TrainingData, manifest: dict[str, Any]) -> ModelArtifact:
    """The serving contract: final representations plus per-feature vectors and names."""
    return build_artifact(
        model, data.user_keys, data.item_keys, data.item_features,
        _features(data.user_features), manifest,
    )


def build_artifact(
    model: LightFM,
    user_keys: np.ndarray,
    item_keys: np.ndarray,
    item_features: FeatureMatrix,
    user_features: sp.csr_matrix | None,
    manifest: dict[str, Any],
) -> ModelArtifact:
    ib, ie, ub, ue = representations(model, item_features.matrix, user_features)
    return ModelArtifact(
        item_keys=np.asarray(item_keys, dtype=str),
        user_keys=np.asarray(user_keys, dtype=str),
        item_embeddings=ie.astype(np.float32),
        item_biases=ib.astype(np.float32),
        user_embeddings=ue.astype(np.float32),
        user_biases=ub.astype(np.float32),
        feature_names=np.asarray(item_features.names, dtype=str),
        feature_embeddings=np.asarray(model.item_embeddings, dtype=np.float32),
        feature_biases=np.asarray(model.item_biases, dtype=np.float32),
        manifest={**manifest, "item_feature_spec": item_features.spec},
    )
