from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from reco_app.models import Event, SegmentMembership
from reco_app.segments import live
from reco_app.segments.service import segments_for
from reco_app.signals import event_stored
from tests.segments.helpers import add, catalog, event, reco_settings

pytestmark = pytest.mark.django_db


def arrive(*events: Event) -> list[str]:
    """Store events the way the tracking service does, then read the shopper's segments."""
    stored = add(*events)
    event_stored.send(sender=None, events=stored)
    return segments_for(stored[-1].subject)


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_high_intent_appears_on_the_third_add_to_cart_of_the_session() -> None:
    assert arrive(event("s", "add_to_cart", at=ago(10), session="A")) == []
    assert arrive(event("s", "add_to_cart", at=ago(8), product="p2", session="A")) == []
    assert arrive(event("s", "add_to_cart", at=ago(5), product="p3", session="A")) == ["live:high_intent"]
    m = SegmentMembership.objects.get(subject="s", segment__key="live:high_intent")
    assert m.reason == "3 add-to-carts in this session"
    assert abs((m.expires_at - ago(5)).total_seconds() - 30 * 60) < 5


def test_add_to_carts_in_other_sessions_do_not_add_up() -> None:
    arrive(event("s", "add_to_cart", at=ago(100), session="A"), event("s", "add_to_cart", at=ago(90), session="A"))
    assert "live:high_intent" not in arrive(event("s", "add_to_cart", at=ago(1), session="B"))


def test_a_purchase_ends_high_intent() -> None:
    arrive(*(event("s", "add_to_cart", at=ago(10 - i), product=f"p{i}", session="A") for i in range(3)))
    assert "live:high_intent" in segments_for("s")
    assert "live:high_intent" not in arrive(event("s", "purchase", at=ago(1), session="A"))


def test_browsing_a_category_now() -> None:
    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0), hat=("Hats", 20.0))
    assert arrive(event("s", "product_view", at=ago(3), product="shoe1", session="A")) == []
    assert arrive(event("s", "product_view", at=ago(2), product="shoe2", session="A")) == ["live:browsing:shoes"]
    assert SegmentMembership.objects.get(subject="s").segment.name == "Browsing Shoes now"
    assert arrive(event("s", "product_view", at=ago(1), product="hat", session="A")) == ["live:browsing:shoes"]


def test_live_segments_expire_and_are_cleaned() -> None:
    # Three add-to-carts 40 minutes ago: high intent held for 30 minutes, so it is over.
    stored = add(*(event("s", "add_to_cart", at=ago(42 - i), product=f"p{i}", session="A") for i in range(3)))
    live.evaluate_subject("s", now=ago(38))
    assert SegmentMembership.objects.filter(subject="s").count() == 1
    assert segments_for("s") == []
    assert live.clean_expired() == 1
    assert not SegmentMembership.objects.filter(subject="s").exists()
    assert stored


def test_cached_segments_are_not_served_past_their_expiry() -> None:
    # High intent held 30 minutes after the last add-to-cart: 3 seconds from now.
    add(*(event("s", "add_to_cart", at=ago(30 - 3 / 60), product=f"p{i}", session="A") for i in range(3)))
    live.evaluate_subject("s")
    assert segments_for("s") == ["live:high_intent"]
    time.sleep(3.1)
    assert segments_for("s") == []


def test_cart_abandoned_found_by_the_sweep_and_on_the_next_visit() -> None:
    add(event("s", "add_to_cart", at=ago(120), session="A"))
    live.sweep()
    assert segments_for("s") == ["live:cart_abandoned"]
    assert arrive(event("t", "add_to_cart", at=ago(5), session="A")) == []  # still shopping
    assert arrive(event("t", "product_view", at=ago(1), session="B")) == ["live:cart_abandoned"]
    assert arrive(event("t", "purchase", at=ago(0.5), session="B")) == []


def test_old_carts_and_unconsented_events_make_no_live_segment() -> None:
    add(event("s", "add_to_cart", at=ago(25 * 60), session="A"))
    live.sweep()
    assert segments_for("s") == []
    stored = add(*(event("a", "add_to_cart", at=ago(3 - i), product=f"p{i}", session="A", consent="anonymised") for i in range(3)))
    event_stored.send(sender=None, events=stored)
    assert segments_for("a") == []


