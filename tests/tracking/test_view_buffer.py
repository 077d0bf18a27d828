"""Product views written behind the page (VIEW_BUFFER_SECONDS, reco_app.tracking.buffer)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection

from example_shop.shop.models import Product
from reco_app import erasure
from reco_app.consent import late
from reco_app.models import DroppedEventCount, Event
from reco_app.signals import event_stored
from reco_app.tracking import buffer
from tests.tracking.conftest import accept


@pytest.fixture(autouse=True)
def behind(settings):  # type: ignore[no-untyped-def]
    """Views wait a minute (the writer thread stays out of the way unless a test shortens
    it); nothing a test buffered outlives it."""
    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_SECONDS": 60, "VIEW_BUFFER_SIZE": 200}
    yield
    with buffer._lock:
        buffer._rows.clear()
        buffer._lists.clear()
        buffer._mark[0] = None
    assert wait_for(lambda: not buffer._state["writing"]), "the writer thread is still writing"


@pytest.fixture
def products(product):  # type: ignore[no-untyped-def]
    return [product] + [
        Product.objects.create(sku=f"SKU-{i}", name=f"Runner {i}", category=product.category, price="20.00", stock=5)
        for i in range(2, 5)
    ]


def views() -> list[Event]:
    return list(Event.objects.filter(event_type="product_view").order_by("id"))


def wait_for(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError:  # (SQLite's shared in-memory test database: the writer's table lock)
            pass
        time.sleep(0.05)
    return False


def test_views_wait_then_are_written_in_one_batch(consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    batches: list[int] = []

    def received(sender, events, **kwargs):  # type: ignore[no-untyped-def]
        batches.append(len(list(events)))

    event_stored.connect(received, dispatch_uid="test_view_buffer")
    try:
        for p in products[:3]:
            assert consenting.get(f"/p/{p.sku}/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/130.0").status_code == 200
        assert views() == [] and buffer.pending() == 3  # the pages were served without writing
        with django_capture_on_commit_callbacks(execute=True):
            assert buffer.flush() == 3
    finally:
        event_stored.disconnect(dispatch_uid="test_view_buffer")
    stored = views()
    assert [e.product_key for e in stored] == ["SKU-1", "SKU-2", "SKU-3"]
    assert {e.subject for e in stored} == {f"anon:{stored[0].visitor_id}"} and stored[0].visitor_id
    assert {e.consent for e in stored} == {"granted"} and stored[0].context["device"] == "desktop"
    assert batches == [3] and buffer.pending() == 0


def test_off_by_default_the_page_writes_its_view(consenting, product_url, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_SECONDS": 0}
    consenting.get(product_url)
    assert len(views()) == 1 and buffer.pending() == 0


def test_without_consent_nothing_is_buffered(client, product_url) -> None:  # type: ignore[no-untyped-def]
    client.get(product_url)
    assert buffer.pending() == 0 and views() == []


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_writes_within_the_interval(client, product_url, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_SECONDS": 0.2}
    accept(client)
    client.get(product_url)
    assert wait_for(lambda: len(views()) == 1), "the writer did not write the view"
    assert buffer.pending() == 0


@pytest.mark.django_db(transaction=True)
def test_a_full_buffer_is_written_at_once(client, products, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_SIZE": 2}  # (and a minute's wait)
    accept(client)
    for p in products[:2]:
        client.get(f"/p/{p.sku}/")
    assert wait_for(lambda: len(views()) == 2), "a full buffer waited for the interval"


def test_an_erasure_here_writes_the_views_first_and_erases_them(consenting, products) -> None:  # type: ignore[no-untyped-def]
    from reco_app.privacy import erase_subjects

    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    erase_subjects([subject])
    assert buffer.pending() == 0 and views() == []


def test_views_of_a_shopper_erased_elsewhere_are_left_out(client, products) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    accept(client)
    other = Client()
    accept(other)
    client.get(f"/p/{products[0].sku}/")
    other.get(f"/p/{products[1].sku}/")
    erased = buffer._rows[0].subject
    # what an erasure in another process does under its lock (this process's buffer unseen)
    erasure.record([erased])
    assert buffer.flush() == 1
    assert [(e.subject != erased, e.product_key) for e in views()] == [(True, "SKU-2")]
    assert DroppedEventCount.objects.get(reason="erased").count == 1


@pytest.mark.django_db(transaction=True)
def test_views_of_a_shopper_who_withdrew_elsewhere_are_removed(client, product_url) -> None:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("ann", password="pw-12345678")
    client.force_login(user)
    accept(client)
    client.get(product_url)
    subject = buffer._rows[0].subject
    assert subject and not subject.startswith("anon:")
    time.sleep(0.01)
    late.mark([subject], [])  # a withdrawal in another process, after the page read consent
    buffer.flush()
    assert views() == []


def test_signing_in_joins_the_views_still_buffered(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    from reco_app.adapter import subject_of

    consenting.get(product_url)
    user = get_user_model().objects.create_user("bo", password="pw-12345678")
    assert consenting.post("/accounts/login/", {"username": "bo", "password": "pw-12345678"}).status_code == 302
    assert [(e.subject, e.product_key) for e in views()] == [(subject_of(user), "SKU-1")]


def test_an_export_here_includes_the_views_still_buffered(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    from reco_app.privacy import export_subjects

    consenting.get(product_url)
    subject = buffer._rows[0].subject
    exported = export_subjects([subject])
    assert [e["product_key"] for e in exported["events"]] == ["SKU-1"]


def test_a_database_that_cannot_write_keeps_the_views_for_the_next_flush(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)

    def refuse(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "INSERT" in sql and "reco_app_event" in sql:
            raise OperationalError("the database is read-only")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        assert buffer.flush() == 0
    assert buffer.pending() == 1 and views() == []
    assert buffer.flush() == 1 and len(views()) == 1


def test_a_forked_process_does_not_write_its_parents_views(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    buffer._state["pid"] = -1  # as a worker forked from a process that had buffered views sees it
    assert buffer.pending() == 0 and buffer.flush() == 0 and views() == []


def _for_you_key(subject: str) -> str:
    from reco_app.serving import local_cache

    [key] = [k for k in local_cache._lists if f":for_you:{subject}:" in k]
    return key


def test_a_shoppers_list_goes_to_the_shared_cache_with_the_next_batch(consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """The page keeps its list at once; the shared copy waits for the writer, which sends
    it with the views (one round trip for all the lists waiting)."""
    from reco_app import cache, recommend
    from reco_app.serving import local_cache

    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        buffer.flush()  # (the view written: the lists below are computed from it)
    page = consenting.get("/")
    assert [key for key, _value, _who, _tag in buffer._lists] == [_for_you_key(subject)] and buffer._lists[0][2] == subject
    assert _for_you_key(subject) not in cache.subject_entries(subject)  # not in the shared cache yet
    misses = cache.stats["misses"]
    again = consenting.get("/")
    assert cache.stats["misses"] == misses and page.status_code == again.status_code == 200  # this process has it
    assert buffer.flush() == 0 and not buffer._lists  # no views waiting: the lists alone
    entry = cache.subject_entries(subject)[_for_you_key(subject)]
    assert entry[0] == cache.ns_version(f"subject:{subject}")  # tagged with the current version
    local_cache.forget_lists()  # as another process, with nothing of its own
    hits = cache.stats["hits"]
    shown = recommend(subject, "for_you", limit=8)
    assert cache.stats["hits"] == hits + 1 and [r.product_key for r in shown] == [card[0] for card in entry[1][1]]


@pytest.mark.django_db(transaction=True)
def test_the_writer_sends_waiting_lists_without_views(client, product, settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app import cache

    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_SECONDS": 0.2}
    accept(client)
    client.get("/")  # no product page: no view, only the shopper's list
    visitor = client.cookies["reco_v"].value.split(":")[0]
    key = _for_you_key(f"anon:{visitor}")
    assert wait_for(lambda: cache.get(key) is not None), "the writer did not send the list"
    assert not buffer._lists


def test_an_erasure_here_leaves_no_waiting_list_behind(consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from reco_app import cache
    from reco_app.privacy import erase_subjects

    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    consenting.get("/")
    key = _for_you_key(subject)
    assert [k for k, _value, _who, _tag in buffer._lists] == [key]
    with django_capture_on_commit_callbacks(execute=True):
        erase_subjects([subject])
    assert not buffer._lists and cache.subject_entries(subject) == {} and cache.get(key) is None


def _event_reads(queries: list[dict[str, str]]) -> list[str]:
    return [q["sql"] for q in queries if "reco_app_event" in q["sql"] and q["sql"].lstrip().upper().startswith("SELECT")]


def test_the_writer_keeps_its_shoppers_histories_for_their_next_list(consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """After the batch, the shopper's history waits in the shared cache, tagged with their
    namespace: their next list (in any process) is computed from it without a query, and
    is the list the query would give."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from reco_app import cache, recommend
    from reco_app.serving import local_cache
    from reco_app.serving.profile import history_rows, history_window

    for p in products[:3]:
        consenting.get(f"/p/{p.sku}/")
    subject = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert buffer.flush() == 3
    entries = cache.subject_entries(subject)
    start, limit, rows = entries[cache.history_keys(subject)[0]]
    since, wanted = history_window(timezone.now())
    assert start <= since.timestamp() and limit == wanted  # the window the pages read
    assert entries[cache.history_keys(subject)[1]] == cache.ns_version(f"subject:{subject}")  # the version it stands at
    assert [r[:2] for r in rows] == [r[:2] for r in history_rows(subject, *history_window(timezone.now()))]
    assert [r[0] for r in rows] == ["SKU-3", "SKU-2", "SKU-1"]  # newest first
    local_cache.forget_lists()  # as another process
    with CaptureQueriesContext(connection) as kept:
        from_cache = [r.product_key for r in recommend(subject, "for_you", limit=3)]
    assert _event_reads(kept.captured_queries) == []
    # the same list from the database: without the copy, their history is queried
    assert [k for k, *_ in buffer._lists] == [_for_you_key(subject)]  # (its shared copy waits for the writer)
    buffer._lists.clear()
    cache.delete(*cache.history_keys(subject))
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as queried:
        from_query = [r.product_key for r in recommend(subject, "for_you", limit=3)]
    assert len(_event_reads(queried.captured_queries)) == 1
    assert from_cache == from_query and from_cache


