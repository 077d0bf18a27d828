"""Events as column arrays, read with one query (no ORM objects)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connections, router
from django.db.models import FloatField, Func

from reco_app.models import Event


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, computed by the database."""

    output_field = FloatField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="UNIX_TIMESTAMP(%(expressions)s)", **extra)


def to_epoch(when: dt.datetime | float | None) -> float | None:
    if when is None or isinstance(when, (int, float)):
        return when
    return when.timestamp()


@dataclass
class EventArrays:
    """Events as parallel arrays; ``timestamps`` are seconds since the epoch."""

    subjects: np.ndarray
    products: np.ndarray
    types: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray
    #: Matrix rows/columns of each event, once :meth:`encode` has run (-1 = not in the map).
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.subjects)

    def select(self, mask: np.ndarray) -> EventArrays:
        pick = (lambda a: None if a is None else a[mask])
        return EventArrays(
            self.subjects[mask], self.products[mask], self.types[mask], self.values[mask], self.timestamps[mask],
            pick(self.rows), pick(self.cols),
        )

    def encode(self, user_index: dict[str, int], item_index: dict[str, int]) -> EventArrays:
        """The same events with their matrix positions looked up once (reused by subsets)."""
        from reco_app.datasets.idmaps import encode

        return EventArrays(
            self.subjects, self.products, self.types, self.values, self.timestamps,
            encode(self.subjects, user_index), encode(self.products, item_index),
        )

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> EventArrays:
        """Rows of (subject, product_key, event_type, value, timestamp as datetime or epoch)."""
        if not rows:
            return cls.empty()
        subjects, products, types, values, stamps = zip(*rows, strict=True)
        return cls(
            np.array(subjects, dtype=object),
            np.array(products, dtype=object),
            np.array(types, dtype=str),  # fixed-width: comparisons are vectorised
            np.array([np.nan if v is None else v for v in values], dtype=np.float64),
            np.array(stamps if isinstance(stamps[0], (int, float)) else [to_epoch(t) for t in stamps], dtype=np.float64),
        )

    @classmethod
    def empty(cls) -> EventArrays:
        obj = np.array([], dtype=object)
        return cls(obj, obj.copy(), np.array([], dtype=str), np.zeros(0), np.zeros(0))


def load_events(
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    types: Sequence[str] | None = None,
    exclude_subjects: Sequence[str] = (),
) -> EventArrays:
    """Consented events with a product, ``since <= timestamp < until``, in one raw query.

    Building model objects for a million rows takes minutes; a cursor over the compiled
    ``values_list`` query takes seconds.
    """
    qs = Event.objects.consented().exclude(product_key="")
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    if until is not None:
        qs = qs.filter(timestamp__lt=until)
    if types is not None:
        qs = qs.filter(event_type__in=list(types))
    rows_qs = qs.annotate(_epoch=EpochSeconds("timestamp")).order_by().values_list(
        "subject", "product_key", "event_type", "value", "_epoch"
    )
    with gc_paused():
        rows = _fetch(rows_qs)
        events = EventArrays.from_rows(rows) if rows else EventArrays.empty()
        del rows
    if exclude_subjects and len(events):
        events = events.select(~np.isin(events.subjects, np.array(list(exclude_subjects), dtype=object)))
    return events


@contextmanager
def gc_paused() -> Iterator[None]:
    """Millions of fresh row tuples would trigger repeated full garbage collections, each
    walking every row read so far; nothing here makes reference cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fetch(qs: Any) -> list[tuple[Any, ...]]:
    sql, params = qs.query.sql_with_params()
    with connections[router.db_for_read(qs.model)].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