class ViewedThree(live.LiveRule):
    """A shop's own rule: three product views today."""

    prefix = "live:three_views"

    def evaluate(self, recent: live.Recent) -> list[live.LiveHit]:
        views = int((recent.etype == "product_view").sum())
        if views < 3:
            return []
        return [live.LiveHit(self.prefix, "Three views", "", f"{views} views", recent.now + dt.timedelta(minutes=5))]


class Broken(live.LiveRule):
    def evaluate(self, recent: live.Recent) -> list[live.LiveHit]:
        raise RuntimeError("bug in a shop's rule")


@reco_settings(SEGMENTS_LIVE_RULES=["tests.segments.test_live.ViewedThree"])
def test_a_shop_can_plug_in_its_own_rule() -> None:
    arrive(*(event("s", "product_view", at=ago(3 - i), product=f"p{i}") for i in range(2)))
    assert arrive(event("s", "product_view", at=ago(0.5), product="p9")) == ["live:three_views"]


@reco_settings(SEGMENTS_LIVE_RULES=["tests.segments.test_live.Broken"])
def test_a_failing_rule_never_breaks_event_storage(caplog: pytest.LogCaptureFixture) -> None:
    assert arrive(event("s", "product_view", at=ago(1))) == []
    assert "live segment evaluation failed" in caplog.text


def test_events_that_change_nothing_cost_at_most_one_query() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    catalog(shoe1=("Shoes", 80.0))

    def queries_for(event_type: str, at: float, product: str = "shoe1") -> int:
        stored = add(event("s", event_type, at=ago(at), product=product, session="A"))
        with CaptureQueriesContext(connection) as queries:
            event_stored.send(sender=None, events=stored)
        return len(queries)

    assert queries_for("product_view", 3) == 2  # recent events with categories, memberships
    assert queries_for("rec_impression", 2) == 0  # no live rule depends on it, no cart pending
    assert queries_for("product_view", 1.5, product="unknown") == 1  # memberships: cached
    assert segments_for("s") == []
    queries_for("product_view", 1)  # the second Shoes view
    assert segments_for("s") == ["live:browsing:shoes"]
    assert queries_for("wishlist_add", 0.5) == 0


def test_a_pending_cart_is_rechecked_on_any_activity_of_another_session() -> None:
    assert arrive(event("s", "add_to_cart", at=ago(10), session="A")) == []
    assert arrive(event("s", "rec_impression", at=ago(5), session="A")) == []
    # impressions and dwell times follow a page the shopper opened: they are not activity
    assert arrive(event("s", "rec_impression", at=ago(2), session="B")) == []
    assert segments_for("s") == []
    assert arrive(event("s", "search", at=ago(1), session="B")) == ["live:cart_abandoned"]
    assert segments_for("s") == ["live:cart_abandoned"]


