"""SEGMENTS_LIVE_ASYNC: live rules queued in Redis and drained by one Celery task."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from celery.signals import before_task_publish
from django.utils import timezone

from reco_app.models import Event
from reco_app.segments.live import queue
from reco_app.segments.service import segments_for
from reco_app.signals import event_stored
from tests.segments.helpers import add, catalog, event, reco_settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "reco-live-queue"}}


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def arrive(*events: Event) -> list[Event]:
    stored = add(*events)
    event_stored.send(sender=None, events=stored)
    return stored


@contextmanager
def _watching(eager: bool, signal: Any, record: Any) -> Iterator[None]:
    """Tasks run eagerly or published, as ``eager`` says, with ``record`` on ``signal``."""
    was = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = eager
    signal.connect(record, weak=False)
    try:
        yield
    finally:
        current_app.conf.task_always_eager = was
        signal.disconnect(record)


@contextmanager
def tasks_run() -> Iterator[list[str]]:
    """Tasks run in-process as a worker would run them (eagerly): their names, in order."""
    from celery.signals import task_prerun

    ran: list[str] = []
    with _watching(True, task_prerun, lambda sender=None, **kwargs: ran.append(getattr(sender, "name", ""))):
        yield ran


@pytest.fixture
def published() -> Iterator[list[tuple[str, Any]]]:
    """Tasks really published to the broker (not run eagerly): (name, countdown ETA)."""
    sent: list[tuple[str, Any]] = []

    def record(sender: str = "", headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        sent.append((sender, (headers or {}).get("eta")))

    with _watching(False, before_task_publish, record):
        yield sent


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True, SEGMENTS_LIVE_DELAY=5)
def test_a_burst_of_events_schedules_one_drain_that_evaluates_each_shopper_once(redis_cache, published, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0))
    evaluated: list[str] = []
    from reco_app.segments.live import drain

    real = drain._plan  # what evaluates each shopper of the drain's batch
    monkeypatch.setattr(drain, "_plan", lambda subject, *a, **kw: evaluated.append(subject) or real(subject, *a, **kw))
    for i in range(3):  # three add-to-carts of one shopper, in three requests
        arrive(event("a", "add_to_cart", at=ago(3 - i), product=f"p{i}", session="A"))
    arrive(event("b", "product_view", at=ago(2), product="shoe1", session="B"))
    arrive(event("b", "product_view", at=ago(1), product="shoe2", session="B"))
    arrive(event("c", "rec_impression", at=ago(1), product="shoe2", session="C"))  # no rule looks at impressions

    assert [name for name, _ in published] == ["reco_app.segments.drain_live"]  # one task for the whole burst
    eta = dt.datetime.fromisoformat(published[0][1])
    assert 3 < (eta - timezone.now()).total_seconds() <= 5  # SEGMENTS_LIVE_DELAY from the first event
    assert evaluated == [] and segments_for("a") == [] and segments_for("b") == []  # queued, not run

    assert queue.drain() == 2  # what the worker runs
    assert sorted(evaluated) == ["a", "b"]  # each once, however many events
    assert segments_for("a") == ["live:high_intent"]
    assert segments_for("b") == ["live:browsing:shoes"]
    assert queue.drain() == 0  # the queue is empty

    arrive(event("a", "purchase", at=ago(0.5), session="A"))  # after a drain: the next one is scheduled
    assert [name for name, _ in published] == ["reco_app.segments.drain_live"] * 2
    queue.drain()
    assert segments_for("a") == []


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_only_the_rules_an_event_can_change_are_queued(redis_cache, published) -> None:  # type: ignore[no-untyped-def]
    catalog(shoe1=("Shoes", 80.0))
    arrive(event("a", "add_to_cart", at=ago(2), product="p1", session="A"))
    arrive(event("a", "product_view", at=ago(1), product="shoe1", session="A"))
    taken = queue.take()
    assert taken == {"a": {"live:high_intent", "live:cart_abandoned", "live:browsing:"}}
    assert queue.take() == {}


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_without_redis_each_batch_is_its_own_task(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CACHES = LOCMEM
    with tasks_run() as ran:
        arrive(*(event("s", "add_to_cart", at=ago(5 - i), product=f"p{i}", session="A") for i in range(2)))
        arrive(event("s", "add_to_cart", at=ago(1), product="p9", session="A"))
    assert ran == ["reco_app.segments.evaluate_live"] * 2  # one per stored batch
    assert segments_for("s") == ["live:high_intent"]


@pytest.mark.services
@pytest.mark.celery
@reco_settings(SEGMENTS_LIVE_ASYNC=True, SEGMENTS_LIVE_DELAY=1)
def test_a_real_worker_drains_the_queue(celery_worker_process, redis_cache) -> None:  # type: ignore[no-untyped-def]
    _app, log = celery_worker_process
    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0))
    shoppers = [f"w{i}" for i in range(5)]
    for subject in shoppers:
        arrive(event(subject, "product_view", at=ago(2), product="shoe1", session="S"))
        arrive(event(subject, "product_view", at=ago(1), product="shoe2", session="S"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(segments_for(s) == ["live:browsing:shoes"] for s in shoppers):
            break
        time.sleep(0.3)
    text = Path(log).read_text()
    assert all(segments_for(s) == ["live:browsing:shoes"] for s in shoppers), text[-3000:]
    drains = re.findall(r"Task reco_app\.segments\.drain_live\[[^\]]+\] received", text)
    # ten events, one drain (a second only if the first had started before the last event)
    assert 1 <= len(drains) <= 2, text[-3000:]
    assert not re.search(r"Task reco_app\.segments\.evaluate_live\[", text)  # no task per event
    done = re.findall(r"Task reco_app\.segments\.drain_live\[[^\]]+\] succeeded in [0-9.]+s: (\d+)", text)
    assert sum(map(int, done)) == len(shoppers), text[-3000:]  # each shopper evaluated once


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_erasure_takes_a_shopper_out_of_the_queue_and_leaves_no_live_state(redis_cache, published) -> None:  # type: ignore[no-untyped-def]
    from reco_app.segments.live.state import _state_key
    from reco_app.segments.service import erase_memberships

    arrive(event("a", "add_to_cart", at=ago(2), product="p1", session="A"))
    arrive(event("b", "add_to_cart", at=ago(2), product="p1", session="B"))
    Event.objects.filter(subject="a").delete()  # what erasure does to the events
    erase_memberships(["a"])
    assert set(queue.take()) == {"b"}  # "a" is no longer queued

    # an evaluation that was already running when "a" was erased keeps nothing about them
    from reco_app.segments.live import evaluate_subject

    redis_cache.set(_state_key("a"), ("A", {}, "A"), 60)
    evaluate_subject("a")
    assert redis_cache.get(_state_key("a")) is None
    evaluate_subject("b")  # a shopper with events keeps a state, as before
    assert redis_cache.get(_state_key("b"))[0] == "B"  # (their pending cart's session)


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_the_live_command_evaluates_what_is_queued(redis_cache, published) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from django.core.management import call_command

    for i in range(3):
        arrive(event("a", "add_to_cart", at=ago(3 - i), product=f"p{i}", session="A"))
    out = StringIO()
    call_command("reco_segments", "--live", stdout=out)  # e.g. where no worker runs the drain
    assert "queued shoppers evaluated: 1" in out.getvalue()
    assert segments_for("a") == ["live:high_intent"]


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_a_stored_view_bumps_and_queues_in_one_round_trip(redis_cache, published, monkeypatch, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    import redis.client

    from reco_app import cache as reco_cache
    from reco_app.tracking.service import store, to_row
    from reco_app.tracking.validation import validate

    catalog(shoe1=("Shoes", 80.0))
    before = reco_cache.ensure_subject_versions(["subject:a"])["subject:a"]
    trips: list[str] = []
    real_command, real_pipeline = redis.client.Redis.execute_command, redis.client.Pipeline.execute
    monkeypatch.setattr(redis.client.Redis, "execute_command",
                        lambda self, *a, **kw: trips.append(str(a[0])) or real_command(self, *a, **kw))
    monkeypatch.setattr(redis.client.Pipeline, "execute", lambda self, *a, **kw: trips.append("pipeline") or real_pipeline(self, *a, **kw))
    clean, _ = validate({"event_type": "product_view", "product": "shoe1"})
    assert clean is not None
    clean.subject, clean.session_id, clean.consent = "a", "A", "granted"
    with django_capture_on_commit_callbacks(execute=True):
        assert len(store([to_row(clean, source="server")]).stored) == 1
    # the bump, the queue and the drain flag: one round trip to the cache, no state read
    # (LPUSH: Celery publishing the drain task to its Redis broker, once per drain)
    assert [trip for trip in trips if trip != "LPUSH"] == ["pipeline"]
    monkeypatch.setattr(redis.client.Redis, "execute_command", real_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", real_pipeline)
    assert reco_cache.ensure_subject_versions(["subject:a"])["subject:a"] == before + 1  # bumped
    assert queue.take() == {"a": {"live:cart_abandoned", "live:browsing:"}}
    assert [name for name, _ in published] == ["reco_app.segments.drain_live"]


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_with_redis_down_the_round_trip_falls_back_to_a_task_per_batch(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django.test import override_settings

    dead = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    with override_settings(CACHES=dead), tasks_run() as ran:
        for i in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                arrive_stored(event("s", "add_to_cart", at=ago(3 - i), product=f"p{i}", session="A"))
    assert ran == ["reco_app.segments.evaluate_live"] * 3  # nothing lost: each batch its own task
    assert segments_for("s") == ["live:high_intent"]


def arrive_stored(*events: Event) -> None:
    """Through the tracking service's store (its commit hook: bump and queue in one round trip)."""
    from reco_app.tracking.service import store

    assert len(store(list(events)).stored) == len(events)


