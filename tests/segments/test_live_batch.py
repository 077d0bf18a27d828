"""The queue's drain evaluates its shoppers together (``evaluate_many``): the same results
as one at a time, a fixed number of reads per batch, and erasures still respected."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reco_app.models import Event
from reco_app.models.segments import SegmentMembership
from reco_app.segments.live import (
    LiveHit,
    LiveRule,
    Recent,
    drain,
    engine,
    evaluate_many,
    load_recent,
    load_state,
    recent,
    rules,
)
from reco_app.segments.service import segments_for
from tests.segments.helpers import add, catalog, event, reco_settings


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def history() -> None:
    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0), hat=("Hats", 20.0))
    add(*(event("a", "add_to_cart", at=ago(10 - i), product=f"p{i}", session="A") for i in range(3)))
    add(event("b", "product_view", at=ago(3), product="shoe1", session="B"),
        event("b", "product_view", at=ago(2), product="shoe2", session="B"),
        event("b", "product_view", at=ago(1), product="hat", session="B"))
    add(event("c", "product_view", at=ago(1), product="hat", session="C"))  # one view: no segment
    add(event("d", "product_view", at=ago(60 * 30), product="shoe1", session="D"))  # older than 24 h


@pytest.mark.django_db
def test_a_batch_reads_what_each_shopper_would_read_alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    history()
    monkeypatch.setattr(recent, "RECENT_LIMIT", 2)  # each shopper's newest two only
    now = timezone.now()
    together = recent.load_recent_many(["a", "b", "c", "d", "nobody"], now)
    for subject in ("a", "b", "c", "d", "nobody"):
        alone = load_recent(subject, now)
        assert (list(together[subject].etype), list(together[subject].category), list(together[subject].session),
                together[subject].ts) == (list(alone.etype), list(alone.category), list(alone.session), alone.ts)
    assert list(together["b"].category) == ["Shoes", "Hats"]  # the newest two, oldest first
    assert len(together["d"].etype) == 0 and len(together["nobody"].etype) == 0


@pytest.mark.django_db
def test_a_drain_stores_the_memberships_and_a_second_one_only_reads(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    history()
    todo = {subject: rules() for subject in ("a", "b", "c", "d")}
    assert evaluate_many(todo) == 4
    assert segments_for("a") == ["live:high_intent"]
    assert segments_for("b") == ["live:browsing:shoes"]
    assert segments_for("c") == [] and segments_for("d") == []
    assert load_state("b") is not None and load_state("d") is None  # nothing to remember for d

    with django_assert_num_queries(2):  # recent events, memberships: nothing changed, nothing written
        assert evaluate_many(todo) == 4
    assert segments_for("b") == ["live:browsing:shoes"]


@pytest.mark.django_db
def test_a_shopper_erased_after_the_read_is_left_out_of_the_batch_write() -> None:
    history()
    now = timezone.now()
    subjects = ["a", "b"]
    recents = recent.load_recent_many(subjects, now)
    plans = [engine._plan(s, recents[s], rules(), {}, None, cached=False) for s in subjects]
    Event.objects.filter(subject="a").delete()  # an erasure commits between the read and the write
    assert drain._store_together(plans) == ["b"]  # the batch ran again without a
    assert segments_for("a") == [] and load_state("a") is None  # a's writes undone, its state gone
    assert segments_for("b") == ["live:browsing:shoes"] and load_state("b") is not None
    assert SegmentMembership.objects.filter(subject="b").count() == 1


class BadForB(LiveRule):
    """A shop's faulty rule: for shopper "b" it answers an expiry that is not a date-time,
    which fails only when the membership is written."""

    prefix = "live:bad"

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        if recent.subject != "b" or not len(recent.etype):
            return []
        return [LiveHit(self.prefix, "Bad", "", "", "soon")]  # type: ignore[arg-type]


def carts(subject: str, n: int = 3) -> None:
    add(*(event(subject, "add_to_cart", at=ago(10 - i), product=f"p{i}", session=subject.upper()) for i in range(n)))


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_RULES=["reco_app.segments.live.HighIntent", "tests.segments.test_live_batch.BadForB"])
def test_one_shoppers_failing_write_loses_only_that_shopper(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for subject in ("a", "b", "c", "d"):
        carts(subject)
    monkeypatch.setattr(drain, "BATCH", 3)  # a, b, c together; d in the next batch
    assert evaluate_many({s: rules() for s in ("a", "b", "c", "d")}) == 4  # no exception
    assert segments_for("a") == segments_for("c") == segments_for("d") == ["live:high_intent"]
    assert segments_for("b") == []  # its transaction failed on its own
    assert load_state("b") is None and load_state("a") is not None


@pytest.mark.django_db
def test_a_retry_after_an_erasure_starts_from_the_memberships_as_read(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for subject in ("b", "x", "z"):
        carts(subject)
    now = timezone.now()
    recents = recent.load_recent_many(["b", "x"], now)
    plans = [engine._plan(s, recents[s], rules(), {}, None, cached=False) for s in ("b", "x")]
    Event.objects.filter(subject="x").delete()  # x erased between the read and the write
    real_forget = drain.forget_state

    def forget_then_another_writer(subjects: list[str]) -> None:  # between the rollback and the retry
        real_forget(subjects)
        engine.evaluate_subject("z")  # a request adds z's membership (SQLite may reuse a rolled-back pk)

    monkeypatch.setattr(drain, "forget_state", forget_then_another_writer)
    assert drain._store_together(plans) == ["b"]
    assert segments_for("b") == segments_for("z") == ["live:high_intent"]
    b_row = SegmentMembership.objects.get(subject="b")
    assert plans[0].members == {"live:high_intent": (b_row.pk, b_row.expires_at)}
    assert SegmentMembership.objects.get(subject="z").reason == "3 add-to-carts in this session"


@pytest.mark.django_db
def test_a_retry_that_finds_the_lock_busy_leaves_no_state_of_the_undone_attempt(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reco_app import erasure

    carts("b")
    carts("x")
    now = timezone.now()
    recents = recent.load_recent_many(["b", "x"], now)
    plans = [engine._plan(s, recents[s], rules(), {}, None, cached=False) for s in ("b", "x")]
    Event.objects.filter(subject="x").delete()
    answers = iter([True, False])  # the lock is free, then an erasure holds it
    monkeypatch.setattr(erasure, "try_lock_shared", lambda: next(answers))
    later: list[dict[str, list[LiveRule]]] = []
    monkeypatch.setattr(drain, "_later", later.append)  # (with the queue: queued again)
    assert drain._store_together(plans) == []
    assert [set(todo) for todo in later] == [{"b"}]  # b is left for later...
    assert segments_for("b") == [] and load_state("b") is None  # ...with no state naming an undone row


@pytest.mark.django_db
def test_a_shopper_whose_own_write_fails_keeps_no_state_naming_its_undone_rows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.db import OperationalError

    carts("a")
    carts("b")
    real_check = engine._STILL_THERE

    class FailingForB:  # the erasure check (or the COMMIT) fails, after b's state was cached
        def rows(self, subject: str) -> list[tuple[int]]:
            if subject == "b":
                raise OperationalError("database is locked")
            return real_check.rows(subject=subject)

    def batch_fails(plans: list[object]) -> set[str]:
        raise OperationalError("database is locked")  # the batch's transaction: one by one then

    monkeypatch.setattr(drain, "_still_there", batch_fails)
    monkeypatch.setattr(engine, "_STILL_THERE", FailingForB())
    assert evaluate_many({s: rules() for s in ("a", "b")}) == 2
    assert segments_for("a") == ["live:high_intent"] and load_state("a") is not None
    assert segments_for("b") == [] and load_state("b") is None  # no state naming a rolled-back pk


class OutOfTime(LiveRule):
    """Celery's soft time limit firing while the rules run."""

    prefix = "live:slow"

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        from celery.exceptions import SoftTimeLimitExceeded

        raise SoftTimeLimitExceeded()


