"""The active model's arrays, loaded once per process and aligned to the catalog index.

:func:`get_model` returns a :class:`ServingModel` whose item matrix has one row per
catalog row (products the model never saw get a vector from their metadata features), or
``None`` on a fresh install with no active model (serving then uses popularity and metadata).
A new version is picked up without a restart: the registry bumps the ``"model"`` cache
namespace on activation, and each process also re-reads the active version id every
``MODEL_RECHECK_SECONDS`` (so a missed bump, e.g. while Redis was down, heals by itself).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from reco_app import cache, conf
from reco_app.datasets.catalog import TRAINING_FIELDS, load_catalog
from reco_app.serving.features import catalog_feature_matrix
from reco_app.serving.gc_tuning import freeze_loaded
from reco_app.serving.types import CatalogIndex

logger = logging.getLogger(__name__)


@dataclass
class ServingModel:
    version_id: int
    sha256: str
    catalog_version: str
    item_vectors: np.ndarray  # float32 (n_catalog, d)
    item_biases: np.ndarray  # float32 (n_catalog,)
    known: np.ndarray  # bool (n_catalog,): the model trained on this product
    unit_vectors: np.ndarray  # item_vectors scaled to unit length (cosine similarity)
    user_index: dict[str, int] = field(default_factory=dict)
    user_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    user_biases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @property
    def dim(self) -> int:
        return int(self.item_vectors.shape[1])

    def scores(self, vector: np.ndarray, with_bias: bool = True) -> np.ndarray:
        """Score every catalog row against a user vector: one matrix-vector product."""
        s = self.item_vectors @ vector
        return s + self.item_biases if with_bias else s

    def similar_to(self, rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of every catalog row to the (weighted) mean of ``rows``."""
        anchor = np.average(self.unit_vectors[rows], axis=0, weights=weights)
        return self.unit_vectors @ anchor.astype(np.float32)


def align(artifact: object, catalog: CatalogIndex, version_id: int = 0, sha256: str = "") -> ServingModel:
    """Arrange an artifact's item arrays in catalog row order (metadata vectors for new items)."""
    from reco_app.training.artifact import ModelArtifact

    assert isinstance(artifact, ModelArtifact)
    n, d = len(catalog), artifact.dim
    vectors = np.zeros((n, d), np.float32)
    biases = np.zeros(n, np.float32)
    item_index = artifact.item_index()
    rows = np.fromiter((item_index.get(str(k), -1) for k in catalog.keys), dtype=np.int64, count=n)
    known = rows >= 0
    vectors[known] = artifact.item_embeddings[rows[known]]
    biases[known] = artifact.item_biases[rows[known]]
    cold = np.flatnonzero(~known)
    if len(cold) and len(artifact.feature_names):
        # Products the model never saw: embedded from their metadata exactly as training
        # encodes features (the artifact's encoding spec), else from category/brand/tags.
        encoded = _embed_with_training_spec(artifact, catalog, cold)
        if encoded is not None:
            done, emb, bias = encoded
            vectors[cold[done]] = emb
            biases[cold[done]] = bias
            cold = cold[~done]
        if len(cold):
            feats = catalog_feature_matrix(catalog, [str(f) for f in artifact.feature_names], cold)
            vectors[cold] = feats @ artifact.feature_embeddings.astype(np.float32)
            biases[cold] = feats @ artifact.feature_biases.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return ServingModel(
        version_id=version_id,
        sha256=sha256,
        catalog_version=catalog.version,
        item_vectors=vectors,
        item_biases=biases,
        known=known,
        unit_vectors=(vectors / norms).astype(np.float32),
        user_index=artifact.user_index(),
        user_embeddings=artifact.user_embeddings.astype(np.float32),
        user_biases=artifact.user_biases.astype(np.float32),
    )


