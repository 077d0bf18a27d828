"""Celery tasks of consent: the derived-data half of a withdrawal that found the erasure lock
busy, and the sweep after a withdrawal for events of its browsers stored late."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError

from reco_app.erasure import ErasureBusy


# (no jitter: the retries span what the docs say, 30 s doubling to ten minutes: about 85 minutes)
@shared_task(name="reco_app.erase_derived", bind=True, autoretry_for=(ErasureBusy,), retry_backoff=30,
             retry_backoff_max=600, retry_jitter=False, max_retries=12, acks_late=True)
def erase_derived(self: Any, subjects: list[str]) -> dict[str, int]:
    """Erase what was derived from withdrawn subjects' events (their segments, live state,
    model vectors, cached lists), waiting for the erasure lock; retried while it is busy or
    the shared cache cannot be reached (about an hour and a half); the last try erases what
    is in the database even if the cache is still down."""
    from reco_app import privacy
    from reco_app.consent.service import WITHDRAWAL_KEEPS

    last = self.request.retries >= (self.max_retries or 0)
    return privacy.erase_subjects(subjects, skip=WITHDRAWAL_KEEPS, cache_required=not last)


@shared_task(name="reco_app.forget_late", acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=30,
             max_retries=5)
def forget_late(subjects: list[str], visitor_ids: list[str]) -> int:
    """One and five minutes after a withdrawal: forget what its browsers stored since
    (requests that were under way, beacons sent as the page closed). See
    :mod:`reco_app.consent.late`."""
    from reco_app.consent.service import forget

    return forget(subjects, visitor_ids, mark=False)
