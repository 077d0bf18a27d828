"""Retention of model artefacts: old versions' files go, their rows (and metrics) stay.

Kept: the active version, the one :func:`~reco_app.training.registry.rollback` would go
back to, the newest ``TRAINING_KEEP_VERSIONS`` versions with files, and those finished less
than ``TRAINING_KEEP_HOURS`` ago. Every other version's ``.npz``, ``.json`` and
``.state.npz`` are deleted and the row is marked ``pruned_at`` (it can no longer be
activated). Then suppression rows that no kept artefact needs are deleted.

Runs after each training and with the daily retention purge (``reco_purge_events``, task
``reco_app.purge_events``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone

from reco_app import conf
from reco_app.models import ModelVersion, SuppressedSubject

logger = logging.getLogger(__name__)
Status = ModelVersion.Status


def rollback_target() -> ModelVersion | None:
    """The version :func:`~reco_app.training.registry.rollback` would re-activate."""
    return (
        ModelVersion.objects.filter(status=Status.RETIRED, activated_at__isnull=False, pruned_at__isnull=True)
        .order_by("-activated_at", "-id").first()
    )


def kept_ids(now: dt.datetime | None = None) -> set[int]:
    now = now or timezone.now()
    with_files = ModelVersion.objects.filter(pruned_at__isnull=True).exclude(artifact_name="").exclude(
        status__in=[Status.TRAINING, Status.FAILED]
    )
    keep = set(with_files.order_by("-id").values_list("id", flat=True)[: int(conf.get("TRAINING_KEEP_VERSIONS"))])
    young = now - dt.timedelta(hours=float(conf.get("TRAINING_KEEP_HOURS")))
    keep |= set(with_files.filter(Q(finished_at__gte=young) | Q(finished_at__isnull=True, created_at__gte=young)).values_list("id", flat=True))
    keep |= {v.pk for v in (ModelVersion.objects.active(), rollback_target()) if v is not None}
    return keep


def prune_artifacts(now: dt.datetime | None = None) -> list[int]:
    """Delete the files of the versions not kept; returns their ids."""
    from reco_app.training.artifact import delete_artifact
    from reco_app.training.state import delete_state

    now = now or timezone.now()
    keep = kept_ids(now)
    candidates = (
        ModelVersion.objects.filter(pruned_at__isnull=True).exclude(artifact_name="")
        .exclude(status__in=[Status.TRAINING, Status.ACTIVE]).exclude(pk__in=keep).order_by("id")
    )
    pruned = []
    for version in candidates:
        # marked first: from now on it cannot be activated, then its files go
        if not ModelVersion.objects.filter(pk=version.pk, pruned_at__isnull=True).exclude(status=Status.ACTIVE).update(pruned_at=now):
            continue
        try:
            delete_artifact(version.artifact_name)
            delete_state(version.artifact_name)
        except Exception:  # retried by the next run
            logger.warning("could not delete the files of model version %s", version.pk, exc_info=True)
            ModelVersion.objects.filter(pk=version.pk).update(pruned_at=None)
            continue
        pruned.append(version.pk)
    if pruned:
        from reco_app.training.suppression import forget_unkept_keys

        forget_unkept_keys()  # this process's user keys of the pruned artefacts
    prune_suppressed()
    return pruned


def prune_suppressed() -> int:
    """Delete the suppression rows of erasures older than every kept artefact."""
    from reco_app.training.suppression import kept_versions

    oldest = kept_versions().order_by("id").values_list("id", flat=True).first()
    rows = SuppressedSubject.objects.all() if oldest is None else SuppressedSubject.objects.filter(last_version__lt=oldest)
    count, _ = rows.delete()
    return count


def prune_quietly() -> None:
    """:func:`prune_artifacts` after a training: a failure is logged, never raised."""
    try:
        prune_artifacts()
    except Exception:
        logger.exception("pruning old model artefacts failed")
