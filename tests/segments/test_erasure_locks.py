"""The erasure lock against segment jobs and live evaluations on PostgreSQL, with real
concurrent connections (one per thread): no deadlock with the admin's transaction, no
product page waiting behind an erasure, an erasure waiting a bounded time."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from reco_app import erasure
from reco_app.consent import privacy
from reco_app.models import Event, Segment, SegmentKind, SegmentMembership
from reco_app.segments import store as batch_store
from reco_app.segments.live import engine, load_state
from reco_app.segments.service import recompute_manual
from tests.segments.helpers import add, buyer, event, reco_settings

pytestmark = pytest.mark.services


@pytest.fixture
def pg(postgres_db: Any, transactional_db: Any) -> None:
    """Committed data, seen by the other threads' connections."""


def shop(now: dt.datetime) -> None:
    for i, subject in enumerate(["c00044", "c00045", "c00046", "c00047"]):
        buyer(subject, orders=2 + i, last_days_ago=3 + 10 * i, spend=100.0 * (i + 1), base=now)
        add(*(event(subject, "product_view", at=now - dt.timedelta(days=d), product=f"p{d}") for d in (1, 2, 40)))


def cart(subject: str, now: dt.datetime) -> None:
    add(*(event(subject, "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session=subject) for i in range(3)))


def in_thread(fn: Callable[[], Any], out: dict[str, Any], name: str) -> threading.Thread:
    def run() -> None:
        try:
            out[name] = fn()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            out[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def advisory(granted: bool) -> int:
    """Exclusive requests of the erasure lock in this test's database, granted or waiting
    (seen from this connection; a parallel test worker's database has its own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND objid = %s "
            "AND granted = %s AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [erasure.LOCK_KEY, granted],
        )
        return int(cursor.fetchone()[0])


def wait_until(check: Callable[[], bool], seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@contextlib.contextmanager
def job_writing() -> Iterator[dict[str, Any]]:
    """A job's writing transaction (e.g. the nightly batch store) holding the lock shared
    for the block; yields the threads' results, complete after the block."""
    release, held = threading.Event(), threading.Event()
    out: dict[str, Any] = {}

    def job() -> None:
        with transaction.atomic():
            erasure.lock_shared()
            held.set()
            release.wait(20)

    threads = [in_thread(job, out, "job")]
    assert held.wait(10)
    out["threads"] = threads
    try:
        yield out
    finally:
        release.set()
        for thread in out.pop("threads"):
            thread.join(20)


def test_a_manual_segment_saved_in_the_admins_transaction_does_not_deadlock_with_an_erasure(pg: None, monkeypatch: Any) -> None:
    """ModelAdmin wraps save_model (-> recompute_manual) in transaction.atomic: the segment's
    old memberships are deleted after the shared lock, so an erasure holding the exclusive
    lock meanwhile waits for no row of the admin's transaction (it used to: deadlock)."""
    now = timezone.now()
    shop(now)
    segment = Segment.objects.create(
        key="manual:buyers", name="Buyers", kind=SegmentKind.MANUAL,
        definition={"match": "all", "conditions": [{"field": "total_spend", "op": "gte", "value": 1}]},
    )
    assert recompute_manual(segment, now) == 4
    storing, go = threading.Event(), threading.Event()
    real_store = batch_store.store

    def slow_store(*args: Any, **kwargs: Any) -> Any:
        storing.set()  # read and computed; before: the segment's memberships deleted by now
        go.wait(10)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(batch_store, "store", slow_store)
    out: dict[str, Any] = {}

    def admin_save() -> int:  # what ModelAdmin.changeform_view does around save_model
        with transaction.atomic():
            return recompute_manual(Segment.objects.get(pk=segment.pk), now)

    admin = in_thread(admin_save, out, "admin")
    assert storing.wait(10)
    erase = in_thread(lambda: privacy.erase(["c00044"]), out, "erasure")
    # the erasure holds the exclusive lock (before: and waits for the admin's row locks)
    wait_until(lambda: advisory(granted=True) == 1 or "erasure" in out)
    go.set()
    admin.join(20), erase.join(20)
    assert not [v for v in out.values() if isinstance(v, Exception)], out
    assert out["admin"] == 3  # c00044, read before the erasure, is left out when stored
    assert set(SegmentMembership.objects.filter(segment=segment).values_list("subject", flat=True)) == {"c00045", "c00046", "c00047"}


def test_a_live_evaluation_does_not_wait_behind_an_erasure_waiting_for_a_job(pg: None) -> None:
    """A job holds the lock shared, an erasure waits for it exclusively, and PostgreSQL
    queues new shared requests behind that one: the live evaluation (with
    SEGMENTS_LIVE_ASYNC=False: the product page's request) does not wait, it leaves its
    writes for later; the next evaluation after the erasure writes them."""
    now = timezone.now()
    cart("b", now)
    with job_writing() as out:
        out["threads"].append(in_thread(lambda: privacy.erase(["someone"]), out, "erasure"))
        wait_until(lambda: advisory(granted=False) == 1)  # the erasure waits for the job
        started = time.monotonic()
        hits = engine.evaluate_subject("b", now)
        waited = time.monotonic() - started
    assert waited < 1.0, f"the live evaluation waited {waited:.1f}s behind the erasure"
    assert [h.key for h in hits] == ["live:high_intent"]  # evaluated ...
    assert not SegmentMembership.objects.filter(subject="b").exists()  # ... but not written
    assert load_state("b") is None  # the next event evaluates from the stored memberships
    assert out == {"job": None, "erasure": {k: 0 for k in out["erasure"]}}, out
    engine.evaluate_subject("b", now)  # later (the next event, the sweep)
    assert list(SegmentMembership.objects.filter(subject="b").values_list("segment__key", flat=True)) == ["live:high_intent"]


def test_an_erasure_waits_for_job_writes_at_most_erasure_lock_timeout(pg: None) -> None:
    now = timezone.now()
    cart("b", now)
    with job_writing(), reco_settings(ERASURE_LOCK_TIMEOUT=0.3):
        started = time.monotonic()
        with pytest.raises(erasure.ErasureBusy, match="ERASURE_LOCK_TIMEOUT"):
            privacy.erase(["b"])
        assert time.monotonic() - started < 5
    assert Event.objects.filter(subject="b").count() == 3  # nothing erased
    assert advisory(granted=False) == 0
    assert privacy.erase(["b"])["events"] == 3  # once the job has written: at once


def test_the_erasure_keeps_the_sessions_lock_timeout_for_its_other_statements(pg: None) -> None:
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute("SET LOCAL lock_timeout = '7s'")
        erasure.lock_exclusive()
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "7s"


def _shopper_with_a_live_membership(now: dt.datetime) -> None:
    cart("b", now)
    engine.evaluate_subject("b", now)
    assert SegmentMembership.objects.filter(subject="b").exists()


def test_a_withdrawal_during_job_writes_deletes_the_events_and_erases_the_rest_later(pg: None) -> None:
    """Without a worker (eager tasks) the derived data goes at once, without the lock."""
    from celery import current_app

    from reco_app.consent.service import forget

    now = timezone.now()
    _shopper_with_a_live_membership(now)
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True  # no worker (CI configures a broker)
    try:
        with job_writing() as out, reco_settings(ERASURE_LOCK_TIMEOUT=0.2):
            assert forget(["b"]) == 3  # no ErasureBusy for the shopper who withdrew
            assert not Event.objects.filter(subject="b").exists()
            assert not SegmentMembership.objects.filter(subject="b").exists()
    finally:
        current_app.conf.task_always_eager = eager
    assert "job" in out


def test_busy_erasures_answer_clearly_in_every_place_staff_and_shoppers_start_them(pg: None, django_user_model: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.test import Client

    from tests.helpers import customer_key

    user = django_user_model.objects.create_user("dee", password="pw-123456")
    key = customer_key(user)
    add(*(event(key, "product_view", at=timezone.now(), product=f"p{i}") for i in range(2)))
    shopper = Client()
    shopper.force_login(user)
    with job_writing(), reco_settings(ERASURE_LOCK_TIMEOUT=0.2):
        response = shopper.post("/reco/privacy/erase/", {"confirm": "1"})
        assert response.status_code == 503 and response["Retry-After"] == "60"
        assert b"Nothing was erased" in response.content
        with pytest.raises(CommandError, match="Nothing was erased"):
            call_command("reco_privacy", "erase", "--subject", key, "--yes", stdout=StringIO())
    assert Event.objects.filter(subject=key).count() == 2  # nothing half-erased
    assert shopper.post("/reco/privacy/erase/", {"confirm": "1"}).status_code == 302  # once the job is done
    assert not Event.objects.filter(subject=key).exists()