@pytest.mark.django_db
@reco_settings(SEGMENTS_LIVE_RULES=["tests.segments.test_live_batch.OutOfTime"])
def test_the_drain_stops_when_its_soft_time_limit_fires() -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    carts("a")
    with pytest.raises(SoftTimeLimitExceeded):  # not taken for one shopper's failure
        evaluate_many({"a": rules(), "b": rules()})


@pytest.mark.django_db
def test_shoppers_entering_segments_in_one_drain_are_written_with_one_insert() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    history()
    evaluate_many({s: rules() for s in ("a", "b")})  # creates the two segments
    for subject in ("e", "f", "g"):
        carts(subject)
    add(event("h", "product_view", at=ago(2), product="shoe1", session="H"),
        event("h", "product_view", at=ago(1), product="shoe2", session="H"))
    with CaptureQueriesContext(connection) as queries:
        assert evaluate_many({s: rules() for s in ("e", "f", "g", "h")}) == 4
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "reco_app_segmentmembership"')]
    assert len(inserts) == 1  # four memberships, two segments, one statement
    assert segments_for("e") == segments_for("g") == ["live:high_intent"] and segments_for("h") == ["live:browsing:shoes"]
    assert len(queries.captured_queries) <= 10  # reads, lock, segments, upsert, check: not per shopper
