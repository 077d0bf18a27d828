"""Retention: events older than ``RETENTION_DAYS`` are deleted (a scheduled task and the
``reco_purge_events`` command)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from reco_app import conf
from reco_app.models import Event

PURGE_CHUNK = 5_000


def purge_events(days: int | None = None, *, now: dt.datetime | None = None) -> int:
    """Delete events older than ``days`` (default RETENTION_DAYS), in chunks. ``days``
    must be at least 1: 0 or less would delete today's events too (a typo, not a policy)."""
    days = conf.get("RETENTION_DAYS") if days is None else days
    if days < 1:
        raise ValueError(f"a retention of {days} days would delete every event; give at least 1")
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = 0
    while True:
        ids = list(Event.objects.before(cutoff).order_by().values_list("id", flat=True)[:PURGE_CHUNK])
        if not ids:
            return total
        count, _ = Event.objects.filter(id__in=ids).delete()
        total += count
