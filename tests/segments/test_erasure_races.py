"""An erasure that commits while a segment job runs (between its read and its writes) is
not undone by the job. The interleaving is reproduced by running the erasure from a hook
right after the job's read (the real read and the real erasure both run)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from reco_app.consent import privacy
from reco_app.models import ErasureMarker, SegmentMembership
from reco_app.segments import store as batch_store
from reco_app.segments.live import engine, load_state
from reco_app.segments.service import recompute_all, recompute_manual
from tests.segments.helpers import add, buyer, event, reco_settings

pytestmark = pytest.mark.django_db


def erase_after(module: Any, name: str, monkeypatch: pytest.MonkeyPatch, subject: str) -> None:
    """Make ``module.name`` (the job's read) erase ``subject`` right after it has read."""
    real = getattr(module, name)

    def read_then_erase(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        privacy.erase([subject])
        return found

    monkeypatch.setattr(module, name, read_then_erase)


def shop(now: dt.datetime) -> None:
    for i, subject in enumerate(["c00044", "c00045", "c00046", "c00047"]):
        buyer(subject, orders=2 + i, last_days_ago=3 + 10 * i, spend=100.0 * (i + 1), base=now)
        add(*(event(subject, "product_view", at=now - dt.timedelta(days=d), product=f"p{d}") for d in (1, 2, 40)))


def test_a_batch_run_that_read_an_erased_shopper_does_not_store_them(monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    shop(now)
    recompute_all(now)
    assert SegmentMembership.objects.filter(subject="c00044").count() >= 2  # lifecycle, rfm, cluster

    erase_after(batch_store, "load_history", monkeypatch, "c00044")
    report = recompute_all(now)
    assert report.shoppers == 4  # the run had read c00044's history
    assert not SegmentMembership.objects.filter(subject="c00044").exists()
    assert SegmentMembership.objects.filter(subject="c00045").exists()  # the others are stored
    assert sum(report.sizes[k] for k in report.sizes if k.startswith("lifecycle:")) == 3  # sizes leave c00044 out


def test_a_manual_segment_recompute_that_read_an_erased_shopper_does_not_store_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from reco_app.models import Segment, SegmentKind

    now = timezone.now()
    shop(now)
    segment = Segment.objects.create(
        key="manual:buyers", name="Buyers", kind=SegmentKind.MANUAL,
        definition={"match": "all", "conditions": [{"field": "total_spend", "op": "gte", "value": 1}]},
    )
    erase_after(batch_store, "load_history", monkeypatch, "c00044")
    assert recompute_manual(segment, now) == 3
    assert set(SegmentMembership.objects.filter(segment=segment).values_list("subject", flat=True)) == {"c00045", "c00046", "c00047"}


def test_a_live_evaluation_that_read_an_erased_shopper_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a drain does with a shopper it took from the queue before their erasure
    now = timezone.now()
    add(*(event("a", "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session="A") for i in range(3)))
    erase_after(engine, "load_recent", monkeypatch, "a")
    assert engine.evaluate_subject("a") == []
    assert not SegmentMembership.objects.filter(subject="a").exists()
    assert load_state("a") is None


def test_a_live_evaluation_of_a_shopper_not_erased_still_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    add(*(event(s, "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session=s) for s in "ab" for i in range(3)))
    erase_after(engine, "load_recent", monkeypatch, "a")  # someone else is erased meanwhile
    assert [hit.key for hit in engine.evaluate_subject("b")] == ["live:high_intent"]
    assert SegmentMembership.objects.filter(subject="b").exists() and load_state("b") is not None


def test_erasure_markers_are_kept_a_day_and_the_newest_keeps_its_place() -> None:
    from reco_app import erasure
    from reco_app.models import ErasureMarker

    privacy.erase(["x"])
    privacy.erase(["y"])
    newest = erasure.mark()
    assert erasure.erased_since(0) == {"x", "y"}
    assert erasure.prune_markers(timezone.now() + dt.timedelta(days=2)) == 2
    assert list(ErasureMarker.objects.values_list("id", "subject")) == [(newest, "")]  # no subject kept
    assert erasure.mark() == newest


def busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """An erasure holds the lock or waits for it (PostgreSQL's try-lock says no)."""
    from reco_app import erasure

    monkeypatch.setattr(erasure, "try_lock_shared", lambda: False)


def test_a_live_evaluation_that_finds_the_erasure_lock_busy_writes_nothing_and_drops_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    now = timezone.now()
    add(*(event("b", "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session="B") for i in range(3)))
    engine.evaluate_subject("b", now)  # a state is cached
    SegmentMembership.objects.filter(subject="b").delete()
    busy(monkeypatch)
    assert [hit.key for hit in engine.evaluate_subject("b", now)] == ["live:high_intent"]
    assert not SegmentMembership.objects.filter(subject="b").exists()
    assert load_state("b") is None  # the next event reads the stored memberships
    monkeypatch.undo()
    engine.evaluate_subject("b", now)
    assert SegmentMembership.objects.filter(subject="b").exists()


def test_a_live_evaluation_that_finds_the_erasure_lock_busy_is_queued_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from reco_app.segments.live import queue

    now = timezone.now()
    add(*(event("b", "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session="B") for i in range(3)))
    queued: list[dict[str, list[str]]] = []
    monkeypatch.setattr(queue, "enqueue", lambda todo, **kw: queued.append({s: [r.prefix for r in rules] for s, rules in todo.items()}))
    busy(monkeypatch)
    with reco_settings(SEGMENTS_LIVE_ASYNC=True):
        engine.evaluate_subject("b", now, only=engine.rules(["live:high_intent"]))
    assert queued == [{"b": ["live:high_intent"]}]
    assert not SegmentMembership.objects.filter(subject="b").exists()


def test_an_erasure_runs_on_the_database_of_reco_apps_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its transaction, lock and markers on one database: the router's for writing them."""
    from django.db import router, transaction

    from reco_app import privacy as registry

    real_atomic = transaction.atomic
    used: list[object] = []

    def atomic(using: object = None, **kwargs: Any) -> Any:
        used.append(using)
        return real_atomic(using=using, **kwargs)

    monkeypatch.setattr(registry.transaction, "atomic", atomic)
    registry.erase_subjects(["x"])
    assert used[0] == router.db_for_write(ErasureMarker) == "default"
