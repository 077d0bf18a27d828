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

