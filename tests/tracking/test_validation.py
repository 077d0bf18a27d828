"""The shared event validation: what is accepted, normalised and refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reco_app.tracking.validation import validate


def _at(value: object) -> tuple[dt.datetime | None, dict[str, str]]:
    clean, errors = validate({"event_type": "search", "timestamp": value})
    return (clean.timestamp if clean else None), errors


def test_timestamps_in_the_iso_forms_shops_send() -> None:
    now = timezone.now().replace(microsecond=0)
    utc = now.astimezone(dt.UTC)
    assert _at(utc.strftime("%Y-%m-%dT%H:%M:%SZ"))[0] == utc
    assert _at(utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"))[0] == utc
    assert _at((utc + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"))[0] == utc
    assert _at(utc.strftime("%Y-%m-%d %H:%M:%S"))[0] == utc  # naive: read as UTC
    assert _at(utc.strftime("%Y-%m-%dT%H:%M:%S.123456Z"))[0] == utc.replace(microsecond=123456)
    assert _at(utc.strftime("%Y-%m-%d"))[0] == utc.replace(hour=0, minute=0, second=0)  # a date: midnight UTC


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T10:00:00Z", "", 1730000000, "9" * 41, ["2026-11-01"]])
def test_bad_timestamps_are_field_errors(value: object) -> None:
    assert _at(value) == (None, {"timestamp": "Must be an ISO 8601 date-time string."})


def test_future_and_expired_timestamps_are_refused() -> None:
    now = timezone.now()
    assert "future" in _at((now + dt.timedelta(hours=1)).isoformat())[1]["timestamp"]
    assert "retention" in _at((now - dt.timedelta(days=400)).isoformat())[1]["timestamp"]


@pytest.mark.parametrize("text", ["a\x00b", "\ud800x", " padded", "ok\t "])
def test_strings_that_cannot_be_stored_are_refused(text: str) -> None:
    _clean, errors = validate({"event_type": "product_view", "product": text})
    assert errors == {"product": "Contains characters that are not allowed."}


def test_non_ascii_text_is_kept() -> None:
    clean, errors = validate({"event_type": "product_view", "product": "Schuh-Grüße-靴", "context": {"q": "été"}})
    assert errors == {} and clean is not None
    assert (clean.product_key, clean.context) == ("Schuh-Grüße-靴", {"q": "été"})
