"""Events that requests already under way store after a withdrawal.

A request acts on the consent its cookies carried when it began, and stores its event when
it ends. A product page rendering while the shopper clicks "withdraw" in another tab (or on
another device), or the beacon reco.js sends as the page closes, stores its event after the
withdrawal deleted the history.

So a withdrawal marks the shoppers it forgets in the cache (for :data:`MARK_TTL`) before
it deletes their events: its subject keys with the time it began, and its browsers' visitor
ids. A browser's visitor id is forgotten for good (the withdrawal deletes its cookie; a
browser that consents again gets a new one, :meth:`VisitorContext.issue_cookie`), so any
event stored under a marked visitor id is late, whenever its request began. A subject key
(a signed-in account) may consent again at once, so only an event whose request began
before the mark is late: for the events of a request (``track()``, the beacon, the
middleware's product view), its start
(:attr:`~reco_app.tracking.context.VisitorContext.consent_read_at`); for events of the
server-to-server API, which states consent itself, the event's own ``timestamp`` (one sent
without it counts as late while the mark stands).

Late events are removed in one of two ways:

* **Anonymous browsers, with a Celery worker:** sweeps one and five minutes after the
  withdrawal (:func:`sweep_later`, the ``reco_app.forget_late`` task)
  forget again what the browsers' visitor ids and anonymous subjects hold. Their stores do
  no work for it: an anonymous beacon costs no round trip more. (Their ``event_stored``
  receivers run meanwhile; what reco_app derives is erased by the sweep.)
* **Everything else** (signed-in shoppers, the API; anonymous browsers too where tasks run
  eagerly or no broker is configured): every store reads the marks of its rows once committed, in the round trip it
  makes anyway for the namespace bump where there is one (:class:`LateCheck`), and removes
  its late rows itself. A late row either was committed before the withdrawal's ``DELETE``
  began, which deletes it, or its store began reading after the mark was set, and finds it.

The marks live in reco_app's cache, which must be shared by the web processes (Redis): in
a process-local cache only the withdrawing process sees them. Without a reachable cache
nothing is marked nor read, and a signed-in shopper's request under way may keep its one
event (the outage is logged, unless django-redis is told to ignore it). A mark names a
pseudonymous key and expires on its own after :data:`MARK_TTL`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.core.signals import setting_changed
from django.dispatch import receiver

from reco_app import cache, conf
from reco_app.memo import Bounded

logger = logging.getLogger(__name__)
#: how long a withdrawal is honoured for requests already under way: far longer than a
#: request may run (gunicorn's default timeout is 30 s)
MARK_SECONDS = 300
#: when the sweeps of a withdrawal's anonymous browsers run: after a minute, when the
#: beacons sent as its pages closed have arrived and almost every request under way has
#: ended, and after five, for requests that ran longer
SWEEP_SECONDS = (60, MARK_SECONDS)
#: how long the marks are kept: past the last sweep, with room for a worker that is behind
#: (a browser that consents again meanwhile must still be given a new visitor id)
MARK_TTL = MARK_SECONDS + 300
#: the attribute of an unsaved Event row holding when its consent was read (unix time),
#: set by :func:`reco_app.tracking.service.visitor_row`
CONSENT_READ_AT = "_reco_consent_read_at"


def _subject_key(subject: str) -> str:
    return cache.make_key("withdrawn", "s", subject)


def _visitor_key(visitor_id: str) -> str:
    return cache.make_key("withdrawn", "v", visitor_id)


def _mark_keys(subjects: Iterable[str], visitor_ids: Iterable[str]) -> list[str]:
    return [_subject_key(s) for s in subjects if s] + [_visitor_key(v) for v in visitor_ids if v]


def mark(subjects: Iterable[str], visitor_ids: Iterable[str]) -> dict[str, Any]:
    """Before a withdrawal deletes these shoppers' events: stores still under way, whose
    consent was read before now, drop theirs. Returns the marks it replaced (an earlier
    withdrawal's), for :func:`unmark`."""
    keys = _mark_keys(subjects, visitor_ids)
    earlier = cache.get_many(keys)
    # whole microseconds: an integer is stored as it is by every cache backend
    cache.set_many(dict.fromkeys(keys, int(time.time() * 1_000_000)), MARK_TTL)
    return earlier


def visitor_marked(visitor_id: str) -> bool:
    """Was this visitor id forgotten by a withdrawal in the last :data:`MARK_TTL` seconds?"""
    return bool(visitor_id) and cache.get(_visitor_key(visitor_id)) is not None


def sweeps() -> bool:
    """Are anonymous browsers' late events left to the sweep? Where Celery tasks go to a
    worker (a broker is configured and tasks are not run eagerly); else their stores check.

    Asked by every anonymous beacon's store, and Celery's configuration answers slowly
    (several layered lookups, the environment): the answer is remembered per the values it
    depends on as they stand in the app's configuration (the settings it was given or
    changed to) and the environment's ``CELERY_BROKER_URL``; forgotten when Django's
    settings change."""
    conf_ = current_app.conf  # (no Celery app configured: Celery's default one, no broker)
    changes = getattr(conf_, "changes", None)
    if not isinstance(changes, dict):
        return _sweeps(conf_)
    key = (id(conf_), changes.get("task_always_eager"), changes.get("broker_url"), changes.get("broker_host"),
           os.environ.get("CELERY_BROKER_URL"))
    try:
        found = _SWEEPS.get(key)
    except TypeError:  # (a list of broker URLs: not remembered)
        return _sweeps(conf_)
    if found is None:
        found = _SWEEPS.keep(key, _sweeps(conf_))
    return found


_SWEEPS: Bounded[tuple[Any, ...], bool] = Bounded(64)


def _sweeps(conf_: Any) -> bool:
    return not conf_.task_always_eager and bool(conf_.broker_url)


@receiver(setting_changed)
def _forget_sweeps(**kwargs: Any) -> None:
    _SWEEPS.clear()


def sweep_later(subjects: list[str], visitor_ids: list[str]) -> None:
    """After a withdrawal's commit: the sweeps of its anonymous browsers (``SWEEP_SECONDS``)."""
    if not sweeps():
        return
    from reco_app.consent.tasks import forget_late

    # the browsers it forgot (their cookie removed), not the visitor ids merely joined to a
    # withdrawn account: such a browser's own consent may stand, and its new events are kept
    visitor_ids = [v for v in visitor_ids if v]
    if not visitor_ids:
        return
    for countdown in SWEEP_SECONDS:
        try:
            forget_late.apply_async(([f"anon:{v}" for v in visitor_ids], visitor_ids), countdown=countdown)
        except Exception:  # the broker down: the withdrawal itself stands
            logger.exception("reco_app: scheduling the sweep after a withdrawal failed")


def unmark(subjects: Iterable[str], visitor_ids: Iterable[str], earlier: dict[str, Any]) -> None:
    """A withdrawal failed: its marks go (a forgotten visitor id would make every later
    event of that browser late), and those of an earlier withdrawal it replaced come back."""
    keys = _mark_keys(subjects, visitor_ids)
    gone = [key for key in keys if key not in earlier]
    if gone:
        cache.delete(*gone)
    cache.set_many({key: earlier[key] for key in keys if key in earlier}, MARK_TTL)


def _swept(row: Any) -> bool:
    """An anonymous browser's event (not one of the API, which may arrive any time): the
    sweep removes it if it is late (if the withdrawal forgot that browser; not if it forgot
    an account this browser was once joined to)."""
    return (row.user_id is None and row.source != "api" and bool(row.visitor_id)
            and row.subject == f"anon:{row.visitor_id}")


def consent_read_at(row: Any) -> float:
    """When the consent a row was stored under was read (unix time)."""
    at = getattr(row, CONSENT_READ_AT, None)
    return float(at) if at is not None else row.timestamp.timestamp()


def _plain_redis(client: Any) -> bool:
    """django-redis's default client, whose raw values its ``decode`` reads (the herd client
    wraps every value, sharded ones split the keys): the marks join the round trip after a
    store's commit; with any other client they are read with ``get_many``."""
    try:
        from django_redis.client import DefaultClient, HerdClient, ShardClient
    except ImportError:  # (django-redis not installed: another cache backend)
        return False
    return isinstance(client, DefaultClient) and not isinstance(client, (HerdClient, ShardClient))


class LateCheck:
    """The marks of stored rows' shoppers, read inside :func:`reco_app.cache.one_round_trip`
    with the writes after a store's commit (or at once, outside one or on another cache
    backend); then :meth:`drop` deletes the late rows."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows
        by_subject: dict[str, list[Any]] = {}
        by_visitor: dict[str, list[Any]] = {}
        if any(_swept(row) for row in rows) and sweeps():
            rows = [row for row in rows if not _swept(row)]
        for row in rows:
            if row.subject:
                by_subject.setdefault(row.subject, []).append(row)
            if row.visitor_id:
                by_visitor.setdefault(row.visitor_id, []).append(row)
        self.by_key: dict[str, list[Any]] = {_subject_key(s): found for s, found in by_subject.items()}
        self.visitor_keys = {_visitor_key(v) for v in by_visitor}
        for visitor_id, found in by_visitor.items():
            self.by_key.setdefault(_visitor_key(visitor_id), []).extend(found)
        self.marks: dict[str, float] = {}
        self._late: list[Any] | None = None
        keys = list(self.by_key)
        if not keys:
            return
        client: Any = getattr(cache.get_cache(), "client", None)
        if _plain_redis(client):
            full = [client.make_key(key) for key in keys]
            if cache.defer(lambda pipe: pipe.mget(full), 1, lambda result: self._read(client, keys, result)):
                return
        self.marks = {key: int(at) / 1e6 for key, at in cache.get_many(keys).items()}

    def _read(self, client: Any, keys: list[str], result: Any) -> None:
        if isinstance(result, Exception):
            logger.warning("reco cache unavailable (withdrawal marks): %s", result)
            return
        self.marks = {key: int(client.decode(raw)) / 1e6 for key, raw in zip(keys, result[0], strict=True) if raw is not None}
        self._late = None

    def late(self) -> list[Any]:
        """The rows of a marked visitor id, and those whose consent was read before a mark
        of their subject key (once the marks are read)."""
        if self._late is None:
            found: dict[int, Any] = {}
            for key, at in self.marks.items():
                for row in self.by_key[key]:
                    if key in self.visitor_keys or consent_read_at(row) < at:
                        found[id(row)] = row
            self._late = list(found.values())
        return self._late

    def drop(self) -> list[Any]:
        """Delete (or anonymise, ``WITHDRAWAL_ACTION``) the late rows; returns the others.

        Nothing was derived from them but what the store's round trip did: the namespace
        bump (bumped again here: a list computed meanwhile may hold a late row) and, for
        live rules, the queue: shoppers with no row kept leave it, as the withdrawal took
        them out of it."""
        late = self.late()
        if not late:
            return self.rows
        from django.db import transaction

        from reco_app.consent.service import anonymise
        from reco_app.models import Event
        from reco_app.segments.live import queue

        kept = self.kept()
        # by event id: rows written with ignore_conflicts (SQLite, MySQL) have no primary key
        rows = Event.objects.filter(event_id__in=[row.event_id for row in late])
        with transaction.atomic():
            removed = anonymise(rows) if conf.get("WITHDRAWAL_ACTION") == "anonymise" else rows.delete()[0]
        queue.forget(sorted({row.subject for row in late} - {row.subject for row in kept}))
        # a list computed between the store's bump and this removal may hold a late row
        cache.bump_many(f"subject:{row.subject}" for row in late if row.subject)
        logger.info("reco_app: %d event(s) stored after their shopper's withdrawal removed", removed)
        return kept

    def kept(self) -> list[Any]:
        """The rows that are not late."""
        gone = {id(row) for row in self.late()}
        return [row for row in self.rows if id(row) not in gone]