def test_impressions_alone_evaluate_nothing(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    stored = add(event("s", "rec_impression", at=ago(1), session="A"), event("s", "dwell", at=ago(1), session="A"))
    live.forget_state(["s"])
    with django_assert_num_queries(0):
        event_stored.send(sender=None, events=stored)
    assert live.load_state("s") is None  # no evaluation ran, so no state was built
    add_view = add(event("s", "product_view", at=ago(0.5), session="A"))
    event_stored.send(sender=None, events=add_view)
    assert live.load_state("s") is not None  # a view is activity: evaluated, state built


def test_only_the_newest_events_are_read() -> None:
    # a shopper with more events today than RECENT_LIMIT: the oldest are not read
    catalog(shoe1=("Shoes", 80.0))
    many = live.RECENT_LIMIT + 50
    add(*(event("s", "rec_impression", at=ago(100 - i * 0.01), session="A") for i in range(many)))
    add(event("s", "product_view", at=ago(2), product="shoe1", session="A"))
    recent = live.load_recent("s", timezone.now())
    assert len(recent.etype) == live.RECENT_LIMIT
    assert recent.etype[-1] == "product_view"  # oldest first, ending with the newest


def test_erased_memberships_are_not_remembered_by_the_live_state() -> None:
    from reco_app.segments.service import erase_memberships

    arrive(*(event("s", "add_to_cart", at=ago(5 - i), product=f"p{i}", session="A") for i in range(3)))
    assert segments_for("s") == ["live:high_intent"]
    erase_memberships(["s"])
    assert arrive(event("s", "add_to_cart", at=ago(0.5), product="p9", session="A")) == ["live:high_intent"]


def test_a_browsing_membership_is_extended_every_few_minutes_not_every_view() -> None:
    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0))
    t0 = timezone.now() - dt.timedelta(minutes=20)

    def view(minute: float, product: str = "shoe1") -> dt.datetime:
        when = t0 + dt.timedelta(minutes=minute)
        segments = arrive(event("s", "product_view", at=when, product=product, session="A"))
        assert segments == ([] if minute == 0 else ["live:browsing:shoes"])
        return SegmentMembership.objects.get(subject="s", segment__key="live:browsing:shoes").expires_at if minute else when

    view(0)
    first = view(1, "shoe2")
    assert first == t0 + dt.timedelta(minutes=31)
    assert view(3) == first  # 2 minutes later: the stored expiry is kept (no write)
    assert view(7, "shoe2") == t0 + dt.timedelta(minutes=37)  # 6 minutes gained: moved
    assert view(8) == t0 + dt.timedelta(minutes=37)


def test_browsing_one_category_costs_no_query_once_a_member() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reco_app.serving.catalog_index import get_catalog

    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0), shoe3=("Shoes", 70.0), hat=("Hats", 20.0))
    get_catalog()  # the index a serving process has loaded: it knows each product's category

    def view(minutes_ago: float, product: str, session: str = "A") -> tuple[int, list[str]]:
        stored = add(event("s", "product_view", at=ago(minutes_ago), product=product, session=session))
        with CaptureQueriesContext(connection) as queries:
            event_stored.send(sender=None, events=stored)
        return len(queries), segments_for("s")

    def expiry() -> dt.datetime:
        return SegmentMembership.objects.get(subject="s", segment__key="live:browsing:shoes").expires_at

    view(10, "shoe1")
    assert view(9, "shoe2")[1] == ["live:browsing:shoes"]
    first = expiry()
    assert view(8, "shoe3") == (0, ["live:browsing:shoes"])  # already browsing shoes: nothing to do
    assert expiry() == first
    queries, segments = view(2, "shoe1")  # 7 minutes later: the expiry moves, so it is evaluated
    assert queries > 0 and segments == ["live:browsing:shoes"] and expiry() > first
    assert view(1.5, "hat")[0] > 0  # another category: evaluated (one hat view is not browsing)
    assert view(1, "shoe2", session="B")[0] > 0  # another session: evaluated
    assert segments_for("s") == []  # a new visit: one shoe view so far


def test_without_a_loaded_catalog_index_every_view_is_evaluated() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    catalog(shoe1=("Shoes", 80.0), shoe2=("Shoes", 90.0))
    arrive(event("s", "product_view", at=ago(10), product="shoe1", session="A"))
    assert arrive(event("s", "product_view", at=ago(9), product="shoe2", session="A")) == ["live:browsing:shoes"]
    stored = add(event("s", "product_view", at=ago(8), product="shoe1", session="A"))
    with CaptureQueriesContext(connection) as queries:
        event_stored.send(sender=None, events=stored)
    assert len(queries) == 1  # the recent events (the memberships come from the cached state)


def test_events_handed_over_as_a_one_shot_iterator_are_all_evaluated() -> None:
    """``event_stored`` receivers may be given any iterable: relevance and evaluation read it once."""
    stored = add(*(event("s", "add_to_cart", at=ago(9 - i), product=f"p{i}", session="A") for i in range(3)))
    event_stored.send(sender=None, events=iter(stored))
    assert segments_for("s") == ["live:high_intent"]
