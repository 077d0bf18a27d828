"""The one validation + consent + write service every capture path goes through.

* :func:`track` — shop code: ``reco_app.track(request, "add_to_cart", product)``.
* :func:`store` — validated events to rows: idempotent on ``event_id``, atomic, sends
  ``event_stored`` and bumps ``subject:<key>`` cache namespaces after commit.
* :func:`count_dropped` — the only trace an event without consent leaves.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from reco_app import cache, conf
from reco_app.models import DroppedEventCount, Event
from reco_app.signals import event_stored
from reco_app.tracking import pg_copy
from reco_app.tracking.context import VisitorContext, get_context
from reco_app.tracking.validation import EVENT_TYPES, CleanEvent, clean_context, validate

logger = logging.getLogger(__name__)
#: batches at least this large use PostgreSQL COPY (small ones: one INSERT is cheaper)
PG_COPY_MIN = 50


@dataclass
class StoreResult:
    stored: list[Event] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


_pending: Counter[tuple[Any, str, str]] = Counter()
_pending_lock = threading.Lock()
_last_flush = [0.0]


def count_dropped(reason: str, event_types: Iterable[str]) -> None:
    """Add to the per-day counters of events not stored (counts only, nothing personal).

    Counts are buffered per process and written at most every
    ``DROPPED_COUNT_FLUSH_SECONDS`` so refusing visitors cost no write per page view.
    """
    day = timezone.now().date()
    with _pending_lock:
        for event_type in event_types:
            _pending[(day, reason[:32], event_type[:32])] += 1
    interval = conf.get("DROPPED_COUNT_FLUSH_SECONDS")
    if interval <= 0 or time.monotonic() - _last_flush[0] >= interval:
        flush_dropped()


def flush_dropped() -> None:
    """Write the buffered dropped-event counts (atomic upserts)."""
    with _pending_lock:
        items = list(_pending.items())
        _pending.clear()
        _last_flush[0] = time.monotonic()
    for (day, reason, event_type), n in items:
        qs = DroppedEventCount.objects.filter(day=day, reason=reason, event_type=event_type)
        if qs.update(count=F("count") + n):
            continue
        try:
            with transaction.atomic():
                DroppedEventCount.objects.create(day=day, reason=reason, event_type=event_type, count=n)
        except IntegrityError:  # created concurrently
            qs.update(count=F("count") + n)


def _flush_at_exit() -> None:
    if not _pending:
        return
    try:
        flush_dropped()
    except Exception:  # noqa: BLE001 - the database may already be gone at exit
        logger.warning("could not write %d buffered dropped-event counts", sum(_pending.values()))


atexit.register(_flush_at_exit)


def to_row(clean: CleanEvent, *, source: str, now: Any = None, **extra: Any) -> Event:
    row = Event(
        subject=clean.subject,
        visitor_id=clean.visitor_id,
        product_key=clean.product_key,
        event_type=clean.event_type,
        value=clean.value,
        session_id=clean.session_id,
        context=clean.context,
        consent=clean.consent,
        source=source,
        timestamp=clean.timestamp or now or timezone.now(),
        **extra,
    )
    if clean.event_id is not None:
        row.event_id = clean.event_id
    return row


def visitor_row(clean: CleanEvent, ctx: VisitorContext, *, source: str, now: Any) -> Event:
    """An event of the visitor of a request: who, which session, which consent basis."""
    clean.subject, clean.visitor_id, clean.session_id = ctx.subject, ctx.visitor_id, ctx.session_id
    clean.consent = str(ctx.consent.basis or "")
    return to_row(clean, source=source, now=now, user=ctx.user)


def store(rows: list[Event]) -> StoreResult:
    """Write rows atomically; rows whose ``event_id`` is already stored are skipped."""
    result = StoreResult()
    unique: dict[Any, Event] = {}
    for row in rows:
        if row.event_id in unique:
            result.duplicates.append(str(row.event_id))
        else:
            unique[row.event_id] = row
    if not unique:
        return result
    if pg_copy.usable() and len(unique) >= PG_COPY_MIN:
        with transaction.atomic():
            inserted = pg_copy.insert(list(unique.values()))
            _stored(result, [row for key, row in unique.items() if key in inserted])
        result.duplicates.extend(str(key) for key in unique if key not in inserted)
        return result
    try:  # the common case, no re-sends: one INSERT
        with transaction.atomic():
            Event.objects.bulk_create(list(unique.values()))
            _stored(result, list(unique.values()))
        return result
    except IntegrityError:
        pass
    with transaction.atomic():
        known = set(Event.objects.filter(event_id__in=list(unique)).values_list("event_id", flat=True))
        new = [row for key, row in unique.items() if key not in known]
        # ignore_conflicts: the same events arriving concurrently — the other write wins.
        Event.objects.bulk_create(new, ignore_conflicts=True)
        _stored(result, new)
    result.duplicates.extend(str(key) for key in known)
    return result


def _stored(result: StoreResult, rows: list[Event]) -> None:
    result.stored = rows
    transaction.on_commit(lambda: _after_commit(rows))


def _after_commit(rows: list[Event]) -> None:
    cache.bump_many(f"subject:{row.subject}" for row in rows if row.subject)
    try:
        event_stored.send(sender=Event, events=rows)
    except Exception:  # a faulty receiver must not turn a stored event into an error
        logger.exception("event_stored receiver failed")


def product_key(product: Any) -> str:
    if product is None:
        return ""
    if isinstance(product, str):
        return product
    from reco_app.adapter import get_adapter

    return get_adapter().product_key(product)


def track(
    request: HttpRequest,
    event_type: str,
    product: Any = None,
    value: float | None = None,
    **context: Any,
) -> Event | None:
    """Record one event for the visitor of ``request`` if their consent allows it.

    ``product`` is a product object or its key; extra keyword arguments become the event's
    context (plain JSON values). Returns the stored event, or None when it was dropped (no
    consent, a bot, invalid input — counted in ``DroppedEventCount``). Never raises for bad
    input, so shop views cannot break because of tracking.
    """
    events = track_many(request, [(event_type, product, value, context)])
    return events[0] if events else None


def track_many(
    request: HttpRequest, items: Sequence[tuple[str, Any, float | None, dict[str, Any]]]
) -> list[Event]:
    """Several events of one request (e.g. the lines of an order), stored together."""
    ctx = get_context(request)
    types = [item[0] for item in items]
    if ctx.is_bot:
        count_dropped("bot", types)
        return []
    if not ctx.consent.allowed:
        count_dropped(ctx.consent.refusal_reason, types)
        return []
    rows: list[Event] = []
    invalid: list[str] = []
    now = timezone.now()
    for event_type, product, value, extra in items:
        raw = {"event_type": event_type, "product": product_key(product) or None, "value": value}
        clean, errors = validate(raw)
        errors_ctx: dict[str, str] = {}
        context = clean_context({**extra, "device": ctx.device}, errors_ctx)
        if clean is None or errors_ctx:
            logger.warning("reco_app.track: invalid %s event dropped: %s", event_type, errors or errors_ctx)
            invalid.append(str(event_type))
            continue
        clean.context = context
        rows.append(visitor_row(clean, ctx, source="server", now=now))
    if invalid:
        count_dropped("invalid", invalid)
    return store(rows).stored


@dataclass
class IngestResult:
    stored: list[Event] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[int, dict[str, str]] = field(default_factory=dict)
    dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "dropped": self.dropped,
            "rejected": [{"index": i, "errors": e} for i, e in sorted(self.rejected.items())],
        }


def _count_rejected(raw_events: list[Any], result: IngestResult) -> None:
    if not result.rejected:
        return
    types = []
    for i in result.rejected:
        raw = raw_events[i]
        event_type = raw.get("event_type") if isinstance(raw, dict) else None
        types.append(event_type if isinstance(event_type, str) and event_type in EVENT_TYPES else "unknown")
    count_dropped("invalid", types)


def ingest_browser(request: HttpRequest, raw_events: list[Any], allowed_types: set[str]) -> IngestResult:
    """Events sent by reco.js for the visitor of ``request`` (their consent applies)."""
    ctx = get_context(request)
    result = IngestResult()
    cleaned: list[CleanEvent] = []
    for i, raw in enumerate(raw_events):
        clean, errors = validate(raw, allowed_types=allowed_types)
        if clean is None:
            result.rejected[i] = errors
        else:
            cleaned.append(clean)
    _count_rejected(raw_events, result)
    if not cleaned:
        return result
    types = [c.event_type for c in cleaned]
    if not ctx.may_track:
        count_dropped("bot" if ctx.is_bot else ctx.consent.refusal_reason, types)
        result.dropped = len(cleaned)
        return result
    now = timezone.now()
    rows = []
    for clean in cleaned:
        clean.context = {**clean.context, "device": ctx.device}
        rows.append(visitor_row(clean, ctx, source="browser", now=now))
    stored = store(rows)
    result.stored, result.duplicates = stored.stored, stored.duplicates
    return result


def ingest_batch(raw_events: list[Any]) -> IngestResult:
    """A server-to-server batch: each event names its shopper and consent basis."""
    result = IngestResult()
    rows: list[Event] = []
    refused: dict[str, list[str]] = {}
    now = timezone.now()
    for i, raw in enumerate(raw_events):
        clean, errors = validate(raw, server=True)
        if clean is None:
            result.rejected[i] = errors
            continue
        if clean.consent in ("denied", "unknown"):
            reason = "consent_denied" if clean.consent == "denied" else "no_consent"
            refused.setdefault(reason, []).append(clean.event_type)
            result.dropped += 1
            continue
        rows.append(to_row(clean, source="api", now=now))
    for reason, types in refused.items():
        count_dropped(reason, types)
    _count_rejected(raw_events, result)
    stored = store(rows)
    result.stored, result.duplicates = stored.stored, stored.duplicates
    return result
