"""Evaluation and tuning without registering a version (``reco_evaluate``, ``reco_tune``)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reco_app import conf
from reco_app.training.data import Progress, TrainingData, load_training_data, no_progress
from reco_app.training.params import TrainParams
from reco_app.training.pipeline import run, split_users, train_inputs, validator
from reco_app.training.trainer import fit

#: The default search space of ``reco_tune``.
SEARCH_SPACE: dict[str, list[Any]] = {
    "no_components": [16, 32, 64],
    "learning_rate": [0.02, 0.05, 0.08, 0.12],
    "max_sampled": [10, 30],
    "item_alpha": [0.0, 1e-6, 1e-5],
    "user_alpha": [0.0, 1e-6, 1e-5],
    "loss": ["warp", "bpr"],
}


def evaluate_current(
    *, until: dt.datetime | None = None, params: TrainParams | None = None, progress: Progress = no_progress,
    data: TrainingData | None = None,
) -> dict[str, Any]:
    """Fit the configured model on the events before the cutoff and return the evaluation
    table (model and baselines on the holdout)."""
    data = data or load_training_data(until, progress)
    result = run(data, params or TrainParams.from_settings(), progress=progress, refit=False)
    return result.evaluation


def candidates(space: Mapping[str, Sequence[Any]], trials: int, seed: int = 0) -> list[dict[str, Any]]:
    """Every combination when there are at most ``trials``; else a random sample of them."""
    keys = list(space)
    grid = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k] for k in keys))]
    if len(grid) <= trials:
        return grid
    return random.Random(seed).sample(grid, trials)


def tune(
    *,
    trials: int = 8,
    space: Mapping[str, Sequence[Any]] | None = None,
    seed: int = 0,
    until: dt.datetime | None = None,
    on_trial: Callable[[int, dict[str, Any], float, int], None] | None = None,
    data: TrainingData | None = None,
    base: TrainParams | None = None,
) -> list[dict[str, Any]]:
    """Random/grid search scored by NDCG@K on the validation shoppers; best first."""
    data = data or load_training_data(until)
    base = base or TrainParams.from_settings()
    k = int(conf.get("TRAINING_EVAL_K"))
    split = split_users(data, conf.get("TRAINING_EVAL_MAX_USERS"))
    validate = validator(data, split.validation, k)
    weights, item_features = train_inputs(data)
    results = []
    for n, trial in enumerate(candidates(space or SEARCH_SPACE, trials, seed), start=1):
        params = base.with_(**trial)
        fitted = fit(
            weights, params, item_features=item_features,
            user_features=None if data.user_features is None else data.user_features.matrix,
            validate=validate,
        )
        score = float(fitted.best_score or 0.0)
        results.append({"trial": n, "params": trial, f"ndcg@{k}": score, "epochs": fitted.epochs})
        if on_trial:
            on_trial(n, trial, score, fitted.epochs)
    return sorted(results, key=lambda r: -r[f"ndcg@{k}"])
