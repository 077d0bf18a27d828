"""Model artifacts: numpy arrays in ``.npz`` plus a JSON manifest, through Django storage.

The contract between training (which writes) and serving (which reads):

* ``item_keys`` / ``user_keys``: row order of the item and user arrays (product keys and
  subject keys as strings);
* ``item_embeddings`` (n_items, d) and ``item_biases`` (n_items,): the items' final
  representations (identity + metadata features, as LightFM's
  ``get_item_representations``);
* ``user_embeddings`` / ``user_biases``: the same for shoppers;
* ``feature_names``, ``feature_embeddings`` (n_features, d), ``feature_biases``: the item
  feature vectors, so a product the model has never seen gets a vector from its metadata;
* the manifest: parameters, data window, metrics, id-map sizes and the sha256 of the
  ``.npz`` bytes. Loading refuses an artifact whose bytes do not match the manifest, and never
  unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from reco_app import conf

ARRAY_NAMES = (
    "item_keys",
    "user_keys",
    "item_embeddings",
    "item_biases",
    "user_embeddings",
    "user_biases",
    "feature_names",
    "feature_embeddings",
    "feature_biases",
)


class ArtifactError(Exception):
    """An artifact is missing, unreadable, or does not match its manifest."""


@dataclass
class ModelArtifact:
    item_keys: np.ndarray
    user_keys: np.ndarray
    item_embeddings: np.ndarray
    item_biases: np.ndarray
    user_embeddings: np.ndarray
    user_biases: np.ndarray
    feature_names: np.ndarray = field(default_factory=lambda: np.array([], dtype="<U1"))
    feature_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    feature_biases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.item_embeddings.shape[1]) if self.item_embeddings.ndim == 2 else 0

    def item_index(self) -> dict[str, int]:
        return {str(k): i for i, k in enumerate(self.item_keys)}

    def user_index(self) -> dict[str, int]:
        return {str(k): i for i, k in enumerate(self.user_keys)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in ARRAY_NAMES}


def get_storage() -> Storage:
    return storages[conf.get("ARTIFACT_STORAGE")]


def _names(name: str) -> tuple[str, str]:
    prefix = conf.get("ARTIFACT_PREFIX").rstrip("/")
    return f"{prefix}/{name}.npz", f"{prefix}/{name}.json"


def to_bytes(artifact: ModelArtifact) -> bytes:
    buf = io.BytesIO()
    arrays = artifact.arrays()
    for key in ("item_keys", "user_keys", "feature_names"):
        arrays[key] = arrays[key].astype(str)  # unicode arrays load without pickle
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def save_artifact(artifact: ModelArtifact, name: str, storage: Storage | None = None) -> str:
    """Write ``name.npz`` then ``name.json``; returns the sha256 of the arrays.

    The manifest is written last, so a run killed half-way leaves no loadable artifact.
    """
    storage = storage or get_storage()
    npz_name, manifest_name = _names(name)
    payload = to_bytes(artifact)
    digest = hashlib.sha256(payload).hexdigest()
    manifest = {
        **artifact.manifest,
        "sha256": digest,
        "n_items": len(artifact.item_keys),
        "n_users": len(artifact.user_keys),
        "n_features": len(artifact.feature_names),
        "dim": artifact.dim,
    }
    for target in (npz_name, manifest_name):
        if storage.exists(target):
            storage.delete(target)
    saved_npz = storage.save(npz_name, ContentFile(payload))
    if saved_npz != npz_name:  # pragma: no cover - storages that rename on collision
        raise ArtifactError(f"storage renamed {npz_name} to {saved_npz}")
    storage.save(manifest_name, ContentFile(json.dumps(manifest, sort_keys=True, default=str).encode()))
    artifact.manifest = manifest
    return digest


def load_artifact(name: str, storage: Storage | None = None, expected_sha256: str | None = None) -> ModelArtifact:
    storage = storage or get_storage()
    npz_name, manifest_name = _names(name)
    try:
        with storage.open(manifest_name, "rb") as fh:
            manifest = json.loads(fh.read().decode())
        with storage.open(npz_name, "rb") as fh:
            payload = fh.read()
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read artifact {name!r}: {exc}") from exc
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest.get("sha256") or (expected_sha256 and digest != expected_sha256):
        raise ArtifactError(f"artifact {name!r} does not match its manifest hash; refusing to load")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            arrays = {key: data[key] for key in ARRAY_NAMES}
    except (ValueError, KeyError, OSError) as exc:
        raise ArtifactError(f"artifact {name!r} is malformed: {exc}") from exc
    return ModelArtifact(**arrays, manifest=manifest)


def delete_artifact(name: str, storage: Storage | None = None) -> None:
    storage = storage or get_storage()
    for target in _names(name):
        if storage.exists(target):
            storage.delete(target)
