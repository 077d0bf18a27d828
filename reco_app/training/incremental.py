"""Incremental updates: continue the active model on the events since it was trained.

Only shoppers and products the active model knows are updated (``fit_partial`` needs the
same matrix shapes); new shoppers and products wait for the next full retrain. There is no
fresh holdout, so the update keeps its parent's evaluation and is activated when its parent
is still the active version.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone

from reco_app import conf
from reco_app.datasets.catalog import TRAINING_FIELDS, load_catalog
from reco_app.datasets.events import load_events
from reco_app.datasets.features import (
    FeatureMatrix,
    build_item_features,
    build_user_features_fixed,
    drop_identity,
)
from reco_app.datasets.idmaps import index_of
from reco_app.datasets.interactions import build_interactions
from reco_app.models import ModelVersion
from reco_app.training.artifact import load_artifact
from reco_app.training.data import Progress, no_progress, user_feature_provider
from reco_app.training.lock import claim
from reco_app.training.params import TrainParams
from reco_app.training.pipeline import build_artifact
from reco_app.training.registry import _fail, activate, artifact_name, register_artifact
from reco_app.training.state import load_state, save_state
from reco_app.training.suppression import suppressed_subjects
from reco_app.training.trainer import fit_more, model_state, restore_model

Status = ModelVersion.Status


def train_incremental(
    *, until: dt.datetime | None = None, progress: Progress = no_progress, task_id: str = ""
) -> ModelVersion | None:
    """Returns the new version, or ``None`` when there is no active model or nothing new."""
    if task_id:
        done = ModelVersion.objects.filter(params__task_id=task_id).exclude(status=Status.FAILED).first()
        if done is not None:
            return done
    parent = ModelVersion.objects.active()
    if parent is None or not parent.artifact_name or parent.data_until is None:
        return None
    until, since = until or timezone.now(), parent.data_until
    progress("load", 0, 2)
    events = load_events(since=parent.data_until, until=until, exclude_subjects=suppressed_subjects(parent.pk))
    if not len(events):
        return None
    version = claim(lambda: ModelVersion.objects.create(
        kind=ModelVersion.Kind.INCREMENTAL, parent=parent, status=Status.TRAINING,
        started_at=timezone.now(), data_from=parent.data_from, data_until=until,
        params={**parent.params, "task_id": task_id, "since": since.isoformat()},
    ))
    try:
        _update(version, parent, events, until, progress)
    except BaseException as exc:
        _fail(version, exc)
        if not isinstance(exc, Exception):
            raise
        return version
    version.refresh_from_db()
    parent.refresh_from_db()
    if version.status == Status.READY and parent.status == Status.ACTIVE and conf.get("TRAINING_AUTO_ACTIVATE"):
        activate(version)
        version.refresh_from_db()
    from reco_app.training.retention import prune_quietly

    prune_quietly()
    return version


def _update(version: ModelVersion, parent: ModelVersion, events, until: dt.datetime, progress: Progress) -> None:  # type: ignore[no-untyped-def]
    art = load_artifact(parent.artifact_name, expected_sha256=parent.sha256 or None)
    manifest = art.manifest
    params = TrainParams(**{k: v for k, v in manifest["params"].items() if k in TrainParams.__dataclass_fields__})
    state = load_state(parent.artifact_name, manifest["state_sha256"])
    # Shoppers erased since (or shortly before) the parent was trained are not carried over:
    # read after this run's claim, so an erasure committed later suppresses this version too.
    user_keys, user_feature_names = drop_users(art.user_keys, manifest.get("user_feature_names", []), state, set(suppressed_subjects(parent.pk)))
    model = restore_model(params, state)
    progress("load", 1, 2)
    users, items = index_of(user_keys), index_of(art.item_keys)
    recent = build_interactions(
        events, users, items, conf.get("EVENT_WEIGHTS"),
        now=until.timestamp(), half_life_days=conf.get("TRAINING_HALF_LIFE_DAYS"),
    )
    fixed = build_item_features(
        load_catalog(fields=TRAINING_FIELDS), art.item_keys, spec=manifest["item_feature_spec"], names=art.feature_names
    )
    identity = state["identity_items"].astype(bool) | (np.diff(recent.tocsc().indptr) > 0)
    features = FeatureMatrix(drop_identity(fixed, art.item_keys, ~identity), fixed.names, fixed.spec)
    user_features = build_user_features_fixed(
        user_keys, user_feature_provider(), user_feature_names,
        segment_share=(manifest.get("user_feature_spec") or {}).get("segment_share"),
    )
    progress("load", 2, 2)
    epochs = int(conf.get("TRAINING_INCREMENTAL_EPOCHS"))
    progress("fit", 0, epochs)
    model = fit_more(model, recent, epochs, params, item_features=features.matrix, user_features=user_features)
    progress("fit", epochs, epochs)
    name = artifact_name(version, timezone.now())
    state_sha = save_state(name, {**model_state(model), "identity_items": identity})
    artifact = build_artifact(
        model, user_keys, art.item_keys, features, user_features,
        {
            **{k: v for k, v in manifest.items() if k not in ("sha256", "n_items", "n_users", "n_features", "dim")},
            "version": version.pk, "kind": version.kind, "parent": parent.pk, "user_feature_names": user_feature_names,
            "data_until": until.isoformat(), "state_sha256": state_sha,
        },
    )
    register_artifact(
        version, artifact, name, data=None, metrics=dict(parent.metrics),
        evaluation={**parent.evaluation, "inherited_from": parent.pk}, n_interactions=recent.nnz,
    )


#: the training state's arrays with one row per user (per user feature with user features)
USER_STATE = (
    "user_embeddings", "user_embedding_gradients", "user_embedding_momentum",
    "user_biases", "user_bias_gradients", "user_bias_momentum",
)


def drop_users(
    user_keys: np.ndarray, feature_names: list[str], state: dict[str, np.ndarray], erased: set[str],
) -> tuple[np.ndarray, list[str]]:
    """``user_keys`` and user feature names without the ``erased`` subjects, whose rows are
    removed from ``state`` (in place): their vectors and adagrad state are not carried over."""
    gone = np.isin(np.asarray(user_keys, dtype=str), np.array(sorted(erased), dtype=str)) if erased else None
    if gone is None or not gone.any():
        return np.asarray(user_keys), list(feature_names)
    if feature_names:  # rows of the state are features: drop the shoppers' identity features
        keep = np.array([not (n.startswith("user:") and n[5:] in erased) for n in feature_names], bool)
        feature_names = [n for n, k in zip(feature_names, keep.tolist()) if k]
    else:  # identity only: one row per shopper
        keep = ~gone
    for name in USER_STATE:
        if name in state:
            state[name] = state[name][keep]
    return np.asarray(user_keys)[~gone], list(feature_names)
