"""Live-segment memberships on the hot path: one prepared read, one statement per write.

Each product view of a consenting shopper may read their live memberships (when the cached
state has expired) and add or refresh one. Through the ORM these cost 0.4–1.8 ms of CPU each
(building and compiling the query; ``get_or_create`` for the segment, then the upsert).
Here:

* the reads are :class:`~reco_app.prepared.PreparedQuery` objects (compiled once; the
  drain's read of a batch's shoppers once per padded list length);
* a new membership is one ``INSERT … SELECT … ON CONFLICT … DO UPDATE … RETURNING`` that
  finds the segment by its key in the same statement (PostgreSQL, SQLite ≥ 3.35); only a
  segment that does not exist yet costs a ``get_or_create`` and a second try. Other
  databases use the ORM's ``bulk_create(update_conflicts=True)``, as the drain's batches
  do on every database (:func:`upsert_many`: one statement for many shoppers);
* an expiry refresh is one ``UPDATE`` by primary key, and leaving segments one ``DELETE``
  by primary keys (nothing depends on a membership, so the ORM's deletion collector has
  nothing to find).

Values are adapted by the model fields (``get_db_prep_save``), as the ORM does.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from django.db import connection

from reco_app.models.segments import Segment, SegmentKind, SegmentMembership
from reco_app.prepared import PreparedQuery, padded

#: the columns a live rule sets, in the order of the statements below
FIELDS = ("score", "reason", "computed_at", "expires_at")

_MEMBERSHIPS = PreparedQuery(
    lambda subject: SegmentMembership.objects.filter(subject=subject, segment__kind=SegmentKind.LIVE)
    .values_list("segment__key", "pk", "expires_at").order_by(),
    subject=("reco_app.SegmentMembership", "subject"),
)


def memberships(subject: str) -> dict[str, tuple[int, dt.datetime | None]]:
    """The shopper's live memberships: segment key → (membership pk, expiry)."""
    return {key: (pk, expires) for key, pk, expires in _MEMBERSHIPS.rows(subject=subject)}


# compiled once per list length (padded to a power of two): the queue's drain runs it per batch
_MEMBERSHIPS_MANY = PreparedQuery(
    lambda subjects: SegmentMembership.objects.filter(subject__in=subjects, segment__kind=SegmentKind.LIVE)
    .values_list("subject", "segment__key", "pk", "expires_at").order_by(),
    subjects=("reco_app.SegmentMembership", "subject", list),
)


def memberships_many(subjects: list[str]) -> dict[str, dict[str, tuple[int, dt.datetime | None]]]:
    """:func:`memberships` of several shoppers in one query (shoppers without any are left out)."""
    out: dict[str, dict[str, tuple[int, dt.datetime | None]]] = {}
    rows = _MEMBERSHIPS_MANY.rows(subjects=padded(subjects)) if subjects else []
    for subject, key, pk, expires in rows:
        out.setdefault(subject, {})[key] = (pk, expires)
    return out


def _field(name: str) -> Any:
    return SegmentMembership._meta.get_field(name)


def _column(field: Any) -> str:
    return str(field.column)


def _values(fields: dict[str, Any]) -> list[Any]:
    return [_field(name).get_db_prep_save(fields[name], connection) for name in FIELDS]


@cache
def _upsert_sql(vendor: str) -> str | None:
    """The one-statement upsert for this database, or None (the ORM's is used)."""
    features = connection.features
    if vendor not in ("postgresql", "sqlite") or not (
        features.supports_update_conflicts_with_target and features.can_return_rows_from_bulk_insert
    ):
        return None
    q = connection.ops.quote_name
    table, segments = q(SegmentMembership._meta.db_table), q(Segment._meta.db_table)
    segment_col, subject_col = q(_field("segment").column), q(_field("subject").column)
    columns = [q(_field(name).column) for name in FIELDS]
    if vendor == "postgresql":  # INSERT … SELECT: parameters need their column's type
        cast = {name: f"CAST(%s AS {_field(name).db_type(connection)})" for name in ("subject", *FIELDS)}
    else:
        cast = {name: "%s" for name in ("subject", *FIELDS)}
    return (
        f"INSERT INTO {table} ({segment_col}, {subject_col}, {', '.join(columns)}) "
        f"SELECT {q(_column(Segment._meta.pk))}, {cast['subject']}, {', '.join(cast[n] for n in FIELDS)} "
        f"FROM {segments} WHERE {q(_column(Segment._meta.get_field('key')))} = %s "
        f"ON CONFLICT ({segment_col}, {subject_col}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        + f" RETURNING {q(_column(SegmentMembership._meta.pk))}"
    )


