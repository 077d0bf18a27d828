"""The one validation + consent + write service every capture path goes through.

* :func:`track` — shop code: ``reco_app.track(request, "add_to_cart", product)``.
* :func:`store` — validated events to rows: idempotent on ``event_id``, atomic, sends
  ``event_stored`` and bumps ``subject:<key>`` cache namespaces after commit (for the event
  types that can change a shopper's recommendations, ``TASTE_TYPES``).
* :func:`~reco_app.tracking.dropped.count_dropped` — the only trace an event without
  consent leaves; :mod:`reco_app.tracking.ingest` — the beacon and batch API paths.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache as cache_function
from typing import Any

from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models.base import ModelState
from django.http import HttpRequest
from django.utils import timezone

from reco_app import cache
from reco_app.adapter import key_of
from reco_app.consent.late import CONSENT_READ_AT, LateCheck
from reco_app.erasure import DEADLOCK, sqlstate
from reco_app.models import Event
from reco_app.models.events import TASTE_TYPES
from reco_app.signals import event_stored
from reco_app.tracking import buffer, pg_copy
from reco_app.tracking.context import VisitorContext, get_context
from reco_app.tracking.dropped import count_dropped
from reco_app.tracking.validation import CleanEvent, clean_context, validate

logger = logging.getLogger(__name__)
#: batches at least this large use PostgreSQL COPY with psycopg 3 (small ones: one INSERT is cheaper)
PG_COPY_MIN = 50
#: how often a batch PostgreSQL ended in a deadlock with another writing the same events is
#: written again (outside a caller's transaction)
DEADLOCK_RETRIES = 3


@dataclass
class StoreResult:
    stored: list[Event] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def to_row(clean: CleanEvent, *, source: str, now: Any = None, **extra: Any) -> Event:
    # every capture path builds rows this way: Model.__init__'s generality would cost 40%
    row = _fast_row(clean, source, now)
    for name, value in extra.items():
        if value is not None:
            setattr(row, name, value)  # e.g. user: the descriptor sets user_id too
    return row


def _fast_row(clean: CleanEvent, source: str, now: Any) -> Event:
    """An unsaved Event with every field set directly (Event has no init signal receivers)."""
    row = Event.__new__(Event)
    row._state = ModelState()
    row.__dict__.update(
        id=None, event_id=clean.event_id or uuid.uuid4(), subject=clean.subject, user_id=None,
        visitor_id=clean.visitor_id, product_key=clean.product_key, event_type=clean.event_type,
        value=clean.value, session_id=clean.session_id, context=clean.context, consent=clean.consent,
        source=source, timestamp=clean.timestamp or now or timezone.now(), received_at=None,
    )
    return row


def visitor_row(clean: CleanEvent, ctx: VisitorContext, *, source: str, now: Any) -> Event:
    """An event of the visitor of a request: who, which session, which consent basis."""
    clean.subject, clean.visitor_id, clean.session_id = ctx.subject, ctx.visitor_id, ctx.session_id
    clean.consent = str(ctx.consent.basis or "")
    row = to_row(clean, source=source, now=now, user=ctx.user)
    setattr(row, CONSENT_READ_AT, ctx.consent_read_at)  # (not stored: see reco_app.consent.late)
    return row


def store(rows: list[Event]) -> StoreResult:
    """Write rows atomically; rows whose ``event_id`` is already stored are skipped."""
    result = StoreResult()
    unique: dict[int, Event] = {}  # by the UUID's integer: hashing uuid.UUID objects is slow
    for row in rows:
        key = row.event_id.int
        if key in unique:
            result.duplicates.append(str(row.event_id))
        else:
            unique[key] = row
    if not unique:
        return result
    db = connections[DEFAULT_DB_ALIAS]  # (the `connection` proxy looks it up on every use)
    if pg_copy.usable(db):
        # PostgreSQL says which rows it wrote (ON CONFLICT DO NOTHING RETURNING), also when a
        # concurrent request wrote some of them first. COPY batches need a transaction of their
        # own; a single INSERT is atomic, so in autocommit it runs without one, inside a
        # caller's transaction in a savepoint (a failure must not break it), and with
        # autocommit off in a block (where the after-commit work can be registered)
        batch = list(unique.values())
        copy = pg_copy.copy_usable(db) and len(batch) >= PG_COPY_MIN
        in_block = db.in_atomic_block or not db.get_autocommit()
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with transaction.atomic() if copy or in_block else nullcontext():
                    if copy:  # (a transaction of our own empties the COPY table by committing)
                        inserted = pg_copy.insert(batch, commits=not in_block)
                    elif len(batch) == 1:  # a page view, a beacon: a prepared statement of its own
                        inserted = {batch[0].event_id.int} if pg_copy.insert_one(batch[0], db) else set()
                    else:
                        inserted = pg_copy.insert_values(batch)
                    _stored(result, [row for key, row in unique.items() if key in inserted], db)
                break
            except OperationalError as exc:
                # two batches sharing events, each waiting for the other's uncommitted copy of
                # one (they list them in different orders): PostgreSQL ends one. Rows keep the
                # order they came in, so the one ended writes again, skipping what the other
                # wrote; inside a caller's transaction the caller decides
                if in_block or attempt == DEADLOCK_RETRIES or sqlstate(exc) != DEADLOCK:
                    raise
                logger.info("reco_app: a batch met another writing the same events (deadlock); writing it again")
        result.duplicates.extend(str(row.event_id) for key, row in unique.items() if key not in inserted)
        return result
    if len(unique) == 1:  # a page view: one INSERT, no transaction of its own
        row = next(iter(unique.values()))
        try:
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                row.save(force_insert=True)
        except IntegrityError:
            result.duplicates.append(str(row.event_id))
            return result
        _stored(result, [row])
        return result
    # SQLite and other databases: the ORM
    try:  # the common case, no re-sends: one INSERT
        with transaction.atomic():
            Event.objects.bulk_create(list(unique.values()))
            _stored(result, list(unique.values()))
        return result
    except IntegrityError:
        pass
    with transaction.atomic():
        ids = [row.event_id for row in unique.values()]
        known = {u.int for u in Event.objects.filter(event_id__in=ids).values_list("event_id", flat=True)}
        new = [row for key, row in unique.items() if key not in known]
        # ignore_conflicts: the same events arriving concurrently — the other write wins.
        Event.objects.bulk_create(new, ignore_conflicts=True)
        _stored(result, new)
    result.duplicates.extend(str(row.event_id) for key, row in unique.items() if key in known)
    return result


def _stored(result: StoreResult, rows: list[Event], db: Any = None) -> None:
    result.stored = rows
    if rows:  # (transaction.on_commit, with the connection the caller has looked up)
        (db or connections[DEFAULT_DB_ALIAS]).on_commit(lambda: _after_commit(rows))


@cache_function
def _live_events() -> Any:
    """The live-segment rules' event module (imported at the first store: it imports the
    whole package, which imports this module's callers)."""
    from reco_app.segments.live import events

    return events