def _embed_with_training_spec(
    artifact: object, catalog: CatalogIndex, cold: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(mask over ``cold`` of rows embedded, embeddings, biases), or None without a spec."""
    from reco_app.training.artifact import ModelArtifact

    assert isinstance(artifact, ModelArtifact)
    if "item_feature_spec" not in artifact.manifest:
        return None
    from reco_app.training.cold import embed_items

    # The serving index leaves descriptions out; read the training columns of these rows.
    keys = [str(catalog.keys[i]) for i in cold]
    rows = load_catalog(fields=TRAINING_FIELDS, keys=keys)
    done = np.array([k in rows.key_to_idx for k in keys], dtype=bool)
    if not done.any():
        return None
    emb, bias = embed_items(artifact, rows)
    return done, emb.astype(np.float32), bias.astype(np.float32)


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.artifact: object | None = None
        self.artifact_id: tuple[int, str] | None = None
        self.model_ns: int | None = None
        self.active: tuple[int, str, str] | None = None
        self.checked_at = 0.0
        self.failed: tuple[int, str] | None = None
        # the active model aligned to each catalog index in use (the newest two)
        self.aligned: dict[int, ServingModel | None] = {}


_store = _Store()
_MISSING: object = object()


def _active_version() -> tuple[int, str, str] | None:
    from reco_app.models import ModelVersion

    version = ModelVersion.objects.active()
    if version is None or not version.artifact_name:
        return None
    return version.pk, version.sha256, version.artifact_name


def get_model(catalog: CatalogIndex, model_ns: int | None = None) -> ServingModel | None:
    """The active model aligned to ``catalog``, or ``None`` when no usable model is active."""
    ns = cache.ns_version("model") if model_ns is None else model_ns
    s = _store
    fresh = s.model_ns == ns and time.monotonic() - s.checked_at < conf.get("MODEL_RECHECK_SECONDS")
    if fresh:
        model = s.aligned.get(catalog.build, _MISSING)
        if model is not _MISSING:
            return model  # type: ignore[return-value]
    with s.lock:
        if not fresh:
            active = _active_version()
            s.checked_at, s.model_ns = time.monotonic(), ns
            if active != s.active:
                s.active = active
                s.aligned.clear()
        model = s.aligned.get(catalog.build, _MISSING)
        if model is _MISSING:
            model = _load(s.active, catalog)
            freeze_loaded()
            s.aligned[catalog.build] = model
            while len(s.aligned) > 2:
                s.aligned.pop(next(iter(s.aligned)))
        return model  # type: ignore[return-value]


def _load(active: tuple[int, str, str] | None, catalog: CatalogIndex) -> ServingModel | None:
    from reco_app.training.artifact import ArtifactError, load_artifact

    s = _store
    if active is None:
        s.artifact = s.artifact_id = None
        return None
    version_id, sha, name = active
    if s.artifact_id != (version_id, sha):
        if s.failed == (version_id, sha):
            return None
        try:
            s.artifact = load_artifact(name, expected_sha256=sha or None)
        except ArtifactError as exc:
            logger.error("reco_app: cannot load model v%s, serving without it: %s", version_id, exc)
            s.failed = (version_id, sha)
            return None
        s.artifact_id = (version_id, sha)
        logger.info("reco_app: loaded model v%s", version_id)
    return align(s.artifact, catalog, version_id=version_id, sha256=sha)


def reset() -> None:
    """Forget the loaded model (tests; the next request reloads)."""
    global _store
    _store = _Store()


_CURRENT: object = object()


def user_vector(
    subject: str | None, model: ServingModel | None | object = _CURRENT, recent_rows: ArrayLike | None = None,
    recent_weights: ArrayLike = (), *, namespace_version: int | None = None, suppressed: tuple[Any, Any] | None = None,
) -> np.ndarray | None:
    """The shopper's vector: the trained one, else a profile folded in from recent products.

    ``user_vector(subject)`` uses the active model and reads the shopper's recent consented
    events; the pipeline passes the model and the profile it already has, and the shopper's
    namespace version and cached "suppressed" flag read with their list.

    A known shopper (a customer key or visitor the model trained on) gets their trained
    embedding. Anyone else with consented recent events gets the weighted mean of the
    vectors of the products they touched, so a visitor is personalised from their third
    click on, without a retrain. ``None`` when there is nothing to go on.
    """
    if model is _CURRENT:
        from reco_app.serving.catalog_index import get_catalog

        catalog = get_catalog()
        model = get_model(catalog)
    else:
        catalog = None
    if not isinstance(model, ServingModel):
        return None
    if subject and (i := model.user_index.get(subject)) is not None:
        from reco_app.training.suppression import is_suppressed

        # An erased shopper's trained vector is excluded in the versions trained before the erasure.
        if not is_suppressed(subject, model.version_id, namespace_version=namespace_version, kept=suppressed):
            return model.user_embeddings[i]
    if recent_rows is None:
        from reco_app.serving.catalog_index import get_catalog
        from reco_app.serving.profile import load_profile

        profile = load_profile(subject, catalog or get_catalog())
        recent_rows, recent_weights = profile.recent, profile.recent_weights
    return fold_in(model, recent_rows, recent_weights)


def fold_in(model: ServingModel, rows: ArrayLike, weights: ArrayLike = ()) -> np.ndarray | None:
    rows_arr = np.asarray(rows, dtype=np.int64)
    if not len(rows_arr):
        return None
    w = np.asarray(weights, dtype=np.float64)
    if not len(w):
        w = np.ones(len(rows_arr))
    if w.sum() <= 0:
        return None
    return np.average(model.item_vectors[rows_arr], axis=0, weights=w).astype(np.float32)
