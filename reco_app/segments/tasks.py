"""Celery tasks for segments (thin wrappers; ``manage.py reco_segments`` is the twin)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from reco_app.schedule import SEGMENTS


@shared_task(name="reco_app.segments.recompute", acks_late=True, max_retries=2, default_retry_delay=300, soft_time_limit=1800, time_limit=2000)
def recompute_segments() -> dict[str, Any]:
    """Batch segments (RFM, lifecycle, clusters, manual): schedule e.g. nightly."""
    from reco_app.segments.service import recompute_all

    report = recompute_all()
    return {"shoppers": report.shoppers, "events": report.events, "sizes": report.sizes}


@shared_task(name="reco_app.segments.sweep_live", acks_late=True, soft_time_limit=300, time_limit=360)
def sweep_live_segments() -> int:
    """Find carts abandoned since and drop expired live memberships: schedule e.g. every 10 min.
    Also evaluates what is queued (SEGMENTS_LIVE_ASYNC), should a drain task have been lost."""
    from reco_app.segments.live import queue, sweep

    queue.drain()
    return sweep()


@shared_task(name="reco_app.segments.evaluate_live", acks_late=True, soft_time_limit=60, time_limit=90)
def evaluate_live_segments(subjects: list[str], prefixes: list[str] | None = None) -> int:
    """Live rules (those owning ``prefixes``, default all) for these shoppers (queued per
    batch of events when SEGMENTS_LIVE_ASYNC and the cache is not Redis)."""
    from reco_app.segments.live import evaluate_subject, rules

    active = rules(prefixes)
    for subject in subjects:
        evaluate_subject(subject, only=active)
    return len(subjects)


@shared_task(name="reco_app.segments.drain_live", acks_late=True, soft_time_limit=240, time_limit=300)
def drain_live_segments() -> int:
    """Live rules of the shoppers queued since the last drain (SEGMENTS_LIVE_ASYNC with a
    Redis cache: one task every SEGMENTS_LIVE_DELAY seconds, scheduled by the events)."""
    from reco_app.segments.live.queue import drain

    return drain()


#: The segments part of :data:`reco_app.schedule.BEAT_SCHEDULE` (import that one in settings)
BEAT_SCHEDULE = SEGMENTS
