"""Shoppers' recent histories kept in the shared cache by the view writer.

Where product views are written behind the page (``VIEW_BUFFER_SECONDS``), the writer knows
which shoppers have just browsed, and that their next page with a personal list will
compute it again from their history (their namespace has moved). With
``VIEW_BUFFER_HISTORIES`` (the default) it reads those shoppers' histories after writing the
batch — one query for the batch — and keeps each in the shared cache with, under a key of
its own, the version of the shopper's namespace it stands at
(:func:`reco_app.cache.history_keys`). The page reads both in the round trip that reads
their namespace and list, and builds their profile from the copy instead of querying the
database (:func:`reco_app.serving.profile.load_profile`) when it stands at the current
version.

What keeps it exact: the history is read after the batch's commit and after the
namespace was read, and a shopper's events are committed before their namespace is bumped,
so a copy holds every event stored before the version it stands at was current. It is
written only while the namespace is still at that version
(:func:`reco_app.cache.set_indexed_many`), used only at it, and rows older than the
reader's window are left out on reading. A bump for a change that leaves the shopper's
events as they were (their live segments) carries the copy to the next version
(:func:`reco_app.cache.bump_many` with ``keeps``); any other bump leaves it behind. Events
with the very same timestamp may come in another order than the page's own query gives them.

What it holds is personal data: the shopper's consented events of the profile's window (the
``HISTORY_LIMIT``-derived number of rows the page reads), for at most ``CACHE_TIMEOUT``
seconds, listed in their index (erasure deletes it, export shows it). A shopper who does
not come back costs the writer one row set in the batch query and a cache entry that
expires.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import connections, router
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from reco_app import cache, conf
from reco_app.prepared import PreparedQuery, padded
from reco_app.serving.profile import Epoch, history_window, seconds

logger = logging.getLogger(__name__)

#: the cached copy (:func:`reco_app.cache.history_keys`): (window start in seconds since 1970,
#: row limit, rows newest first); beside it, under its own key, the namespace version it
#: stands at


def usable_rows(entry: Any, at: Any, version: int | None, since: dt.datetime, limit: int) -> list[tuple[Any, ...]] | None:
    """The rows of a cached history that stand for the page's own query (its window from
    ``since``, ``limit`` rows), or None: no copy, a copy that stands at another version
    (``at``) than the shopper's current namespace ``version``, another limit, or a window
    that starts later."""
    if version is None or at != version or not isinstance(entry, tuple) or len(entry) != 3:
        return None
    start, size, rows = entry
    since_s = since.timestamp()
    if size != limit or start > since_s:
        return None
    if rows and seconds(rows[-1][2]) < since_s:  # (newest first: the oldest fell out of the window)
        rows = [row for row in rows if seconds(row[2]) >= since_s]
    return list(rows)


def _histories(subjects: list[str], since: dt.datetime, limit: int) -> Any:
    from reco_app.models import Event

    vendor = connections[router.db_for_read(Event)].vendor
    at = Epoch("timestamp") if vendor in ("postgresql", "sqlite") else F("timestamp")
    return (
        Event.objects.consented().filter(subject__in=subjects).since(since)
        .annotate(at=at, rank=Window(RowNumber(), partition_by=[F("subject")], order_by=F("timestamp").desc()))
        .filter(rank__lte=limit).order_by("subject", "-timestamp")
        .values_list("subject", "product_key", "event_type", "at", "value")
    )


# compiled once per number of shoppers (padded to a power of two) and limit
_HISTORIES = PreparedQuery(_histories, subjects=("reco_app.Event", "subject", list), since=("reco_app.Event", "timestamp"))


def histories(subjects: list[str], since: dt.datetime, limit: int) -> dict[str, list[tuple[Any, ...]]]:
    """Each shopper's newest consented events since ``since`` (at most ``limit``), as
    :func:`reco_app.serving.profile.history_rows` gives them: one query for all of them."""
    if not subjects:
        return {}
    out: dict[str, list[tuple[Any, ...]]] = {s: [] for s in subjects}
    for subject, *row in _HISTORIES.rows(subjects=padded(list(out)), since=since, shape={"limit": limit}):
        out[subject].append(tuple(row))
    return out


def keep(subjects: Iterable[str]) -> int:
    """Keep these shoppers' histories in the shared cache, tagged with their namespaces'
    current versions (the view writer, after its batch's commit). Shoppers without a
    namespace in the cache are left out (their next page creates it at a fresh version).
    Returns how many were kept; a failure is logged, never raised."""
    if not conf.get("VIEW_BUFFER_HISTORIES"):
        return 0
    names = list(dict.fromkeys(s for s in subjects if s))
    if not names:
        return 0
    try:
        keys = {s: cache.make_key("ns", f"{cache.SUBJECT_NS}{s}") for s in names}
        found = cache.get_many(list(keys.values()))  # (before the query: see the module docstring)
        versions = {s: int(found[k]) for s, k in keys.items() if found.get(k) is not None}
        if not versions:
            return 0
        since, limit = history_window(timezone.now())
        rows = histories(list(versions), since, limit)
        start = since.timestamp()
        # each written only while their namespace is still at v: the copy, and beside it
        # the version it stands at (one script a shopper)
        cache.set_indexed_many([
            (entry, (start, limit, rows[s]), s, v, at) for s, v in versions.items() for entry, at in [cache.history_keys(s)]
        ])
        return len(versions)
    except Exception:  # the views are written: their shoppers' pages query their history instead
        logger.exception("reco_app: keeping %d shoppers' histories in the cache failed", len(names))
        return 0
