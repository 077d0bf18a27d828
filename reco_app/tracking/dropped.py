"""Counting events that were not stored (no consent, bots, invalid) — counts only."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import DataError, Error, IntegrityError, connections, router, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from reco_app import conf
from reco_app.models import DroppedEventCount
from reco_app.tracking.validation import safe_string

logger = logging.getLogger(__name__)

_pending: Counter[tuple[Any, str, str]] = Counter()
_pending_lock = threading.Lock()
_last_flush = [0.0]


#: the counter label of an event type no column can hold (not a string, a NUL, a lone surrogate)
UNREADABLE = "?"


def _label(value: Any) -> str:
    if isinstance(value, str):
        value = value[:32]
        if safe_string(value):
            return value
    return UNREADABLE


def count_dropped(reason: str, event_types: Iterable[Any]) -> None:
    """Add to the per-day counters of events not stored (counts only, nothing personal).

    Counts are buffered per process and written at most every
    ``DROPPED_COUNT_FLUSH_SECONDS`` so refusing visitors cost no write per page view. The
    event types are whatever the caller was given (``track(request, None)``): each is
    counted under its first 32 characters, or :data:`UNREADABLE`.
    """
    day = timezone.now().date()
    with _pending_lock:
        for event_type in event_types:
            _pending[(day, _label(reason), _label(event_type))] += 1
    interval = conf.get("DROPPED_COUNT_FLUSH_SECONDS")
    if interval <= 0 or time.monotonic() - _last_flush[0] >= interval:
        flush_dropped()


def flush_dropped() -> None:
    """Write the buffered dropped-event counts (atomic upserts). Whichever request flushes
    must not fail for it. A count whose data the database refuses is logged and left out;
    when the database cannot write at all (the request's transaction is broken, the
    connection lost), the counts stay buffered for a later flush."""
    alias = router.db_for_write(DroppedEventCount)  # (savepoints and checks on the counters' database)
    if connections[alias].in_atomic_block and connections[alias].needs_rollback:
        return  # the caller's transaction is broken: a later request writes them
    with _pending_lock:
        items = list(_pending.items())
        _pending.clear()
        _last_flush[0] = time.monotonic()
    for done, ((day, reason, event_type), n) in enumerate(items):
        try:
            with transaction.atomic(using=alias):  # (a savepoint inside the request's transaction)
                _add(alias, day, reason, event_type, n)
        except DataError:
            logger.exception("could not write %d dropped-event counts (%s, %r)", n, reason, event_type)
        except (Error, TransactionManagementError) as exc:  # (Error: psycopg2's InterfaceError too)
            with _pending_lock:
                _pending.update(dict(items[done:]))
            logger.warning("dropped-event counts kept for a later flush: %s", exc)
            return


def _add(alias: str, day: Any, reason: str, event_type: str, n: int) -> None:
    qs = DroppedEventCount.objects.filter(day=day, reason=reason, event_type=event_type)
    if qs.update(count=F("count") + n):
        return
    try:
        with transaction.atomic(using=alias):
            DroppedEventCount.objects.create(day=day, reason=reason, event_type=event_type, count=n)
    except IntegrityError:  # created concurrently
        qs.update(count=F("count") + n)


def _flush_at_exit() -> None:
    pending = sum(_pending.values())
    if not pending:
        return
    try:
        flush_dropped()
    except Exception:  # noqa: BLE001 - the database may already be gone at exit
        logger.warning("could not write %d buffered dropped-event counts", pending)


atexit.register(_flush_at_exit)
