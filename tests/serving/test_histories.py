"""The view writer's copy of shoppers' histories (reco_app.serving.histories)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reco_app.models import Event
from reco_app.serving.histories import histories, usable_rows
from reco_app.serving.profile import history_rows


@pytest.mark.django_db
def test_one_query_gives_each_shopper_the_rows_of_their_own_query() -> None:
    now = timezone.now()
    since = now - dt.timedelta(days=30)

    def event(subject: str, minutes: int, **fields: object) -> Event:
        base = {"event_type": "product_view", "product_key": f"SKU-{minutes}", "consent": "granted", "source": "browser"}
        return Event(subject=subject, timestamp=now - dt.timedelta(minutes=minutes), **{**base, **fields})

    Event.objects.bulk_create([
        *(event("anon:many", m) for m in range(1, 9)),  # more than the limit: the newest 5
        event("anon:few", 3, event_type="rating", value=4.0), event("anon:few", 7, event_type="purchase"),
        event("anon:few", 5, consent=""),  # not consented: never read
        event("anon:few", 60 * 24 * 40),  # before the window
        event("someone-else", 2),
    ])
    subjects = ["anon:many", "anon:few", "anon:nobody"]
    found = histories(subjects, since, 5)
    assert found == {s: history_rows(s, since, 5) for s in subjects}
    assert [r[0] for r in found["anon:many"]] == ["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"]
    assert [r[:2] for r in found["anon:few"]] == [("SKU-3", "rating"), ("SKU-7", "purchase")] and found["anon:nobody"] == []


def test_a_kept_history_stands_for_the_query_only_under_its_tag_limit_and_window() -> None:
    now = timezone.now()
    since = now - dt.timedelta(days=730)
    rows = [("SKU-1", "product_view", now.timestamp() - 60, None), ("SKU-2", "product_view", since.timestamp() - 1, None)]
    entry = (since.timestamp() - 5, 500, rows)
    assert usable_rows(entry, 7, 7, since, 500) == rows[:1]  # the row now out of the window left out
    assert usable_rows(entry, 7, 8, since, 500) is None  # their namespace moved on
    assert usable_rows(entry, None, 7, since, 500) is None  # (the version it stood at expired or was refused)
    assert usable_rows(entry, 7, None, since, 500) is None  # (the namespace could not be read)
    assert usable_rows(entry, 7, 7, since, 50) is None  # another HISTORY_LIMIT
    assert usable_rows(entry, 7, 7, since - dt.timedelta(seconds=10), 500) is None  # a window starting before the copy's
    assert usable_rows(None, 7, 7, since, 500) is None and usable_rows(("junk",), 7, 7, since, 500) is None


@pytest.mark.django_db
def test_the_batch_query_is_compiled_once_per_padded_length() -> None:
    from reco_app.serving import histories as module

    module._HISTORIES._compiled.clear()
    since = timezone.now() - dt.timedelta(days=1)
    for n in (3, 4, 2):
        histories([f"anon:{i}" for i in range(n)], since, 5)
    compiled = list(module._HISTORIES._compiled.values())
    assert len(compiled) == 2 and None not in compiled  # lengths 4 and 2, each prepared (not the ORM each time)
