"""A shopper's recent events as the live rules see them (:class:`Recent`): one shopper with
a compiled query, many (the queue's drain) with one window query."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
from django.db.models import F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber

from reco_app.models import CatalogItem, Event
from reco_app.prepared import PreparedQuery, padded
from reco_app.segments.live.rules import LOOKBACK, Recent

#: at most this many of a shopper's newest events are read per evaluation (a bot-like shopper
#: with thousands of events a day must not make every event of theirs slower)
RECENT_LIMIT = 200


def _recent(subject: str, since: dt.datetime, until: dt.datetime, limit: int) -> Any:
    category = CatalogItem.objects.filter(product_key=OuterRef("product_key")).values("category")[:1]
    return (
        Event.objects.consented().for_subject(subject).since(since).filter(timestamp__lte=until)
        .annotate(category=Subquery(category))
        .order_by("-timestamp", "-id").values_list("event_type", "category", "session_id", "timestamp")[:limit]
    )


# compiled once: every product view of a consenting shopper runs this query
_RECENT = PreparedQuery(
    _recent, subject=("reco_app.Event", "subject"), since=("reco_app.Event", "timestamp"),
    until=("reco_app.Event", "timestamp"),
)


def load_recent(subject: str, now: dt.datetime) -> Recent:
    """One query: the shopper's ``RECENT_LIMIT`` newest consented events of the last 24 hours,
    with their products' categories."""
    newest = _RECENT.rows(subject=subject, since=now - LOOKBACK, until=now, shape={"limit": RECENT_LIMIT})
    return _as_recent(subject, now, newest[::-1])


def _as_recent(subject: str, now: dt.datetime, rows: list[tuple[Any, ...]]) -> Recent:
    """``Recent`` from (event type, category, session, timestamp) rows, oldest first."""
    return Recent(
        subject=subject,
        now=now,
        etype=np.array([r[0] for r in rows], dtype=object),
        ts=[r[3] for r in rows],
        session=np.array([r[2] for r in rows], dtype=object),
        category=np.array([r[1] or "" for r in rows], dtype=object),
        current_session=rows[-1][2] if rows else "",
    )


def _recent_many(subjects: list[str], since: dt.datetime, until: dt.datetime, limit: int) -> Any:
    category = CatalogItem.objects.filter(product_key=OuterRef("product_key")).values("category")[:1]
    newest = Window(RowNumber(), partition_by=[F("subject")], order_by=[F("timestamp").desc(), F("id").desc()])
    return (
        Event.objects.consented().filter(subject__in=subjects).since(since).filter(timestamp__lte=until)
        .annotate(category=Subquery(category), newest=newest).filter(newest__lte=limit)
        .values_list("subject", "event_type", "category", "session_id", "timestamp", "id")
    )


# compiled once per list length (padded to a power of two): the queue's drain runs it per batch
_RECENT_MANY = PreparedQuery(
    _recent_many, subjects=("reco_app.Event", "subject", list), since=("reco_app.Event", "timestamp"),
    until=("reco_app.Event", "timestamp"),
)


def load_recent_many(subjects: list[str], now: dt.datetime) -> dict[str, Recent]:
    """:func:`load_recent` for several shoppers in one query (a window function keeps each
    shopper's ``RECENT_LIMIT`` newest events)."""
    rows = _RECENT_MANY.rows(subjects=padded(subjects), since=now - LOOKBACK, until=now, shape={"limit": RECENT_LIMIT}) if subjects else []
    by_subject: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_subject[row[0]].append(row)
    out = {}
    for subject in subjects:
        found = sorted(by_subject.get(subject, ()), key=lambda r: (r[4], r[5]))  # oldest first
        out[subject] = _as_recent(subject, now, [r[1:5] for r in found])
    return out
