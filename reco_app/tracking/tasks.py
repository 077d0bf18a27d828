"""Celery tasks of tracking & consent (twins of the ``reco_purge_events`` command)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reco_app.purge_events", soft_time_limit=1800, time_limit=2000, acks_late=True)
def purge_events(days: int | None = None) -> int:
    """Delete events older than RETENTION_DAYS, the files of old model versions and old
    erasure markers; schedule it daily (django-celery-beat). Returns the events deleted."""
    from reco_app.consent.privacy import purge_events as purge
    from reco_app.erasure import prune_markers
    from reco_app.training.retention import prune_artifacts

    count = purge(days)
    prune_artifacts()
    prune_markers()
    return count
