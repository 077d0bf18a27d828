"""Reading CSV import files: line numbers, tolerant decoding, timestamps.

Shared by ``reco_import_events`` and the example shop's catalog import.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Accept at most this far in the future (clock skew between systems).
FUTURE_TOLERANCE = dt.timedelta(days=1)
# Unix seconds above this are almost certainly milliseconds (year 5138).
MAX_UNIX_SECONDS = 100_000_000_000


class RowError(ValueError):
    """A bad row: the message is the reason shown to the user."""


class HeaderError(ValueError):
    """The file cannot be imported at all (missing columns, empty file)."""


@dataclass
class RowIssue:
    line: int
    reason: str


@dataclass
class IssueLog:
    """Counts bad rows, keeps the first ``keep`` of them, forwards all to ``sink``."""

    keep: int = 100
    sink: Callable[[RowIssue], None] | None = None
    count: int = 0
    first: list[RowIssue] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        issue = RowIssue(line, reason)
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(issue)
        if self.sink is not None:
            self.sink(issue)


def _decoded_lines(raw: IO[bytes], undecodable: list[int]) -> Iterator[str]:
    # Decoding line by line keeps one badly encoded row from aborting the import:
    # undecodable bytes become lone surrogates, which the row check then rejects.
    first = True
    for number, line in enumerate(raw, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("utf-8", "surrogateescape")
            undecodable.append(number)
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        yield text


def has_bad_encoding(values: Sequence[str]) -> bool:
    return any(not v.isascii() and any("\udc80" <= c <= "\udcff" for c in v) for v in values)


def read_rows(
    path: str | Path, required: Sequence[str], issues: IssueLog
) -> Iterator[tuple[int, dict[str, int], list[str]]]:
    """Yield ``(line number, column index by name, fields)`` for each data row.

    Raises :class:`HeaderError` when the header lacks a required column. Rows the CSV
    parser or the decoder rejects are logged in ``issues`` and skipped.
    """
    undecodable: list[int] = []
    with open(path, "rb") as raw:
        reader = csv.reader(_decoded_lines(raw, undecodable))
        try:
            header = next(reader)
        except StopIteration:
            raise HeaderError("the file is empty (expected a header row)") from None
        except csv.Error as exc:
            raise HeaderError(f"line 1: cannot read the header row: {exc}") from None
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [c for c in required if c not in columns]
        if missing:
            raise HeaderError(
                f"line 1: missing column(s) {', '.join(missing)}; "
                f"expected a header row with {', '.join(required)}"
            )
        width = max(columns[c] for c in required) + 1
        while True:
            line = reader.line_num + 1  # where the row starts (a quoted field may span lines)
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                issues.add(line, f"malformed CSV: {exc}")
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if len(fields) < width:
                issues.add(line, f"expected at least {width} columns, found {len(fields)}")
                continue
            if undecodable and undecodable[-1] >= line and has_bad_encoding(fields):
                issues.add(line, "not valid UTF-8")
                continue
            yield line, columns, fields


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_TOLERANCE_US = FUTURE_TOLERANCE // _MICROSECOND


def parse_micros(text: str, *, now_us: int | None = None) -> int:
    """Microseconds since the Unix epoch (UTC) from ISO 8601 (naive = UTC) or Unix seconds.

    More than a day after ``now_us`` (if given) is an error: usually a unit mix-up. No
    datetime objects for Unix seconds: this runs once per imported row.
    """
    text = text.strip()
    if not text:
        raise RowError("timestamp is empty")
    if text[0].isdigit() and text.replace(".", "", 1).isdigit():
        seconds = float(text)
        if seconds >= MAX_UNIX_SECONDS:
            raise RowError(f"timestamp {text!r} is too large for Unix seconds (milliseconds?)")
        micros = round(seconds * 1_000_000)
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise RowError(f"timestamp {text!r} is neither ISO 8601 nor Unix seconds") from None
        micros = (when - (_NAIVE_EPOCH if when.tzinfo is None else _EPOCH)) // _MICROSECOND
    if now_us is not None and micros > now_us + _TOLERANCE_US:
        raise RowError(f"timestamp {text!r} is in the future")
    return micros


def micros_now() -> int:
    return (dt.datetime.now(dt.UTC) - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def parse_timestamp(text: str, *, allow_future: bool = False) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 (naive = UTC) or Unix seconds."""
    try:
        return from_micros(parse_micros(text, now_us=None if allow_future else micros_now()))
    except OverflowError:
        raise RowError(f"timestamp {text.strip()!r} is out of range") from None


def parse_number(text: str, what: str = "value") -> float | None:
    """A finite float, or None for an empty cell."""
    text = text.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise RowError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(number):
        raise RowError(f"{what} {text!r} is not a finite number")
    return number


def text_field(fields: list[str], columns: dict[str, int], name: str, *, max_length: int, required: bool = True) -> str:
    value = fields[columns[name]].strip()
    if required and not value:
        raise RowError(f"{name} is empty")
    if len(value) > max_length:
        raise RowError(f"{name} is longer than {max_length} characters")
    if not value.isprintable():
        raise RowError(f"{name} contains control characters")
    return value


def optional_column(fields: list[str], columns: dict[str, int], name: str) -> str:
    i = columns.get(name)
    return fields[i] if i is not None and i < len(fields) else ""


def write_issues(path: str | Path) -> tuple[Callable[[RowIssue], None], Callable[[], None]]:
    """A sink writing every issue to a CSV file (``line,reason``) and its closer."""
    handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    writer = csv.writer(handle)
    writer.writerow(["line", "reason"])

    def sink(issue: RowIssue) -> None:
        writer.writerow([issue.line, issue.reason])

    return sink, handle.close