@pytest.mark.django_db
@pytest.mark.parametrize(("setting", "broker", "eager", "redis", "queued"), [
    (None, "redis://127.0.0.1:6379/15", False, True, True),  # a worker's broker and Redis: queued
    (None, "redis://127.0.0.1:6379/15", True, True, False),  # eager tasks (no worker): in the request
    (None, None, False, True, False),  # no Celery configured: nothing would run a drain
    (None, "redis://127.0.0.1:6379/15", False, False, False),  # no Redis: a task per batch costs more
    (True, None, True, False, True),  # set explicitly: as set
    (False, "redis://127.0.0.1:6379/15", False, True, False),
])
def test_unset_the_rules_are_queued_where_a_worker_and_redis_exist(setting, broker, eager, redis, queued, settings, request, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # (Celery reads it before its own setting)
    if redis:
        request.getfixturevalue("redis_cache")
    else:
        settings.CACHES = LOCMEM
    was = current_app.conf.task_always_eager, current_app.conf.broker_url
    current_app.conf.task_always_eager, current_app.conf.broker_url = eager, broker
    try:
        with reco_settings(SEGMENTS_LIVE_ASYNC=setting):
            assert queue.enabled() is queued
    finally:
        current_app.conf.task_always_eager, current_app.conf.broker_url = was


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=False)
def test_event_stored_receivers_see_the_namespace_already_bumped(redis_cache, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from reco_app import cache as reco_cache
    from reco_app.tracking.service import store

    seen: list[int] = []

    def receiver(sender: object = None, **kwargs: object) -> None:
        seen.append(reco_cache.ns_version("subject:a"))

    before = reco_cache.ns_version("subject:a")
    event_stored.connect(receiver, weak=False, dispatch_uid="test-ns-seen")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            store([event("a", "product_view", at=ago(1), product="shoe1", session="A")])
    finally:
        event_stored.disconnect(dispatch_uid="test-ns-seen")
    assert seen == [before + 1] == [reco_cache.ns_version("subject:a")]


@pytest.mark.services
def test_a_failing_follow_up_of_a_deferred_write_is_logged_not_raised(redis_cache, caplog) -> None:  # type: ignore[no-untyped-def]
    from reco_app import cache as reco_cache

    results: list[object] = []

    def broker_down(result: object) -> None:
        raise ConnectionError("broker down")  # e.g. publishing the drain task

    with reco_cache.one_round_trip():  # what the tracking service runs after an event's commit
        assert reco_cache.defer(lambda pipe: pipe.set("reco:test:a", 1), 1, broker_down)
        assert reco_cache.defer(lambda pipe: pipe.get("reco:test:a"), 1, results.append)
    assert results == [[b"1"]]  # the next writer's follow-up still ran, with its own result
    assert "a deferred write's follow-up failed" in caplog.text


@pytest.mark.services
@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_a_large_batch_of_shoppers_is_queued_whole(redis_cache, published) -> None:  # type: ignore[no-untyped-def]
    from reco_app.segments.live import rules

    todo = {f"s{i}": rules() for i in range(5000)}  # 15,000 members: more than Lua unpacks at once
    queue.enqueue(todo)
    taken = queue.take()
    assert len(taken) == 5000 and taken["s4999"] == {rule.prefix for rule in rules()}
    assert [name for name, _ in published] == ["reco_app.segments.drain_live"]


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_a_failed_queuing_is_attempted_once_per_stored_batch(settings, monkeypatch, django_capture_on_commit_callbacks, caplog) -> None:  # type: ignore[no-untyped-def]
    from reco_app.segments import tasks
    from reco_app.tracking.service import store

    settings.CACHES = LOCMEM  # no Redis: each batch is published as its own task
    attempts: list[object] = []

    def broker_down(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.evaluate_live_segments, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(store([event("a", "add_to_cart", at=ago(1), product="p1", session="A")]).stored) == 1
    assert len(attempts) == 1  # not again from the event_stored receiver
    assert "queuing the live segment rules failed" in caplog.text


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True, SEGMENTS_LIVE_DELAY=0)
def test_without_redis_an_evaluation_put_off_by_an_erasure_waits_before_it_runs_again(settings, published, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reco_app import erasure
    from reco_app.segments.live import evaluate_subject

    settings.CACHES = LOCMEM  # no Redis: a task per batch
    add(*(event("s", "add_to_cart", at=ago(3 - i), product=f"p{i}", session="A") for i in range(3)))
    monkeypatch.setattr(erasure, "try_lock_shared", lambda: False)  # an erasure holds the lock
    evaluate_subject("s")  # finds it busy: left for later
    assert [name for name, _ in published] == ["reco_app.segments.evaluate_live"]
    eta = dt.datetime.fromisoformat(published[0][1])
    assert (eta - timezone.now()).total_seconds() > 0.5  # not at once: it would find the lock busy again


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=True)
def test_live_queued_tells_receivers_whether_rules_were_queued(redis_cache, published, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Impressions are relevant to no rule: nothing is queued, and the signal says so (and
    that no rule is relevant, so the receiver running the rules skips them)."""
    from reco_app.tracking.service import store

    flags: list[object] = []

    def receiver(sender: object = None, **kwargs: object) -> None:
        flags.append((kwargs.get("live_queued"), kwargs.get("live_relevant")))

    event_stored.connect(receiver, weak=False, dispatch_uid="test-live-queued")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            store([event("a", "rec_impression", at=ago(1), product="shoe1", session="A")])
        assert queue.take() == {}
        with django_capture_on_commit_callbacks(execute=True):
            store([event("a", "add_to_cart", at=ago(1), product="shoe1", session="A")])
    finally:
        event_stored.disconnect(dispatch_uid="test-live-queued")
    assert flags == [(False, False), (True, True)]
    assert set(queue.take()) == {"a"}


@pytest.mark.django_db
@pytest.mark.parametrize("queued", [False, True])
def test_misconfigured_live_rules_are_logged_once_and_never_reach_the_request(queued, django_capture_on_commit_callbacks, caplog) -> None:  # type: ignore[no-untyped-def]
    from reco_app.tracking.service import store

    bad = reco_settings(SEGMENTS_LIVE_ASYNC=queued, SEGMENTS_LIVE_RULES=["reco_app.segments.live.rules.NoSuchRule"])
    with bad, django_capture_on_commit_callbacks(execute=True):
        assert len(store([event("a", "add_to_cart", at=ago(1), product="p1", session="A")]).stored) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == ["live segment rules failed for newly stored events"]


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_ASYNC=False)
def test_rules_left_to_the_receiver_run_there_and_irrelevant_events_skip_it(django_capture_on_commit_callbacks, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without the queue the receiver evaluates the rules where the events are stored:
    for a cart add (relevant, left to it), not for an impression (relevant to no rule)."""
    from reco_app.segments.live import events as live_events
    from reco_app.tracking.service import store

    flags: list[object] = []
    evaluated: list[str] = []
    decided: list[list[str]] = []  # the events the receiver looked at

    def receiver(sender: object = None, **kwargs: object) -> None:
        flags.append((kwargs.get("live_queued"), kwargs.get("live_relevant")))

    real = live_events.evaluate_subject
    monkeypatch.setattr(live_events, "evaluate_subject", lambda subject, *a, **k: evaluated.append(subject) or real(subject, *a, **k))
    real_on_events = live_events.on_events
    monkeypatch.setattr(live_events, "on_events", lambda events: decided.append([e.event_type for e in events]) or real_on_events(events))
    event_stored.connect(receiver, weak=False, dispatch_uid="test-live-left")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            store([event("a", "rec_impression", at=ago(1), product="shoe1", session="A")])
        assert evaluated == []
        with django_capture_on_commit_callbacks(execute=True):
            store([event("a", "add_to_cart", at=ago(1), product="shoe1", session="A")])
    finally:
        event_stored.disconnect(dispatch_uid="test-live-left")
    assert flags == [(False, False), (False, True)]
    assert decided == [["add_to_cart"]]  # the impression was not looked at twice
    assert evaluated == ["a"]
