"""Storing validated event rows in batches: COPY on PostgreSQL, INSERT-or-ignore on SQLite
and MySQL, ``bulk_create`` elsewhere.

A writer is a context manager with ``write(rows) -> number newly stored``; each call is
its own transaction, so every finished batch stays stored whatever happens next.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, NamedTuple, Self

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from reco_app.importing.csvfile import from_micros
from reco_app.models.events import ConsentBasis, Event

SOURCE = "import"
_STAGE = "reco_import_stage"


class EventRow(NamedTuple):
    event_id: str
    subject: str
    product_key: str
    event_type: str
    value: float | None
    micros: int  # timestamp as microseconds since the Unix epoch (UTC)


class BatchWriter:
    method = "orm"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def write(self, rows: list[EventRow]) -> int:
        """Store ``rows`` (skipping event ids already stored); return how many were new."""
        unique = {r.event_id: r for r in rows}
        if not unique:
            return 0
        ids = [uuid.UUID(k) for k in unique]
        alias = self.connection.alias
        with transaction.atomic(using=alias):
            known: set[str] = set()
            for i in range(0, len(ids), 500):  # stay under SQLite's variable limit
                known.update(
                    e.hex for e in Event.objects.using(alias).filter(event_id__in=ids[i : i + 500]).values_list("event_id", flat=True)
                )
            new = [
                Event(
                    event_id=uuid.UUID(r.event_id),
                    subject=r.subject,
                    product_key=r.product_key,
                    event_type=r.event_type,
                    value=r.value,
                    consent=ConsentBasis.IMPORTED,
                    source=SOURCE,
                    timestamp=from_micros(r.micros),
                )
                for key, r in unique.items()
                if key not in known
            ]
            Event.objects.using(alias).bulk_create(new, batch_size=500, ignore_conflicts=True)
        return len(new)


class InsertIgnoreWriter(BatchWriter):
    """One ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` (or the backend's
    spelling of it) per batch: SQLite, MySQL. Ten times faster than ``bulk_create``, whose
    per-field preparation dominates at this volume."""

    method = "insert-ignore"
    FIELDS = (
        "event_id", "subject", "user", "visitor_id", "product_key", "event_type", "value",
        "session_id", "context", "consent", "source", "timestamp", "received_at",
    )

    def _sql(self) -> str:
        from django.db.models.constants import OnConflict

        ops = self.connection.ops
        fields = [Event._meta.get_field(n) for n in self.FIELDS]
        columns = ", ".join(ops.quote_name(str(f.column)) for f in fields)  # type: ignore[union-attr]
        suffix = ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
        return (
            f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {ops.quote_name(Event._meta.db_table)} "
            f"({columns}) VALUES ({', '.join(['%s'] * len(fields))}) {suffix}"
        )

    def write(self, rows: list[EventRow]) -> int:
        if not rows:
            return 0
        ops, native_uuid = self.connection.ops, self.connection.features.has_native_uuid_field
        received = ops.adapt_datetimefield_value(timezone.now())
        consent = ConsentBasis.IMPORTED.value
        params = [
            (
                uuid.UUID(r.event_id) if native_uuid else r.event_id,  # non-native: 32 hex digits
                r.subject, None, "", r.product_key, r.event_type, r.value, "", "{}", consent, SOURCE,
                ops.adapt_datetimefield_value(from_micros(r.micros)), received,
            )
            for r in rows
        ]
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cur:
            cur.executemany(self._sql(), params)
            return max(int(cur.rowcount), 0)


class PostgresCopyWriter(BatchWriter):
    """COPY each batch into a temporary table, then INSERT ... ON CONFLICT DO NOTHING."""

    method = "postgresql-copy"

    def __enter__(self) -> Self:
        with self.connection.cursor() as cur:
            cur.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ("
                "event_id uuid, subject text, product_key text, event_type text,"
                " value double precision, micros bigint)"
            )
            cur.execute(f"TRUNCATE {_STAGE}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.connection.in_atomic_block and self.connection.needs_rollback:
            return  # the surrounding transaction is broken; the temp table goes with it
        try:
            with self.connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        except Exception:
            if exc is None:
                raise

    def _insert_sql(self) -> str:
        q = self.connection.ops.quote_name
        col = {f.name: q(str(f.column)) for f in Event._meta.concrete_fields}
        targets = ", ".join(
            col[n] for n in (
                "event_id", "subject", "user", "visitor_id", "product_key", "event_type", "value",
                "session_id", "context", "consent", "source", "timestamp", "received_at",
            )
        )
        return (
            f"INSERT INTO {q(Event._meta.db_table)} ({targets}) "
            "SELECT event_id, subject, NULL, '', product_key, event_type, value, '', '{}'::jsonb,"
            f" %s, %s, timestamptz 'epoch' + micros * interval '1 microsecond', now() FROM {_STAGE} "
            # Time order: appends to the time indexes' last pages, clusters the table by
            # time, and gives parallel batches one lock order (no deadlocks on duplicates).
            f"ORDER BY micros, event_id ON CONFLICT ({col['event_id']}) DO NOTHING"
        )

    def write(self, rows: list[EventRow]) -> int:
        if not rows:
            return 0
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cur:
            raw: Any = cur.cursor  # the psycopg cursor behind Django's wrapper
            with raw.copy(f"COPY {_STAGE} (event_id, subject, product_key, event_type, value, micros) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(self._insert_sql(), [ConsentBasis.IMPORTED.value, SOURCE])
            stored = cur.rowcount
            cur.execute(f"TRUNCATE {_STAGE}")
        return int(stored)


def writer_for(connection: BaseDatabaseWrapper) -> BatchWriter:
    if connection.vendor == "postgresql":
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        if is_psycopg3:  # COPY from Python needs psycopg 3; psycopg2 takes the ORM path
            return PostgresCopyWriter(connection)
    if connection.vendor in ("sqlite", "mysql") and connection.features.supports_ignore_conflicts:
        return InsertIgnoreWriter(connection)
    return BatchWriter(connection)
