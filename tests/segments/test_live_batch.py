"""The queue's drain evaluates its shoppers together (``evaluate_many``): the same results
as one at a time, a fixed number of reads per batch, and erasures still respected."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reco_app.models import Event
from reco_app.models.segments import SegmentMembership
from reco_app.segments.live import engine, evaluate_many, load_recent, load_state, rules
from reco_app.segments.service import segments_for
from tests.segments.helpers import add, catalog, event


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
    monkeypatch.setattr(engine, "RECENT_LIMIT", 2)  # each shopper's newest two only
    now = timezone.now()
    together = engine.load_recent_many(["a", "b", "c", "d", "nobody"], now)
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
    recents = engine.load_recent_many(subjects, now)
    plans = [engine._plan(s, recents[s], rules(), {}, None, cached=False) for s in subjects]
    Event.objects.filter(subject="a").delete()  # an erasure commits between the read and the write
    assert engine._store_together(plans) == ["b"]  # the batch ran again without a
    assert segments_for("a") == [] and load_state("a") is None  # a's writes undone, its state gone
    assert segments_for("b") == ["live:browsing:shoes"] and load_state("b") is not None
    assert SegmentMembership.objects.filter(subject="b").count() == 1
