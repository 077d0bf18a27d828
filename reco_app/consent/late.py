"""Events that requests already under way store after a withdrawal.

A request reads the visitor's consent when it starts and stores its event when it ends. A
product page rendering while the shopper clicks "withdraw" in another tab would store its
view after the withdrawal deleted the history, under the visitor id the withdrawal forgot.

So a withdrawal marks its shoppers (subject keys and visitor ids) in the cache for
:data:`MARK_SECONDS` *before* it deletes their events, and every store reads the marks of
its rows once committed (in the round trip it makes anyway for the namespace bump, where
there is one) and deletes the rows of marked shoppers itself. A late row either was
committed before the withdrawal's ``DELETE`` began, which deletes it, or its store began
reading after the mark was set, and finds it. Such a row is then deleted (or anonymised,
``WITHDRAWAL_ACTION``) with what its store derived from it (live-segment state, the
namespace bump), and ``event_stored`` is not sent for it; the store's own result (the
response of the API, what ``track()`` returned) still counts it as stored.

Marks are cleared when the shopper grants consent again through reco_app (the banner's
"Accept", a signed-in grant recorded at login), so a shopper who changes their mind is
tracked again at once. Without a reachable cache nothing is marked nor read: a request
under way during the withdrawal may then keep its one event (logged as the cache being
down). A mark outlives any request a server would let run (``MARK_SECONDS``); it names a
pseudonymous key and expires on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from reco_app import cache, conf

logger = logging.getLogger(__name__)
#: how long a withdrawal is honoured for requests already under way: far longer than a
#: request may run (gunicorn's default timeout is 30 s)
MARK_SECONDS = 300


def _keys(subjects: Iterable[str], visitor_ids: Iterable[str]) -> list[str]:
    return [cache.make_key("withdrawn", "s", s) for s in subjects if s] + [
        cache.make_key("withdrawn", "v", v) for v in visitor_ids if v
    ]


def mark(subjects: Iterable[str], visitor_ids: Iterable[str]) -> None:
    """Before a withdrawal deletes these shoppers' events: stores still under way drop theirs."""
    cache.set_many(dict.fromkeys(_keys(subjects, visitor_ids), 1), MARK_SECONDS)


def clear(subjects: Iterable[str], visitor_ids: Iterable[str]) -> None:
    """Consent granted again: these shoppers' new events are kept."""
    keys = _keys(subjects, visitor_ids)
    if keys:
        cache.delete(*keys)


class LateCheck:
    """The marks of stored rows' shoppers, read inside :func:`reco_app.cache.one_round_trip`
    with the writes after a store's commit (or at once, outside one or on another cache
    backend); then :meth:`drop` deletes the rows of marked shoppers."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows
        self.by_key: dict[str, list[Any]] = {}
        for row in rows:
            for key in _keys([row.subject], [row.visitor_id]):
                self.by_key.setdefault(key, []).append(row)
        self.marked: set[str] | None = None
        keys = list(self.by_key)
        if not keys:
            self.marked = set()
            return
        client = getattr(cache.get_cache(), "client", None)
        if client is not None and hasattr(client, "get_client"):
            full = [client.make_key(key) for key in keys]
            if cache.defer(lambda pipe: pipe.mget(full), 1, lambda result: self._read(keys, result)):
                return
        self.marked = set(cache.get_many(keys))

    def _read(self, keys: list[str], result: Any) -> None:
        if isinstance(result, Exception):
            logger.warning("reco cache unavailable (withdrawal marks): %s", result)
            self.marked = set()
            return
        self.marked = {key for key, value in zip(keys, result[0], strict=True) if value is not None}

    def drop(self) -> list[Any]:
        """Delete (or anonymise, ``WITHDRAWAL_ACTION``) the rows of marked shoppers, and
        erase what their store derived from them, as the withdrawal did
        (:func:`reco_app.consent.service.forget`); returns the others."""
        from django.db import transaction

        from reco_app.consent.service import anonymise, erase_derived
        from reco_app.models import Event

        if not self.marked:
            return self.rows
        late = {id(row): row for key in self.marked for row in self.by_key[key]}
        withdrawn = sorted({row.subject for row in late.values() if cache.make_key("withdrawn", "s", row.subject) in self.marked})
        # (a browser withdrawn apart from the account it was joined to: the account keeps its
        # other data, and its lists change)
        others = {row.subject for row in late.values()} - set(withdrawn)
        with transaction.atomic():
            rows = Event.objects.filter(pk__in=[row.pk for row in late.values()])
            if conf.get("WITHDRAWAL_ACTION") == "anonymise":
                anonymise(rows)
            else:
                rows.delete()
            if withdrawn:
                erase_derived(withdrawn)
        cache.bump_many(f"subject:{s}" for s in others if s)
        logger.info("reco_app: %d event(s) stored after their shopper's withdrawal deleted", len(late))
        return [row for row in self.rows if id(row) not in late]
