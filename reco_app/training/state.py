"""The LightFM training state (embeddings + adagrad accumulators) next to an artifact.

Serving never reads it; incremental updates continue training from it. Same rules as the
artifact: ``.npz`` loaded with ``allow_pickle=False``, checked against a sha256 kept in the
artifact's manifest.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from reco_app import conf
from reco_app.training.artifact import ArtifactError, get_storage


def state_name(name: str) -> str:
    return f"{conf.get('ARTIFACT_PREFIX').rstrip('/')}/{name}.state.npz"


def save_state(name: str, arrays: dict[str, np.ndarray], storage: Storage | None = None) -> str:
    storage = storage or get_storage()
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]  # float noise compresses badly
    payload = buf.getvalue()
    target = state_name(name)
    if storage.exists(target):
        storage.delete(target)
    storage.save(target, ContentFile(payload))
    return hashlib.sha256(payload).hexdigest()


def load_state(name: str, expected_sha256: str, storage: Storage | None = None) -> dict[str, np.ndarray]:
    storage = storage or get_storage()
    try:
        with storage.open(state_name(name), "rb") as fh:
            payload = fh.read()
    except OSError as exc:
        raise ArtifactError(f"cannot read training state of {name!r}: {exc}") from exc
    if hashlib.sha256(payload).hexdigest() != expected_sha256:
        raise ArtifactError(f"training state of {name!r} does not match its hash; refusing to load")
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def delete_state(name: str, storage: Storage | None = None) -> None:
    storage = storage or get_storage()
    if storage.exists(state_name(name)):
        storage.delete(state_name(name))
