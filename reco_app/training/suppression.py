"""Erased shoppers and the "model vectors" privacy holder.

Erasure removes a shopper's events (their holders do that); the active model still has a
vector for them until the next retrain. We record the subject as suppressed, so serving
(:func:`is_suppressed`) treats them as unknown at once, and the next training skips them.
"""

from __future__ import annotations

from typing import Any

from reco_app import cache, privacy
from reco_app.models import ModelVersion, SuppressedSubject
from reco_app.prepared import PreparedQuery

# compiled once: serving asks this on every cache miss of a shopper with a trained vector
_SUPPRESSED = PreparedQuery(
    lambda subject: SuppressedSubject.objects.filter(subject=subject).order_by().values_list("pk")[:1],
    subject=("reco_app.SuppressedSubject", "subject"),
)


def suppressed_subjects() -> list[str]:
    return list(SuppressedSubject.objects.values_list("subject", flat=True))


def is_suppressed(subject: str | None) -> bool:
    """Whether serving must ignore this shopper's model vector (cached per subject)."""
    if not subject:
        return False
    key = cache.make_key("suppressed", cache.ns_version(f"subject:{subject}"), subject)
    return bool(cache.get_or_set(key, lambda: bool(_SUPPRESSED.rows(subject=subject))))


def _active_user_keys() -> tuple[int | None, set[str]]:
    from reco_app.training.artifact import ArtifactError, load_artifact

    version = ModelVersion.objects.active()
    if version is None or not version.artifact_name:
        return None, set()
    try:
        artifact = load_artifact(version.artifact_name, expected_sha256=version.sha256 or None)
    except ArtifactError:
        return version.pk, set()
    return version.pk, {str(k) for k in artifact.user_keys}


def export_vectors(subjects: list[str]) -> dict[str, Any]:
    version, keys = _active_user_keys()
    return {
        "active_model_version": version,
        "subjects_with_vector": sorted(s for s in subjects if s in keys),
        "suppressed": sorted(SuppressedSubject.objects.filter(subject__in=subjects).values_list("subject", flat=True)),
    }


def erase_vectors(subjects: list[str]) -> int:
    created = 0
    for subject in subjects:
        _, new = SuppressedSubject.objects.get_or_create(subject=subject)
        created += int(new)
        cache.bump(f"subject:{subject}")
    return created


def register() -> None:
    privacy.register("model vectors", export=export_vectors, erase=erase_vectors)