def test_a_history_kept_before_the_shoppers_next_event_is_not_used(consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reco_app import cache, recommend
    from reco_app.serving import local_cache

    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        buffer.flush()
    assert cache.history_keys(subject)[0] in cache.subject_entries(subject)
    cache.bump(f"subject:{subject}")  # an event stored by another process
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as queried:
        recommend(subject, "for_you", limit=3)
    assert len(_event_reads(queried.captured_queries)) == 1


def test_kept_histories_are_exported_and_erased_and_can_be_turned_off(consenting, products, settings, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from reco_app import cache
    from reco_app.consent import privacy

    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        buffer.flush()
    exported = privacy.export([subject])["data"]["cached_recommendations"]["entries"]
    [entry] = [e for e in exported if e["key"] == cache.history_keys(subject)[0]]
    assert entry["subject"] == subject and entry["value"][2][0][:2] == ["SKU-1", "product_view"]
    with django_capture_on_commit_callbacks(execute=True):
        privacy.erase([subject])
    assert cache.subject_entries(subject) == {} and cache.get(cache.history_keys(subject)[0]) is None
    # off: the writer keeps none
    settings.RECO_APP = {**settings.RECO_APP, "VIEW_BUFFER_HISTORIES": False}
    consenting.get(f"/p/{products[1].sku}/")
    other = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert buffer.flush() == 1
    assert cache.get(cache.history_keys(other)[0]) is None


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_a_history_copy_outlives_a_membership_change_but_not_an_event(backend, request, consenting, products, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """A live-segment change bumps the shopper's namespace (their lists may depend on their
    segments) but leaves their events as they were: the copy moves along with it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reco_app import cache, recommend
    from reco_app.serving import local_cache

    if backend == "redis":
        request.getfixturevalue("redis_cache")
    consenting.get(f"/p/{products[0].sku}/")
    subject = buffer._rows[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        buffer.flush()
    at = cache.history_keys(subject)[1]
    before = cache.get(at)
    cache.bump_many([f"subject:{subject}"], keeps=("history", "suppressed"))  # as the live rules' drain does
    assert cache.get(at) == cache.ns_version(f"subject:{subject}") == before + 1
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as kept:
        recommend(subject, "for_you", limit=3)
    assert _event_reads(kept.captured_queries) == []
    cache.bump_many([f"subject:{subject}"])  # an event
    assert cache.get(at) == before + 1 < cache.ns_version(f"subject:{subject}")
    cache.bump_many([f"subject:{subject}"], keeps=("history", "suppressed"))  # a copy that had fallen behind stays behind
    assert cache.get(at) == before + 1
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as queried:
        recommend(subject, "for_you", limit=3)
    assert len(_event_reads(queried.captured_queries)) == 1
