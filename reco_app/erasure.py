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

  The shared lock is the *first* statement of a job's writing transaction: a job that wrote
  (row-locked) reco rows before asking for it could wait for an erasure that waits for those
  rows — a deadlock. An erasure waits at most ``ERASURE_LOCK_TIMEOUT`` seconds for running
  job writes (:class:`ErasureBusy`); the request path never waits (:func:`try_lock_shared`:
  a live evaluation that does not get the lock at once leaves its writes for later).
* **The marker.** Each erasure adds an :class:`~reco_app.models.ErasureMarker` per subject
  under that lock, so marker ids follow the order erasures committed. A job notes
  :func:`mark` before it reads and, in its writing transaction, skips :func:`erased_since`
  that mark. Markers are deleted after ``MARKER_DAYS`` (longer than any job's time limit),
  the newest one only losing its subject (its id carries the order on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import OperationalError, connections, router, transaction
from django.utils import timezone

from reco_app import conf
from reco_app.models import ErasureMarker

#: pg_advisory_xact_lock key ("reco" in ASCII)
LOCK_KEY = 0x7265636F
#: markers are kept this long: more than the time limit of any job that checks them
MARKER_DAYS = 1


#: SQLSTATE of "lock_not_available" (lock_timeout expired)
LOCK_NOT_AVAILABLE = "55P03"
#: SQLSTATE of "deadlock_detected"
DEADLOCK = "40P01"


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error Django raised (psycopg 3's ``sqlstate``, psycopg2's
    ``pgcode``, on the driver's exception it wraps)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


class ErasureBusy(Exception):
    """The erasure did not get its lock within ``ERASURE_LOCK_TIMEOUT`` seconds (a segment
    job or the start of a training was writing): nothing was erased, try again later."""


class CacheUnavailable(ErasureBusy):
    """The erasure could not reach the shared cache to invalidate the shoppers' cached lists:
    erasing without that would let them be served again once the cache is back, so nothing
    was erased; try again later (handled wherever :class:`ErasureBusy` is: the derived-data
    task of a withdrawal or an account deletion retries it)."""


def database() -> str:
    """The database alias of the erasure's transaction, lock and markers (the router's
    database for writing reco_app's models)."""
    return router.db_for_write(ErasureMarker)


def _connection():  # type: ignore[no-untyped-def]
    return connections[database()]


def _lock(function: str) -> bool:
    connection = _connection()
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [LOCK_KEY])
        row = cursor.fetchone()
    return row is None or row[0] is not False  # the waiting functions return void (None)


def lock_exclusive() -> None:
    """Inside the erasure's transaction: wait for running job writes (at most
    ``ERASURE_LOCK_TIMEOUT`` seconds, then :class:`ErasureBusy`), hold off new ones."""
    connection = _connection()
    timeout = conf.get("ERASURE_LOCK_TIMEOUT")
    if connection.vendor != "postgresql" or not timeout:
        _lock("pg_advisory_xact_lock")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        previous = cursor.fetchone()[0]
        try:
            # a savepoint: after a timeout the caller's transaction is still usable
            with transaction.atomic(using=connection.alias):
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(int(float(timeout) * 1000), 1)}ms"])
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            # for the rest of the erasure (a timeout above undid this with the savepoint)
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
        except OperationalError as exc:
            # the lock not had in time; or a deadlock: a withdrawal has deleted events another
            # erasure holding the lock now wants to delete (the savepoint undid the wait)
            code = sqlstate(exc)
            if code not in (LOCK_NOT_AVAILABLE, DEADLOCK):
                raise
            if code == DEADLOCK:
                raise ErasureBusy("another erasure of the same shopper was under way; try again later") from exc
            raise ErasureBusy(
                f"the erasure waited {timeout} s for segment jobs or a training start to finish writing "
                "(ERASURE_LOCK_TIMEOUT); nothing was erased, try again later"
            ) from exc


def lock_shared() -> None:
    """First statement of a job's writing transaction: wait for an erasure in progress to
    commit. Not on the request path (see :func:`try_lock_shared`)."""
    _lock("pg_advisory_xact_lock_shared")


def try_lock_shared() -> bool:
    """:func:`lock_shared` without waiting: False if an erasure holds the lock or waits for it
    (PostgreSQL queues new shared requests behind a waiting exclusive one)."""
    return _lock("pg_try_advisory_xact_lock_shared")


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
