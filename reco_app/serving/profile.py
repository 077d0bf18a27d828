"""What serving knows about one shopper: their recent consented events, as catalog rows."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connections, router
from django.db.models import F, FloatField, Func, QuerySet
from django.utils import timezone

from reco_app import conf
from reco_app.models.events import TASTE_TYPES
from reco_app.prepared import PreparedQuery
from reco_app.serving.types import CatalogIndex


class Epoch(Func):
    """A timestamp as seconds since 1970 (a float), computed by the database: building a
    timezone-aware datetime for each row of a history costs more than the query itself."""

    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # (stored as UTC text; julianday keeps it to about 50 microseconds)
        return self.as_sql(compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra)


def _history(subject: str, since: dt.datetime, limit: int) -> QuerySet[Any]:
    from reco_app.models import Event

    vendor = connections[router.db_for_read(Event)].vendor
    at = Epoch("timestamp") if vendor in ("postgresql", "sqlite") else F("timestamp")
    return (
        Event.objects.consented().for_subject(subject).since(since).annotate(at=at)
        .order_by("-timestamp").values_list("product_key", "event_type", "at", "value")[:limit]
    )


# compiled once: a cache miss runs this one query without building and compiling a queryset
_HISTORY = PreparedQuery(_history, subject=("reco_app.Event", "subject"), since=("reco_app.Event", "timestamp"))


def history_rows(subject: str, since: dt.datetime, limit: int) -> list[tuple[Any, ...]]:
    """The shopper's newest consented events since ``since``: (product key, type, time,
    value); the time in seconds since 1970 (a datetime on databases other than PostgreSQL
    and SQLite: :func:`seconds` reads both)."""
    return _HISTORY.rows(subject=subject, since=since, shape={"limit": limit})


def history_window(now: dt.datetime) -> tuple[dt.datetime, int]:
    """(since, row limit) of the history a profile reads: the newest events of the last
    ``max(HISTORY_DAYS, 2 years)``, at most ``max(10 × HISTORY_LIMIT, 500)`` of them."""
    return now - dt.timedelta(days=max(conf.get("HISTORY_DAYS"), 730)), max(10 * conf.get("HISTORY_LIMIT"), 500)


def seconds(at: Any) -> float:
    """A history row's time in seconds since 1970."""
    return at if isinstance(at, float) else float(at.timestamp())


@dataclass
class Profile:
    subject: str | None = None
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # newest first, unique
    recent_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    viewed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # newest first, unique
    purchased: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    purchase_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def empty(self) -> bool:
        return not len(self.recent) and not len(self.purchased)


def load_profile(subject: str | None, catalog: CatalogIndex, now: dt.datetime | None = None, *, kept: tuple[Any, Any, int | None] | None = None) -> Profile:
    """The shopper's consented history, mapped to catalog rows.

    One query on the (subject, timestamp) index (:func:`history_window`); taste comes from
    the ``HISTORY_LIMIT`` newest taste events within ``HISTORY_DAYS``, purchases (buy again,
    already bought) from all of them. ``kept``: the shared cache's copy of the history and
    the version it stands at, read with the shopper's namespace, and that namespace's
    version (:mod:`.histories`), used instead of the query when it stands for it.
    """
    if not subject:
        return Profile()
    now = now or timezone.now()
    history_days, history_limit = conf.get("HISTORY_DAYS"), conf.get("HISTORY_LIMIT")
    recent_since = (now - dt.timedelta(days=history_days)).timestamp()
    now_s = now.timestamp()
    since, limit = history_window(now)
    events = None
    if kept is not None:
        from reco_app.serving.histories import usable_rows

        events = usable_rows(*kept, since, limit)
    if events is None:
        events = history_rows(subject, since, limit)
    weights_cfg: dict[str, float] = conf.get("EVENT_WEIGHTS")
    half_life = 3 * 86400.0
    score: dict[int, float] = {}
    viewed: dict[int, None] = {}
    purchases: dict[int, int] = {}
    taste_events = 0
    for key, etype, ts, value in events:
        row = catalog.key_to_idx.get(key)
        if row is None:
            continue
        if etype == "purchase":
            purchases[row] = purchases.get(row, 0) + 1
        if etype not in TASTE_TYPES or taste_events >= history_limit:
            continue
        at = seconds(ts)
        if at < recent_since:
            continue
        taste_events += 1
        w = float(weights_cfg.get(etype, 0.0))
        if etype == "rating":
            w *= (value or 2.5) - 2.5
        age = max(now_s - at, 0.0)
        score[row] = score.get(row, 0.0) + w * math.exp(-age * math.log(2) / half_life)
        if etype == "product_view":
            viewed.setdefault(row)
    liked = [r for r in score if score[r] > 0]  # dicts keep first-seen order: newest first
    return Profile(
        subject=subject,
        recent=np.array(liked, np.int64),
        recent_weights=np.array([score[r] for r in liked], np.float64),
        viewed=np.array(list(viewed), np.int64),
        purchased=np.array(list(purchases), np.int64),
        purchase_counts=np.array(list(purchases.values()), np.int64),
    )
