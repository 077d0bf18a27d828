"""PostgreSQL fast paths for events: a batch is COPYed into a temporary table, then moved
with one ``INSERT … SELECT … ON CONFLICT (event_id) DO NOTHING RETURNING`` into the event
table; a single event is one plain ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (prepared
where the connection allows), smaller batches one multi-row ``INSERT … VALUES`` of the same
kind (never prepared).

Several times faster than ``bulk_create`` for large batches, and idempotency comes from the
unique ``event_id`` inside the database (a concurrent re-send cannot slip through). COPY from
Python needs psycopg 3; with psycopg2, every batch is a multi-row ``INSERT``
(:func:`copy_usable`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from reco_app.models import Event

COLUMNS = (
    "event_id", "subject", "user_id", "visitor_id", "product_key", "event_type", "value",
    "session_id", "context", "consent", "source", "timestamp", "received_at",
)
TEMP = "reco_event_incoming_n"  # (a new name: the layout gained the row number)


def usable(db: Any = None) -> bool:
    """The single-event INSERT: PostgreSQL with either driver (``db``: the default database's
    connection, where the caller has it)."""
    return (db or connection).vendor == "postgresql"


@cache
def _binding_cursor() -> Any:
    """psycopg 3's server-binding cursor class as Django's PostgreSQL backend defines it; None
    with psycopg2 (imported once: only where PostgreSQL is used, its driver is installed)."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return None
    from django.db.backends.postgresql.base import ServerBindingCursor

    return ServerBindingCursor


def copy_usable(db: Any = None) -> bool:
    """The COPY batch path: PostgreSQL through psycopg 3 (psycopg2 has no ``cursor.copy``)."""
    return usable(db) and _binding_cursor() is not None


def _values(row: Event, now: Any, *, binary: bool = False) -> tuple[Any, ...]:
    """The row's values in ``COLUMNS`` order; the context as JSON text, or (``binary``) as
    the object psycopg's jsonb writer takes."""
    return (
        row.event_id, row.subject, row.user_id, row.visitor_id, row.product_key, row.event_type, row.value,
        row.session_id, row.context if binary else json.dumps(row.context), row.consent, row.source, row.timestamp, now,
    )


@cache
def _insert_one_sql() -> str:
    placeholders = ", ".join("%s::jsonb" if col == "context" else "%s" for col in COLUMNS)
    return (
        f"INSERT INTO {Event._meta.db_table} ({', '.join(COLUMNS)}) VALUES ({placeholders}) "
        f"ON CONFLICT (event_id) DO NOTHING RETURNING id"
    )


def _bound_cursor(db: Any = None) -> Any:
    """A cursor sending parameters apart from the SQL (psycopg 3's server-side binding), as
    Django's own cursor with ``OPTIONS["server_side_binding"]``: the values are not quoted
    into the statement's text, and PostgreSQL may run it as a prepared statement once
    ``OPTIONS["prepare_threshold"]`` allows (Django leaves that off by default, for
    connection poolers). With psycopg2, Django's cursor."""
    cursor_class = _binding_cursor()
    if cursor_class is None:
        return connection.cursor()
    db = db or connections[DEFAULT_DB_ALIAS]  # (the `connection` proxy looks it up on every use)
    # as connection.cursor() makes its own: health check, connection, error translation,
    # query logging (assertNumQueries counts it)
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(cursor_class(db.connection))  # type: ignore[attr-defined,call-arg]


def insert_one(row: Event, db: Any = None) -> bool:
    """One event (a page view, a beacon): a plain ``INSERT … ON CONFLICT DO NOTHING``
    without the ORM's per-field compilation. False when its ``event_id`` is already stored."""
    now = timezone.now()
    with _bound_cursor(db) as cursor:
        cursor.execute(_insert_one_sql(), _values(row, now))
        found = cursor.fetchone()
    if found is None:
        return False
    row.pk, row.received_at = found[0], now
    row._state.adding = False
    return True


