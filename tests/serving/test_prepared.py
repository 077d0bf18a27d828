"""Prepared queries return exactly what the ORM returns, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reco_app.models import Event
from reco_app.serving.profile import _history, history_rows


def _seed(now: dt.datetime) -> None:
    Event.objects.create(subject="C1", product_key="A", event_type="product_view", consent="imported", timestamp=now - dt.timedelta(hours=1))
    Event.objects.create(subject="C1", product_key="B", event_type="rating", value=4.0, consent="granted", timestamp=now - dt.timedelta(hours=2))
    Event.objects.create(subject="C1", product_key="C", event_type="purchase", consent="granted", timestamp=now - dt.timedelta(days=40))
    Event.objects.create(subject="C1", product_key="D", event_type="product_view", consent="anonymised", timestamp=now - dt.timedelta(hours=3))
    Event.objects.create(subject="C2", product_key="E", event_type="product_view", consent="granted", timestamp=now - dt.timedelta(hours=1))


def _check_matches_orm() -> None:
    now = timezone.now()
    _seed(now)
    for subject, days, limit in (("C1", 30, 500), ("C1", 365, 500), ("C1", 365, 1), ("C2", 30, 10), ("nobody", 30, 500)):
        since = now - dt.timedelta(days=days)
        assert history_rows(subject, since, limit) == list(_history(subject, since, limit))
    rows = history_rows("C1", now - dt.timedelta(days=365), 500)
    assert [r[0] for r in rows] == ["A", "B", "C"]  # newest first, consented only
    # times come back as seconds since 1970, computed by the database (no datetime per row)
    assert isinstance(rows[0][2], float)
    assert abs(rows[0][2] - (now - dt.timedelta(hours=1)).timestamp()) < 0.001
    assert abs(rows[2][2] - (now - dt.timedelta(days=40)).timestamp()) < 0.001


@pytest.mark.django_db
def test_history_rows_match_the_orm_queryset() -> None:
    _check_matches_orm()


def test_history_rows_match_the_orm_queryset_on_postgresql(postgres_db) -> None:  # type: ignore[no-untyped-def]
    _check_matches_orm()


@pytest.mark.django_db
def test_history_is_one_query_with_the_shoppers_values() -> None:
    now = timezone.now()
    _seed(now)
    history_rows("C1", now - dt.timedelta(days=30), 500)  # compiled here
    with CaptureQueriesContext(connection) as queries:
        assert [r[0] for r in history_rows("C2", now - dt.timedelta(days=30), 500)] == ["E"]
    assert len(queries) == 1



def _check_lists_match_orm() -> None:
    from reco_app.prepared import padded
    from reco_app.segments.live.recent import _RECENT_MANY, _recent_many

    now = timezone.now()
    _seed(now)
    since = now - dt.timedelta(days=1)
    for subjects in (["C1"], ["C2", "C1"], ["nobody", "C2", "C1"], ["C1", "C2", "nobody", "x", "y"]):
        expected = sorted(_recent_many(subjects, since, now, 200))
        assert sorted(_RECENT_MANY.rows(subjects=padded(subjects), since=since, until=now, shape={"limit": 200})) == expected
        assert sorted(_RECENT_MANY.rows(subjects=subjects, since=since, until=now, shape={"limit": 200})) == expected
    assert {r[0] for r in _RECENT_MANY.rows(subjects=padded(["C1", "C2", "z"]), since=since, until=now, shape={"limit": 1})} == {"C1", "C2"}


@pytest.mark.django_db
def test_a_list_of_values_gives_what_the_orm_gives() -> None:
    _check_lists_match_orm()


def test_a_list_of_values_gives_what_the_orm_gives_on_postgresql(postgres_db) -> None:  # type: ignore[no-untyped-def]
    _check_lists_match_orm()


def test_lists_are_padded_to_a_few_lengths() -> None:
    from reco_app.prepared import padded

    assert padded([]) == []
    assert padded(["a"]) == ["a"]
    assert padded(["a", "b", "c"]) == ["a", "b", "c", "c"]
    assert [len(padded(list(range(n)))) for n in (2, 4, 5, 8, 9, 200)] == [2, 4, 8, 8, 16, 256]


@pytest.mark.django_db
def test_one_compiled_text_serves_every_list_of_a_padded_length() -> None:
    from reco_app.prepared import padded
    from reco_app.segments.live.recent import _RECENT_MANY

    now = timezone.now()
    _seed(now)
    since = now - dt.timedelta(days=1)
    _RECENT_MANY.rows(subjects=padded(["a", "b", "c"]), since=since, until=now, shape={"limit": 200})
    compiled = dict(_RECENT_MANY._compiled)
    rows = _RECENT_MANY.rows(subjects=padded(["C2", "C1", "q", "r"]), since=since, until=now, shape={"limit": 200})
    assert _RECENT_MANY._compiled == compiled  # the same SQL, other values
    assert sorted(r[0] for r in rows) == ["C1", "C1", "C2"]
