"""The browser (beacon) and server-to-server (batch API) capture paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from reco_app.consent.late import CONSENT_READ_AT
from reco_app.models import Event
from reco_app.tracking.context import get_context
from reco_app.tracking.dropped import count_dropped
from reco_app.tracking.service import store, to_row, visitor_row
from reco_app.tracking.validation import EVENT_TYPES, CleanEvent, printable, validate


@dataclass
class IngestResult:
    stored: list[Event] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[int, dict[str, str]] = field(default_factory=dict)
    dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "dropped": self.dropped,
            # every message made printable, whatever a validator put in it: an answer that
            # cannot be encoded would be a 500 after the good events were stored
            "rejected": [
                {"index": i, "errors": {printable(k): printable(v) for k, v in e.items()}}
                for i, e in sorted(self.rejected.items())
            ],
        }


def _count_rejected(raw_events: list[Any], result: IngestResult) -> None:
    if not result.rejected:
        return
    types = []
    for i in result.rejected:
        raw = raw_events[i]
        event_type = raw.get("event_type") if isinstance(raw, dict) else None
        types.append(event_type if isinstance(event_type, str) and event_type in EVENT_TYPES else "unknown")
    count_dropped("invalid", types)


def ingest_browser(
    request: HttpRequest, raw_events: list[Any], allowed_types: set[str], *, sized: bool = False,
) -> IngestResult:
    """Events sent by reco.js for the visitor of ``request`` (their consent applies).
    ``sized``: the caller knows no event's context can exceed ``API_MAX_EVENT_BYTES``."""
    ctx = get_context(request)
    result = IngestResult()
    cleaned: list[CleanEvent] = []
    for i, raw in enumerate(raw_events):
        if isinstance(raw, dict) and "timestamp" in raw:  # browser clocks are not trusted
            raw = {k: v for k, v in raw.items() if k != "timestamp"}
        clean, errors = validate(raw, allowed_types=allowed_types, check_size=not sized)
        if clean is None:
            result.rejected[i] = errors
        else:
            cleaned.append(clean)
    _count_rejected(raw_events, result)
    if not cleaned:
        return result
    types = [c.event_type for c in cleaned]
    if not ctx.may_track:
        count_dropped("bot" if ctx.is_bot else ctx.consent.refusal_reason, types)
        result.dropped = len(cleaned)
        return result
    now = timezone.now()
    rows = []
    for clean in cleaned:
        clean.context = {**clean.context, "device": ctx.device}
        rows.append(visitor_row(clean, ctx, source="browser", now=now))
    stored = store(rows)
    result.stored, result.duplicates = stored.stored, stored.duplicates
    return result


def ingest_batch(raw_events: list[Any], *, sized: bool = False) -> IngestResult:
    """A server-to-server batch: each event names its shopper and consent basis.

    ``sized``: the caller has already checked each event's size (the batch API does)."""
    result = IngestResult()
    rows: list[Event] = []
    refused: dict[str, list[str]] = {}
    now = timezone.now()
    for i, raw in enumerate(raw_events):
        clean, errors = validate(raw, server=True, now=now, check_size=not sized)
        if clean is None:
            result.rejected[i] = errors
            continue
        if clean.consent in ("denied", "unknown"):
            reason = "consent_denied" if clean.consent == "denied" else "no_consent"
            refused.setdefault(reason, []).append(clean.event_type)
            result.dropped += 1
            continue
        stated = clean.timestamp  # (None: the event's time is its arrival)
        row = to_row(clean, source="api", now=now)
        # when the shop's server read the consent it states: at the event's time, if it says;
        # else unknown, so a withdrawal in the last minutes removes the event (see late.py)
        setattr(row, CONSENT_READ_AT, stated.timestamp() if stated is not None else 0.0)
        rows.append(row)
    for reason, types in refused.items():
        count_dropped(reason, types)
    _count_rejected(raw_events, result)
    stored = store(rows)
    result.stored, result.duplicates = stored.stored, stored.duplicates
    return result