def insert_values(rows: list[Event]) -> set[int]:
    """Several events in one ``INSERT … VALUES … ON CONFLICT DO NOTHING RETURNING`` (batches
    below the COPY threshold, and every batch with psycopg2): the database says which rows
    it wrote, so an event a concurrent request wrote first (and committed while this one
    waited for it) is reported as a duplicate, not as stored. Sets the stored rows' ``pk``;
    returns their event_ids (as ``UUID.int``)."""
    now = timezone.now()
    one = "(" + ", ".join("%s::jsonb" if col == "context" else "%s" for col in COLUMNS) + ")"
    sql = (
        f"INSERT INTO {Event._meta.db_table} ({', '.join(COLUMNS)}) VALUES {', '.join([one] * len(rows))} "
        f"ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id"
    )
    params = [value for row in rows for value in _values(row, now)]
    with _bound_cursor() as cursor:
        raw = getattr(connection.connection, "prepare_threshold", None)
        if raw is None:  # psycopg2, or psycopg 3 not preparing
            cursor.execute(sql, params)
        else:
            # never prepared: each batch size (and each pattern of NULLs) would be a statement
            # of its own, kept in the server's memory for the connection's life
            connection.connection.prepare_threshold = None
            try:
                cursor.execute(sql, params)
            finally:
                connection.connection.prepare_threshold = raw
        found = cursor.fetchall()
    by_key = {row.event_id.int: row for row in rows}
    inserted = set()
    for pk, event_id in found:  # (a UUID with either driver: Django registers psycopg2's adapter)
        key = event_id.int
        row = by_key[key]
        row.pk, row.received_at = pk, now
        row._state.adding = False
        inserted.add(key)
    return inserted


#: the column types binary COPY can write (built-in: the same oids in every database; a
#: domain is reported as its base type): int2, int4, int8, uuid, text, varchar, float8,
#: jsonb, timestamptz
BINARY_TYPES = frozenset({21, 23, 20, 2950, 25, 1043, 701, 3802, 1184})


def _binary_types(cursor: Any) -> list[int] | None:
    """The column types (oids) of the temporary table as it is on this connection, which
    binary COPY must name exactly (the user column follows the user model's primary key:
    integer, bigint, uuid, text…), from the description of a ``SELECT … LIMIT 0`` on it.
    None where binary COPY cannot be used: a column of a type it has no writer for
    (``char(n)``, ``citext``), or naive datetimes (``USE_TZ = False``: PostgreSQL reads them
    in the connection's time zone only as text)."""
    types = [column.type_code for column in cursor.description]
    return types if settings.USE_TZ and BINARY_TYPES.issuperset(types) else None


def insert(rows: list[Event], *, commits: bool = False) -> set[int]:
    """Insert rows not yet stored; sets their ``pk``; returns the inserted event_ids (as
    ``UUID.int``). The temporary table numbers the rows, so the database answers with
    (row number, id) pairs of plain integers. ``commits``: the caller's transaction is the
    outermost and commits when the batch is written, which empties the temporary table
    (``ON COMMIT DELETE ROWS``); otherwise (a savepoint inside a longer transaction) it is
    emptied here, before the next batch of that transaction numbers its rows again."""
    table = Event._meta.db_table
    cols = ", ".join(COLUMNS)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {TEMP} ON COMMIT DELETE ROWS "
            f"AS SELECT 0 AS n, {cols} FROM {table} WITH NO DATA"
        )
        # the table's columns as they are on this connection, asked for every batch: the
        # table may be older than a migration, or gone with a rolled-back transaction and
        # made again (two statements in one execute would break a prepared server-bound
        # cursor; a LIMIT 0 round trip is ~0.3 µs per event of a 500-event batch)
        cursor.execute(f"SELECT n, {cols} FROM {TEMP} LIMIT 0")
        types = _binary_types(cursor)
        raw = cursor.cursor  # the psycopg cursor
        # binary: no text to format here nor to parse there (half the client CPU of text)
        binary = types is not None
        with raw.copy(f"COPY {TEMP} (n, {cols}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")) as copy:
            if types is not None:
                copy.set_types(types)
            for n, row in enumerate(rows):
                row.received_at = now
                copy.write_row((n, *_values(row, now, binary=binary)))
        cursor.execute(
            f"WITH stored AS (INSERT INTO {table} ({cols}) SELECT {cols} FROM {TEMP} "
            f"ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id) "
            f"SELECT t.n, stored.id FROM stored JOIN {TEMP} t USING (event_id)"
        )
        found = cursor.fetchall()
        if not commits:
            cursor.execute(f"TRUNCATE {TEMP}")
    inserted = set()
    for n, pk in found:
        row = rows[n]
        row.pk = pk
        row._state.adding = False
        inserted.add(row.event_id.int)
    return inserted