def upsert(key: str, subject: str, fields: dict[str, Any], *, name: str, description: str) -> int:
    """Add the shopper to the live segment ``key`` (created with ``name`` and ``description``
    if new) or update their membership; returns the membership's pk."""
    sql = _upsert_sql(connection.vendor)
    if sql is None:
        return _orm_upsert(key, subject, fields, name=name, description=description)
    params = [subject, *_values(fields), key]
    for attempt in (1, 2):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        if attempt == 1:  # the segment does not exist yet
            _segment(key, name=name, description=description)
    raise Segment.DoesNotExist(key)  # deleted between its creation and the insert


def upsert_many(items: list[tuple[str, str, dict[str, Any], str, str]]) -> dict[tuple[str, str], int]:
    """:func:`upsert` for many (segment key, subject, fields, name, description) at once (the
    queue's drain): one query finds the segments (a missing one is created), one
    ``INSERT … ON CONFLICT DO UPDATE`` writes every membership. Returns their pks by
    (segment key, subject)."""
    if not items:
        return {}
    wanted = {key: (name, description) for key, _, _, name, description in items}
    segments = dict(Segment.objects.filter(key__in=list(wanted)).values_list("key", "pk"))
    for key in sorted(wanted.keys() - segments.keys()):
        segments[key] = _segment(key, name=wanted[key][0], description=wanted[key][1]).pk
    rows = [SegmentMembership(segment_id=segments[key], subject=subject, **fields) for key, subject, fields, _, _ in items]
    # MySQL's ON DUPLICATE KEY UPDATE takes no conflict target (the unique key decides)
    target = ["segment", "subject"] if connection.features.supports_update_conflicts_with_target else None
    SegmentMembership.objects.bulk_create(rows, update_conflicts=True, unique_fields=target, update_fields=list(FIELDS))
    out = {}
    for (key, subject, *_), row in zip(items, rows, strict=True):
        if row.pk is None:  # a database that does not return ids from an upsert
            row.pk = SegmentMembership.objects.get(segment_id=segments[key], subject=subject).pk
        out[(key, subject)] = int(row.pk)
    return out


def _segment(key: str, *, name: str, description: str) -> Segment:
    segment, _ = Segment.objects.get_or_create(
        key=key, defaults={"name": name, "kind": SegmentKind.LIVE, "description": description}
    )
    return segment


def _orm_upsert(key: str, subject: str, fields: dict[str, Any], *, name: str, description: str) -> int:
    segment = _segment(key, name=name, description=description)
    row = SegmentMembership(segment=segment, subject=subject, **fields)
    # MySQL's ON DUPLICATE KEY UPDATE takes no conflict target (the unique key decides)
    target = ["segment", "subject"] if connection.features.supports_update_conflicts_with_target else None
    SegmentMembership.objects.bulk_create([row], update_conflicts=True, unique_fields=target, update_fields=list(fields))
    if row.pk is None:  # a database that does not return ids from an upsert
        row.pk = SegmentMembership.objects.get(segment=segment, subject=subject).pk
    return int(row.pk)


@cache
def _update_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    sets = ", ".join(f"{q(_field(name).column)} = %s" for name in FIELDS)
    return f"UPDATE {q(SegmentMembership._meta.db_table)} SET {sets} WHERE {q(_column(SegmentMembership._meta.pk))} = %s"


def refresh(pk: int, fields: dict[str, Any]) -> bool:
    """Update one membership's score, reason and dates; False if it is gone."""
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(connection.vendor), [*_values(fields), pk])
        return bool(cursor.rowcount)


def remove(pks: list[int]) -> None:
    """Delete memberships by pk (one already gone deletes nothing)."""
    if not pks:
        return
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {q(SegmentMembership._meta.db_table)} WHERE {q(_column(SegmentMembership._meta.pk))} "
            f"IN ({', '.join(['%s'] * len(pks))})",
            pks,
        )
