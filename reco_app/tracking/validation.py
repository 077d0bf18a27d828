"""Event validation shared by every capture path (track(), beacon, batch API).

Pure functions over plain JSON values; errors are ``{field: message}`` dicts so the API can
answer 400 with per-event field errors. Everything that PostgreSQL would refuse later
(NUL characters, lone surrogates, NaN, absurd nesting) is refused here instead, so a
validated event can always be written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reco_app import conf
from reco_app.adapter import customer_subject
from reco_app.models.events import ConsentBasis, EventType

PRODUCT_TYPES = frozenset(
    {
        EventType.PRODUCT_VIEW,
        EventType.ADD_TO_CART,
        EventType.REMOVE_FROM_CART,
        EventType.WISHLIST_ADD,
        EventType.PURCHASE,
        EventType.RATING,
        EventType.REC_IMPRESSION,
        EventType.REC_CLICK,
    }
)
EVENT_TYPES = frozenset(EventType.values)
#: event types whose ``value`` is a quantity
QUANTITY_TYPES = frozenset({EventType.PURCHASE, EventType.ADD_TO_CART, EventType.REMOVE_FROM_CART})
MAX_KEY = 64
MAX_CONTEXT_DEPTH = 4
MAX_CONTEXT_ITEMS = 64
MAX_STRING = 2000
MAX_VALUE = 1e12
FUTURE_SKEW = dt.timedelta(minutes=5)
#: consent values a batch may carry; the last two mean "do not store".
API_CONSENT = ("granted", "opt_out", "imported", "denied", "unknown")

Errors = dict[str, str]


@dataclass
class CleanEvent:
    event_type: str
    product_key: str = ""
    value: float | None = None
    timestamp: dt.datetime | None = None
    event_id: uuid.UUID | None = None
    session_id: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    subject: str = ""
    visitor_id: str = ""
    consent: str = ConsentBasis.GRANTED


def _text(value: Any, name: str, limit: int, errors: Errors, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            errors[name] = "This field is required."
        return ""
    if type(value) is not str:
        errors[name] = "Must be a string."
        return ""
    if len(value) > limit:
        errors[name] = f"At most {limit} characters."
        return ""
    if not safe_string(value) or value.strip() != value:
        errors[name] = "Contains characters that are not allowed."
        return ""
    return value


def safe_string(value: str) -> bool:
    if "\x00" in value:
        return False
    if value.isascii():  # the common case, and no surrogate can hide in it
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800"
        return False
    return True


_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: what the size limits count ("é" is two
    bytes, not the six of its ASCII escape). One C encoding pass and, for ASCII text (the
    common case), no second one."""
    text = _compact_json(value)
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def printable(text: str) -> str:
    """``text`` as it can go into a response body: characters UTF-8 cannot encode (lone
    surrogates, from JSON such as ``"\\udc80"``) written as backslash escapes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean_json(value: Any, depth: int = 0) -> bool:
    """JSON storable in PostgreSQL jsonb: finite numbers, clean strings, bounded nesting."""
    if depth > MAX_CONTEXT_DEPTH:
        return False
    if isinstance(value, str):  # the common case first
        return len(value) <= MAX_STRING and safe_string(value)
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return len(value) <= MAX_CONTEXT_ITEMS and all(_clean_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= MAX_CONTEXT_ITEMS and all(
            isinstance(k, str) and len(k) <= MAX_KEY and safe_string(k) and _clean_json(v, depth + 1)
            for k, v in value.items()
        )
    return False


def clean_context(value: Any, errors: Errors, *, check_size: bool = True, event_type: str = "") -> dict[str, Any]:
    """A valid context, or {} with ``errors["context"]`` set. ``check_size=False`` when the
    caller has already bounded the size of the whole event (the batch API). A purchase's
    ``unit_price`` (what it is worth, :mod:`reco_app.models.purchases`) must be a
    non-negative number or null."""
    if value is None or (type(value) is dict and not value):  # (most events: nothing to check)
        return {}
    if not isinstance(value, dict):
        errors["context"] = "Must be an object."
        return {}
    if not _clean_json(value):
        errors["context"] = (
            f"Must be plain JSON: at most {MAX_CONTEXT_ITEMS} items per level, "
            f"{MAX_CONTEXT_DEPTH} levels, strings up to {MAX_STRING} characters, finite numbers."
        )
        return {}
    limit = conf.get("API_MAX_EVENT_BYTES")
    if check_size and json_size(value) > limit:
        errors["context"] = f"At most {limit} bytes."
        return {}
    if event_type == EventType.PURCHASE and value.get("unit_price") is not None:
        price = value["unit_price"]
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price <= MAX_VALUE:
            errors["context"] = "unit_price must be a non-negative number (or null)."
            return {}
    return value


def _value(raw: Any, event_type: str, errors: Errors) -> float | None:
    if raw is None:
        if event_type in (EventType.RATING, EventType.DWELL):
            errors["value"] = "This field is required for this event type."
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        errors["value"] = "Must be a number."
        return None
    try:
        number = float(raw)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_VALUE:
        errors["value"] = "Must be a finite number of reasonable size."
        return None
    if event_type == EventType.RATING and not 0 <= number <= 5:
        errors["value"] = "A rating is between 0 and 5."
    elif event_type in QUANTITY_TYPES and number < 0:
        errors["value"] = "A quantity cannot be negative."
    elif event_type == EventType.DWELL and not 0 <= number <= 86_400:
        errors["value"] = "Dwell time is between 0 and 86400 seconds."
    return number


def _timestamp(raw: Any, errors: Errors, now: dt.datetime | None = None) -> dt.datetime | None:
    if raw is None:
        return None
    if type(raw) is not str or len(raw) > 40:
        errors["timestamp"] = "Must be an ISO 8601 date-time string."
        return None
    when: dt.datetime | None
    try:
        # the C parser first ("2026-11-01T10:00:00Z"); Django's for the other ISO 8601 forms
        when = dt.datetime.fromisoformat(raw) if len(raw) > 10 else None
    except ValueError:
        when = None
    if when is None:
        try:
            when = parse_datetime(raw)
        except ValueError:
            when = None
    if when is None:
        errors["timestamp"] = "Must be an ISO 8601 date-time string."
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or timezone.now()
    if when > now + FUTURE_SKEW:
        errors["timestamp"] = "Must not be in the future."
    elif when < now - dt.timedelta(days=conf.get("RETENTION_DAYS")):
        errors["timestamp"] = "Older than the retention period."
    return when


def _event_id(raw: Any, errors: Errors) -> uuid.UUID | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        errors["event_id"] = "Must be a UUID string."
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors["event_id"] = "Must be a UUID string."
        return None


_KNOWN = frozenset({"event_type", "product", "value", "timestamp", "event_id", "session_id", "context"})
_KNOWN_SERVER = _KNOWN | {"customer", "visitor_id", "consent"}


def validate(
    raw: Any,
    *,
    allowed_types: frozenset[str] | set[str] = EVENT_TYPES,
    server: bool = False,
    now: dt.datetime | None = None,
    check_size: bool = True,
) -> tuple[CleanEvent | None, Errors]:
    """Validate one raw event. ``server=True`` adds the batch API's who/consent fields.

    ``now``: the time of receipt (one call per batch instead of one per event);
    ``check_size=False``: the caller has already bounded the whole event's size."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": "An event must be a JSON object."}
    errors: Errors = {}
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in allowed_types:
        errors["event_type"] = f"Must be one of: {', '.join(sorted(allowed_types))}."
        event_type = ""
    product = _text(raw.get("product"), "product", MAX_KEY, errors, required=event_type in PRODUCT_TYPES)
    event = CleanEvent(
        event_type=event_type,
        product_key=product,
        value=_value(raw.get("value"), event_type, errors),
        timestamp=_timestamp(raw.get("timestamp"), errors, now),
        event_id=_event_id(raw.get("event_id"), errors),
        session_id=_text(raw.get("session_id"), "session_id", MAX_KEY, errors),
        context=clean_context(raw.get("context"), errors, check_size=check_size, event_type=event_type),
    )
    known = _KNOWN_SERVER if server else _KNOWN
    if server:
        # a customer key of any length (the event's size is bounded): one longer than the
        # subject column is stored shortened, as adapter.customer_key() and the imports do
        customer = _text(raw.get("customer"), "customer", sys.maxsize, errors)
        visitor = _text(raw.get("visitor_id"), "visitor_id", MAX_KEY, errors)
        if customer.startswith("anon:"):
            errors["customer"] = "A customer key cannot start with 'anon:'."
        if not customer and not visitor and "customer" not in errors and "visitor_id" not in errors:
            errors["customer"] = "Give a customer key or a visitor_id."
        consent = raw.get("consent")
        if consent not in API_CONSENT:
            errors["consent"] = f"Must be one of: {', '.join(API_CONSENT)}."
        event.subject = customer_subject(customer) if customer else (f"anon:{visitor}" if visitor else "")
        event.visitor_id = visitor
        event.consent = consent if isinstance(consent, str) else ""
    if unknown := set(raw) - known:
        # names are echoed escaped: a raw lone surrogate would make the answer unencodable
        names = sorted(printable(str(k)[:40]) for k in unknown)[:10]
        errors["non_field_errors"] = f"Unknown fields: {', '.join(names)}."
    return (None, errors) if errors else (event, {})
