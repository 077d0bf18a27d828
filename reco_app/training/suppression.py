"""Erased shoppers and the "model vectors" privacy holder.

Erasure removes a shopper's events (their holders do that); model artefacts trained before
still hold a vector for them. We record the subject as suppressed *for those versions* —
every version up to the highest id when the erasure ran, including one being trained then
(:mod:`reco_app.erasure` orders an erasure and a training's start) — so serving
(:func:`is_suppressed`) treats them as unknown in those versions at once, and incremental
updates of those versions drop them. Versions trained later know the shopper only from
events they stored after the erasure (a shopper who consents again is trained normally).

A row is recorded only if a kept artefact holds the subject (or a training is running, whose
artefact cannot be read yet), and deleted once no kept artefact is as old as the erasure
(:func:`reco_app.training.retention.prune_suppressed`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.utils import timezone

from reco_app import cache, privacy
from reco_app.models import ModelVersion, SuppressedSubject
from reco_app.prepared import PreparedQuery

# compiled once: serving asks this on every cache miss of a shopper with a trained vector
_SUPPRESSED = PreparedQuery(
    lambda subject: SuppressedSubject.objects.filter(subject=subject).order_by().values_list("last_version")[:1],
    subject=("reco_app.SuppressedSubject", "subject"),
)
#: user keys per artefact (name, sha256) of a kept version, read once per process, as a
#: sorted array of their (per-process) string hashes: 8 bytes a key instead of ~110 for a set
#: of the strings. Entries of versions no longer kept are dropped (:func:`forget_unkept_keys`).
_user_keys_read: dict[tuple[str, str], UserKeys] = {}


class UserKeys:
    """An artefact's user keys, compact: ``subject in keys``. Two different keys share a
    64-bit hash with a probability of about 2**-64 per pair; such a false positive would
    only record a suppression row that changes nothing."""

    __slots__ = ("hashes",)

    def __init__(self, keys: Iterable[str]) -> None:
        self.hashes = np.sort(np.fromiter(map(hash, keys), dtype=np.int64))

    def __len__(self) -> int:
        return len(self.hashes)

    def __contains__(self, subject: object) -> bool:
        if not isinstance(subject, str) or not len(self.hashes):
            return False
        h = hash(subject)
        i = int(np.searchsorted(self.hashes, h))
        return i < len(self.hashes) and int(self.hashes[i]) == h


def suppressed_subjects(version_id: int | None = None) -> list[str]:
    """Suppressed subjects (only those whose erasure applies to ``version_id``, if given)."""
    rows = SuppressedSubject.objects.all()
    if version_id is not None:
        rows = rows.filter(last_version__gte=version_id)
    return list(rows.values_list("subject", flat=True))


def is_suppressed(subject: str | None, version_id: int | None = None, *, namespace_version: int | None = None, kept: tuple[Any, Any] | None = None) -> bool:
    """Whether serving must ignore this shopper's vector in model ``version_id`` (in any
    version if None). The flag is cached standing at the shopper's namespace version: a
    new event or a segment change carries it to the next version (only an erasure changes
    it, and an erasure's bump does not). ``namespace_version``: the version of the shopper's
    namespace, and ``kept``, the flag and the version it stands at, where the caller has
    read them already (serving reads them with the shopper's list: no round trip here)."""
    if not subject:
        return False
    flag_key, at_key = cache.suppressed_keys(subject)  # (the flag: the row's last_version, 0 without)
    if namespace_version is None:
        namespace_version = cache.ns_version(f"subject:{subject}")
    if kept is None:
        found = cache.get_many([flag_key, at_key])
        kept = (found.get(flag_key), found.get(at_key))
    flag, at = kept
    if flag is None or at != namespace_version:
        rows = _SUPPRESSED.rows(subject=subject)
        flag = int(rows[0][0]) if rows else 0
        # written only while their namespace is still at that version (an erasure meanwhile
        # moves it: the flag read before its rows is not kept)
        cache.set_indexed_many([(flag_key, flag, subject, namespace_version, at_key)])
    last = int(flag or 0)
    return last > 0 and (version_id is None or version_id <= last)


def kept_versions() -> Any:
    """Versions whose artefact is kept or still to come (not pruned, not failed)."""
    return ModelVersion.objects.filter(pruned_at__isnull=True).exclude(status=ModelVersion.Status.FAILED)


def _user_keys(version: ModelVersion) -> UserKeys | None:
    """The artefact's user keys (only that array is decompressed); None if unreadable."""
    from reco_app.training.artifact import _names, get_storage

    cached = _user_keys_read.get((version.artifact_name, version.sha256))
    if cached is not None:
        return cached
    try:
        with get_storage().open(_names(version.artifact_name)[0], "rb") as fh:
            payload = fh.read()
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            keys = UserKeys(str(k) for k in data["user_keys"].tolist())
    except (OSError, ValueError, KeyError):
        return None
    _user_keys_read[(version.artifact_name, version.sha256)] = keys
    return keys


def forget_unkept_keys() -> list[ModelVersion]:
    """The kept versions; the user keys read of any other artefact are forgotten."""
    versions = list(kept_versions())
    current = {(v.artifact_name, v.sha256) for v in versions}
    for gone in [k for k in _user_keys_read if k not in current]:
        del _user_keys_read[gone]
    return versions


def _readable(version: ModelVersion) -> bool:
    return bool(version.artifact_name) and version.status != ModelVersion.Status.TRAINING


def _holding(subjects: list[str]) -> list[str]:
    """The subjects some kept artefact may hold (all of them while a training runs)."""
    found: set[str] = set()
    for version in forget_unkept_keys():
        keys = _user_keys(version) if _readable(version) else None
        if keys is None:
            return list(subjects)
        found.update(s for s in subjects if s in keys)
    return [s for s in subjects if s in found]


def prepare_vectors(subjects: list[str]) -> None:
    """Before the erasure's lock: read the kept artefacts' user keys (a full read of each
    artefact the first time in a process), so that :func:`erase_vectors` finds them read."""
    for version in forget_unkept_keys():
        if _readable(version):
            _user_keys(version)


def export_vectors(subjects: list[str]) -> dict[str, Any]:
    version = ModelVersion.objects.active()
    keys = _user_keys(version) if version is not None and version.artifact_name else None
    return {
        "active_model_version": version.pk if version is not None else None,
        "subjects_with_vector": sorted(s for s in subjects if s in (keys or ())),
        "suppressed": sorted(SuppressedSubject.objects.filter(subject__in=subjects).values_list("subject", flat=True)),
    }


def erase_vectors(subjects: list[str]) -> int:
    """Suppress the subjects some kept artefact holds, in every version up to the newest;
    returns how many were (again) suppressed."""
    subjects = list(dict.fromkeys(subjects))
    top = ModelVersion.objects.order_by("-id").values_list("id", flat=True).first() or 0
    now = timezone.now()
    targets = _holding(subjects) if top else []
    for subject in targets:
        SuppressedSubject.objects.update_or_create(subject=subject, defaults={"last_version": top, "created_at": now})
    cache.bump_many(f"subject:{s}" for s in subjects)
    return len(targets)


def register() -> None:
    privacy.register("model vectors", export=export_vectors, erase=erase_vectors, prepare=prepare_vectors)
