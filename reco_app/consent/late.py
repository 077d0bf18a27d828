"""Events that requests already under way store after a withdrawal.

A request reads the visitor's consent when it starts and stores its event when it ends. A
product page rendering while the shopper clicks "withdraw" in another tab (or on another
device) would store its view after the withdrawal deleted the history.

So a withdrawal marks the shoppers it forgets (subject keys and visitor ids) in the cache
with the time it began, for :data:`MARK_SECONDS`, *before* it deletes their events; every
store reads the marks of its rows once committed (in the round trip it makes anyway for the
namespace bump, where there is one), and a row whose consent was read before its shopper's
mark is late: the store deletes it (or anonymises it, ``WITHDRAWAL_ACTION``) itself. A late
row either was committed before the withdrawal's ``DELETE`` began, which deletes it, or its
store began reading after the mark was set, and finds it.

When was a row's consent read? For the events of a request (``track()``, the beacon, the
middleware's product view), when that request began
(:attr:`~reco_app.tracking.context.VisitorContext.consent_read_at`): its cookies carry the
decision it acts on, however late in the request it is evaluated. For events of the
server-to-server API, which states consent itself, the event's own ``timestamp``; an event
sent without one could have been decided at any time, so it counts as late while its
shopper is marked. So what a shopper does after the withdrawal is kept, whether they consent
again (in any way) or go on browsing on another device whose consent still stands: nothing
needs clearing. Web servers' clocks are assumed to agree within far less than a request's
duration.

The marks live in reco_app's cache, which must be shared by the web processes (Redis): in
a process-local cache only the withdrawing process sees them. Without a reachable cache
nothing is marked nor read, and a request under way during the withdrawal may keep its one
event (the outage is logged, unless django-redis is told to ignore it). A mark names a
pseudonymous key and expires on its own after :data:`MARK_SECONDS`, longer than any request
a server lets run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from reco_app import cache, conf

logger = logging.getLogger(__name__)
#: how long a withdrawal is honoured for requests already under way: far longer than a
#: request may run (gunicorn's default timeout is 30 s)
MARK_SECONDS = 300
#: the attribute of an unsaved Event row holding when its consent was read (unix time),
#: set by :func:`reco_app.tracking.service.visitor_row`
CONSENT_READ_AT = "_reco_consent_read_at"


def _key(kind: str, value: str) -> str:
    """``cache.make_key("withdrawn", kind, value)``, without its generality (a 500-event
    batch builds up to a thousand)."""
    raw = f"withdrawn:{kind}:{value}"
    if len(raw) > 200 or not value.isprintable() or " " in value:
        return cache.make_key("withdrawn", kind, value)  # (hashed there)
    return f"{cache.PREFIX}:{raw}"


def _subject_key(subject: str) -> str:
    return _key("s", subject)


def _visitor_key(visitor_id: str) -> str:
    return _key("v", visitor_id)


def mark(subjects: Iterable[str], visitor_ids: Iterable[str]) -> None:
    """Before a withdrawal deletes these shoppers' events: stores still under way, whose
    consent was read before now, drop theirs."""
    keys = [_subject_key(s) for s in subjects if s] + [_visitor_key(v) for v in visitor_ids if v]
    # whole microseconds: an integer is stored as it is by every cache backend
    cache.set_many(dict.fromkeys(keys, int(time.time() * 1_000_000)), MARK_SECONDS)


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
        for row in rows:
            if row.subject:
                by_subject.setdefault(row.subject, []).append(row)
            if row.visitor_id:
                by_visitor.setdefault(row.visitor_id, []).append(row)
        self.by_key: dict[str, list[Any]] = {_subject_key(s): found for s, found in by_subject.items()}
        for visitor_id, found in by_visitor.items():
            self.by_key.setdefault(_visitor_key(visitor_id), []).extend(found)
        self.marks: dict[str, float] = {}
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

    def late(self) -> list[Any]:
        """The rows whose consent was read before a mark of their shopper."""
        found: dict[int, Any] = {}
        for key, at in self.marks.items():
            for row in self.by_key[key]:
                if consent_read_at(row) < at:
                    found[id(row)] = row
        return list(found.values())

    def drop(self) -> list[Any]:
        """Delete (or anonymise, ``WITHDRAWAL_ACTION``) the late rows; returns the others.

        Nothing was derived from them but what the store's round trip did: the namespace
        bump (bumped again here: a list computed meanwhile may hold a late row) and, for
        live rules, the queue: shoppers with no row kept leave it, as the withdrawal took
        them out of it."""
        from django.db import transaction

        from reco_app.consent.service import anonymise
        from reco_app.models import Event
        from reco_app.segments.live import queue

        late = self.late()
        if not late:
            return self.rows
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