def _after_commit(rows: list[Event]) -> None:
    live_events = _live_events()
    # One Redis round trip for the namespace bump and, with the live queue on, the queued
    # live rules: both go out when the block ends, before the receivers run, so they see
    # the shopper's cached lists already invalidated.
    live = ""
    with cache.one_round_trip():
        # the withdrawal marks of the rows' shoppers: a request under way when its shopper
        # withdrew consent has stored its event after the withdrawal deleted the history
        late = LateCheck(rows)
        # only events serving's shopper profile reads can change the shopper's recommendations
        # (not whether their trained vector was erased: that flag stands at the new version)
        cache.bump_many(
            (f"subject:{row.subject}" for row in rows if row.subject and row.event_type in TASTE_TYPES), deferred=True,
            keeps=("suppressed",),
        )
        try:
            live = live_events.queue_events(rows)  # (logs its own failures: QUEUED once attempted)
        except Exception:  # the live rules must not turn a stored event into an error
            logger.exception("queuing the live segment rules failed")
    try:
        rows = late.drop()
    except Exception:  # (the store stands: it must not turn into an error of the page)
        logger.exception("removing events stored after their shopper's withdrawal failed")
        rows = late.kept()  # nothing is derived from them all the same
    if not rows:
        return
    try:
        event_stored.send(
            sender=Event, events=rows, live_queued=live == live_events.QUEUED, live_relevant=live != live_events.IRRELEVANT,
        )
    except Exception:  # a faulty receiver must not turn a stored event into an error
        logger.exception("event_stored receiver failed")


def track(
    request: HttpRequest,
    event_type: str,
    product: Any = None,
    value: float | None = None,
    **context: Any,
) -> Event | None:
    """Record one event for the visitor of ``request`` if their consent allows it.

    ``product`` is a product object or its key; extra keyword arguments become the event's
    context (plain JSON values, at most 64; reco_app adds ``device``, the device class from
    the user agent, in place of any given). Returns the stored event, or None when it was dropped (no
    consent, a bot, invalid input — counted in ``DroppedEventCount``). Never raises for bad
    input, so shop views cannot break because of tracking.
    """
    events = track_many(request, [(event_type, product, value, context)])
    return events[0] if events else None


def track_many(
    request: HttpRequest, items: Sequence[tuple[str, Any, float | None, dict[str, Any]]], *, behind: bool = False,
) -> list[Event]:
    """Several events of one request (e.g. the lines of an order), stored together.
    ``behind``: written behind the page where ``VIEW_BUFFER_SECONDS`` allows it (the
    middleware's product views, :mod:`reco_app.tracking.buffer`): the rows returned are
    not saved yet."""
    ctx = get_context(request)
    types = [item[0] for item in items]
    if ctx.is_bot:
        count_dropped("bot", types)
        return []
    if not ctx.consent.allowed:
        count_dropped(ctx.consent.refusal_reason, types)
        return []
    rows: list[Event] = []
    invalid: list[Any] = []  # (as given: counted under "?" where no column could hold it)
    now = timezone.now()
    for event_type, product, value, extra in items:
        raw = {"event_type": event_type, "product": key_of(product) or None, "value": value}
        clean, errors = validate(raw)
        errors_ctx: dict[str, str] = {}
        context = clean_context(extra, errors_ctx, event_type=str(event_type))
        if clean is None or errors_ctx:
            logger.warning("reco_app.track: invalid %r event dropped: %r", event_type, errors or errors_ctx)
            invalid.append(event_type)
            continue
        # the device class is reco_app's, from the user agent (not counted in the caller's items)
        clean.context = {**context, "device": ctx.device}
        rows.append(visitor_row(clean, ctx, source="server", now=now))
    if invalid:
        count_dropped("invalid", invalid)
    if behind and buffer.enabled():
        buffer.add(rows)
        return rows
    return store(rows).stored
