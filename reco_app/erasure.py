"""Erasures against jobs that were already running: one lock and a short-lived marker.

A job that reads shoppers' data and stores something derived from it later (the batch
segments, a live evaluation taken from the queue, a training run) must not store an erased
shopper again because it read them before the erasure. Two pieces make that exact:

* **The lock.** :func:`reco_app.privacy.erase_subjects` takes it *exclusively* for its whole
  transaction; a job's writing transaction takes it *shared* (jobs never wait for each
  other). So a job's writes happen either before an erasure starts — and the erasure deletes
  them — or after it has committed — and the job's check below sees it. On PostgreSQL it is
  a transaction-level advisory lock; SQLite lets one writer at a time anyway (the checks run
  after the job's first write, when it holds the database's write lock); on other databases
  it is not taken and a small window remains.
* **The marker.** Each erasure adds an :class:`~reco_app.models.ErasureMarker` per subject
  under that lock, so marker ids follow the order erasures committed. A job notes
  :func:`mark` before it reads and, in its writing transaction, skips :func:`erased_since`
  that mark. Markers are deleted after ``MARKER_DAYS`` (longer than any job's time limit),
  the newest one only losing its subject (its id carries the order on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connections, router
from django.utils import timezone

from reco_app.models import ErasureMarker

#: pg_advisory_xact_lock key ("reco" in ASCII)
LOCK_KEY = 0x7265636F
#: markers are kept this long: more than the time limit of any job that checks them
MARKER_DAYS = 1


def _connection():  # type: ignore[no-untyped-def]
    return connections[router.db_for_write(ErasureMarker)]


def _lock(function: str) -> None:
    connection = _connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [LOCK_KEY])


def lock_exclusive() -> None:
    """Inside the erasure's transaction: wait for running job writes, hold off new ones."""
    _lock("pg_advisory_xact_lock")


def lock_shared() -> None:
    """Inside a job's writing transaction: wait for an erasure in progress to commit."""
    _lock("pg_advisory_xact_lock_shared")


def record(subjects: Iterable[str], now: dt.datetime | None = None) -> None:
    """Called by the erasure, under :func:`lock_exclusive`."""
    now = now or timezone.now()
    prune_markers(now)  # also here: the daily purge may not be scheduled
    ErasureMarker.objects.bulk_create([ErasureMarker(subject=s, erased_at=now) for s in dict.fromkeys(subjects)])


def mark() -> int:
    """The newest marker's id: note it before reading shoppers' data."""
    return ErasureMarker.objects.order_by("-id").values_list("id", flat=True).first() or 0


def erased_since(mark: int) -> set[str]:
    """Subjects erased after :func:`mark` returned ``mark`` (call it under :func:`lock_shared`)."""
    return set(ErasureMarker.objects.filter(id__gt=mark).exclude(subject="").values_list("subject", flat=True))


def prune_markers(now: dt.datetime | None = None) -> int:
    """Delete markers older than ``MARKER_DAYS``; the newest loses its subject instead."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=MARKER_DAYS)
    newest = mark()
    old = ErasureMarker.objects.filter(erased_at__lt=cutoff)
    count, _ = old.exclude(id=newest).delete()
    count += old.filter(id=newest).exclude(subject="").update(subject="")
    return count
