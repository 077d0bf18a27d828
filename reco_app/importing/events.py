"""``reco_import_events``: load a shop's historical events from CSV into the event store.

Columns ``user_id, product_id, event_type, timestamp, value`` (header row required, extra
columns ignored). Every event id is a UUID5 over the normalised row, so importing the
same file again stores nothing new. Rows are validated one by one; bad rows are skipped
and reported with their line number. Each batch is committed on its own, so a failure
half-way leaves every earlier batch stored and says so (:class:`ImportAborted`).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, DatabaseError

from reco_app import conf
from reco_app.adapter import SUBJECT_MAX, customer_subject
from reco_app.importing.csvfile import (
    IssueLog,
    RowError,
    RowIssue,
    micros_now,
    optional_column,
    parse_micros,
    parse_number,
    read_rows,
)
from reco_app.importing.prefetch import prefetch
from reco_app.importing.stores import SerialStore, store_for
from reco_app.importing.writers import EventRow
from reco_app.models.events import ANONYMOUS_PREFIX, Event, EventType

COLUMNS = ("user_id", "product_id", "event_type", "timestamp", "value")
#: Namespace of imported event ids (never change it: re-runs rely on it).
EVENT_NAMESPACE = uuid.UUID("6f1f0a52-3c6e-5d53-9a43-1f3c2b7e9d10")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes
RATING_RANGE = (0.0, 5.0)
# Plain strings: looking values up on the enum costs more than the rest of a row.
_TYPES = frozenset(str(v) for v in EventType.values)
_RATING = str(EventType.RATING.value)
#: Types whose value is a quantity or an amount, so never negative.
NON_NEGATIVE = frozenset(str(t.value) for t in (EventType.PURCHASE, EventType.ADD_TO_CART, EventType.REMOVE_FROM_CART))
#: Types that need no product (a search is about a query, not a product).
PRODUCTLESS = frozenset({str(EventType.SEARCH.value)})

_PRODUCT_MAX: int = getattr(Event._meta.get_field("product_key"), "max_length", None) or 64


@dataclass
class ImportProgress:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    bad: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ImportResult(ImportProgress):
    issues: list[RowIssue] = field(default_factory=list)
    method: str = ""


class ImportAborted(Exception):
    """The import stopped early; ``result`` says what was stored before it did."""

    def __init__(self, message: str, result: ImportResult) -> None:
        super().__init__(message)
        self.result = result


def parse_row(fields: list[str], columns: dict[str, int], now_us: int) -> EventRow:
    """Validate one CSV row and return the row to store (raises :class:`RowError`)."""
    subject = fields[columns["user_id"]].strip()
    product = fields[columns["product_id"]].strip()
    event_type = fields[columns["event_type"]].strip().lower()
    if event_type not in _TYPES:
        raise RowError(f"unknown event_type {event_type!r}")
    if not subject:
        raise RowError("user_id is empty")
    if not (subject.isprintable() and product.isprintable()):
        raise RowError("user_id and product_id must not contain control characters")
    if subject.startswith(ANONYMOUS_PREFIX):
        raise RowError(f"user_id must not start with {ANONYMOUS_PREFIX!r} (reserved for anonymous visitors)")
    if len(subject) > SUBJECT_MAX:  # stored shortened, as adapter.customer_key() gives it
        subject = customer_subject(subject)
    if not product and event_type not in PRODUCTLESS:
        raise RowError("product_id is empty")
    if len(product) > _PRODUCT_MAX:
        raise RowError(f"product_id is longer than {_PRODUCT_MAX} characters")
    micros = parse_micros(fields[columns["timestamp"]], now_us=now_us)
    value = parse_number(optional_column(fields, columns, "value"))
    if event_type == _RATING:
        low, high = RATING_RANGE
        if value is None:
            raise RowError("a rating needs a value")
        if not low <= value <= high:
            raise RowError(f"rating {value:g} is outside {low:g}..{high:g}")
    elif value is not None and value < 0 and event_type in NON_NEGATIVE:
        raise RowError(f"{event_type} value {value:g} is negative")
    name = f"{subject}\x1f{product}\x1f{event_type}\x1f{micros}\x1f{'' if value is None else repr(value)}"
    return EventRow(event_uuid(name), subject, product, event_type, value, micros)


def event_uuid(name: str) -> str:
    """``uuid.uuid5(EVENT_NAMESPACE, name).hex``, without building UUID objects (hot loop)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8", "surrogatepass")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


@dataclass
class _Batch:
    rows: list[EventRow]
    read: int  # rows read so far, this batch included
    last_line: int


def _parse_batches(path: str | Path, size: int, issues: IssueLog, now_us: int) -> Iterator[_Batch]:
    batch: list[EventRow] = []
    passed = row_errors = 0  # rows the reader passed on / of which we rejected
    line = 1
    for line, columns, fields in read_rows(path, COLUMNS[:4], issues):  # "value" is optional
        passed += 1
        try:
            batch.append(parse_row(fields, columns, now_us))
        except RowError as exc:
            row_errors += 1
            issues.add(line, str(exc))
            continue
        if len(batch) >= size:
            # Rows the reader itself rejected (malformed CSV, bad encoding) were read too.
            yield _Batch(batch, passed + issues.count - row_errors, line)
            batch = []
    yield _Batch(batch, passed + issues.count - row_errors, line)


def import_events(
    path: str | Path,
    *,
    batch_size: int | None = None,
    workers: int = 2,
    using: str = DEFAULT_DB_ALIAS,
    progress: Callable[[ImportProgress], None] | None = None,
    on_issue: Callable[[RowIssue], None] | None = None,
    keep_issues: int = 100,
) -> ImportResult:
    """Import an events CSV file; returns counts and the first ``keep_issues`` bad rows.

    On PostgreSQL ``workers`` connections store batches in parallel (unless called inside
    a transaction). Raises :class:`~reco_app.importing.csvfile.HeaderError` before storing
    anything when the file cannot be imported at all, and :class:`ImportAborted` when a
    database error stops it half-way (finished batches stay stored).
    """
    size = int(batch_size or conf.get("IMPORT_BATCH_SIZE"))
    issues = IssueLog(keep=keep_issues, sink=on_issue)
    result = ImportResult()
    started = time.monotonic()
    last_line = 1

    def done(batch: _Batch, stored: int) -> None:
        result.stored += stored
        result.duplicates += len(batch.rows) - stored
        result.read, result.bad = max(result.read, batch.read), issues.count
        result.seconds = time.monotonic() - started
        if progress is not None:
            progress(result)

    store = store_for(using, max(1, workers), done)
    result.method = store.method
    batches = _parse_batches(path, size, issues, micros_now())
    if isinstance(store, SerialStore):
        batches = prefetch(batches)  # parse the next batch while this thread stores one
    try:
        with store:
            for batch in batches:
                last_line = batch.last_line
                store.submit(batch)
    except (DatabaseError, KeyboardInterrupt) as exc:
        result.issues = issues.first
        cause = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"database error: {exc}"
        raise ImportAborted(
            f"import stopped after reading up to line {last_line}; {result.stored} events were "
            f"stored before it and stay stored (re-running the import is safe). Cause: {cause}",
            result,
        ) from exc
    result.bad = issues.count
    result.issues = issues.first
    result.seconds = time.monotonic() - started
    return result
