from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from reco_app import cache, track
from reco_app.models import CatalogItem, DroppedEventCount, Event
from reco_app.segments.history import load_history
from reco_app.segments.profile import build_profile
from reco_app.signals import event_stored, order_placed
from reco_app.tracking.context import get_context
from tests.helpers import customer_key
from tests.tracking.conftest import signed_visitor_cookie

pytestmark = pytest.mark.django_db


def _consenting_request(rf, product_url):  # type: ignore[no-untyped-def]
    request = rf.get(product_url)
    request.COOKIES["cookie_consent"] = "personalisation=2026-01-01"
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    return request


def test_track_stores_after_commit_signal_and_subject_cache_bump(rf, product, product_url, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    request = _consenting_request(rf, product_url)
    received = []
    event_stored.connect(lambda sender, events, **kw: received.extend(events), weak=False, dispatch_uid="t")
    subject = get_context(request).subject
    before = cache.ns_version(f"subject:{subject}")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = track(request, "add_to_cart", product, 2, placement="pdp")
            assert received == []  # nothing announced before commit
    finally:
        event_stored.disconnect(dispatch_uid="t")
    assert event is not None and event.pk
    assert (event.product_key, event.value, event.context["placement"], event.source) == ("SKU-1", 2.0, "pdp", "server")
    assert [e.event_id for e in received] == [event.event_id]
    assert cache.ns_version(f"subject:{subject}") == before + 1


def test_only_taste_events_invalidate_the_shoppers_lists(rf, product, product_url, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    request = _consenting_request(rf, product_url)
    subject = get_context(request).subject
    before = cache.ns_version(f"subject:{subject}")
    with django_capture_on_commit_callbacks(execute=True):
        assert track(request, "rec_impression", product, placement="home", rec_token="t")
        assert track(request, "search", q="boots")
    assert cache.ns_version(f"subject:{subject}") == before  # nothing the shopper profile reads
    with django_capture_on_commit_callbacks(execute=True):
        assert track(request, "product_view", product)
    assert cache.ns_version(f"subject:{subject}") == before + 1


def test_track_never_raises_for_bad_input(rf, product_url) -> None:  # type: ignore[no-untyped-def]
    request = _consenting_request(rf, product_url)
    assert track(request, "teleport", "SKU-1") is None
    assert track(request, "add_to_cart") is None  # no product
    assert track(request, "rating", "SKU-1", float("nan")) is None
    assert track(request, "search", note="\x00") is None
    assert track(request, "purchase", "SKU-1", 1, unit_price="59.90") is None  # a number, please
    assert Event.objects.count() == 0
    assert sum(DroppedEventCount.objects.filter(reason="invalid").values_list("count", flat=True)) == 5
    assert track(request, "purchase", "SKU-1", 1, unit_price=59.9) is not None


def test_order_placed_records_one_purchase_per_line(rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    request = _consenting_request(rf, product_url)

    class Order:
        pk = 77

    order_placed.send(sender=None, request=request, order=Order(), lines=[(product, 2, "59.90"), ("SKU-2", 1, None)], user=None)
    rows = list(Event.objects.order_by("product_key").values_list("event_type", "product_key", "value"))
    assert rows == [("purchase", "SKU-1", 2.0), ("purchase", "SKU-2", 1.0)]
    assert Event.objects.filter(context__order="77").count() == 2


def test_malformed_order_lines_are_dropped_as_invalid_without_raising(rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    request = _consenting_request(rf, product_url)
    lines = [
        (product, 1, Decimal("59.90")),  # the one good line
        (product, None, Decimal("59.90")), (product, "n/a", None), (product, 1, "n/a"), (product, True, None),
        (product, Decimal("NaN"), None), (product, 10**400, None), (product, -1, None), ("SKU-2",), None, 42,
    ]
    order_placed.send(sender=None, request=request, order=None, lines=lines)
    assert list(Event.objects.values_list("product_key", "value", "context__unit_price")) == [("SKU-1", 1.0, 59.9)]
    invalid = DroppedEventCount.objects.get(reason="invalid", event_type="purchase")
    assert invalid.count == len(lines) - 1


def test_order_lines_failing_part_way_keep_the_lines_read_before(rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    def lines():  # type: ignore[no-untyped-def]
        yield (product, 1, 10.0)
        yield ("SKU-2", 2, 5.0)
        raise TypeError("the shop's bug")

    class Lines:  # a numpy array or a pandas object: no truth value
        def __bool__(self) -> bool:
            raise ValueError("ambiguous")

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter([("SKU-3", 1, 2.0)])

    request = _consenting_request(rf, product_url)
    order_placed.send(sender=None, request=request, order=None, lines=lines())
    order_placed.send(sender=None, request=request, order=None, lines=Lines())
    assert sorted(Event.objects.values_list("product_key", flat=True)) == ["SKU-1", "SKU-2", "SKU-3"]


def test_order_lines_whose_reading_fails_in_any_way_never_raise(rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    """A queryset whose query fails as it is iterated; a line failing as it is unpacked."""
    from django.db.models.expressions import RawSQL

    from example_shop.shop.models import Product

    class Line:
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("a lazy line failed")

    request = _consenting_request(rf, product_url)
    broken = Product.objects.annotate(q=RawSQL("no_such_column", ())).values_list("sku", "q", "price")
    order_placed.send(sender=None, request=request, order=None, lines=broken)
    order_placed.send(sender=None, request=request, order=None, lines=[(product, 1, 1.0), Line()])
    assert list(Event.objects.values_list("product_key", flat=True)) == ["SKU-1"]
    assert DroppedEventCount.objects.get(reason="invalid", event_type="purchase").count == 2


@pytest.mark.parametrize("lines", [5, object()])
def test_order_lines_that_are_no_sequence_are_one_refused_purchase(rf, product_url, lines) -> None:  # type: ignore[no-untyped-def]
    order_placed.send(sender=None, request=_consenting_request(rf, product_url), order=None, lines=lines)
    assert not Event.objects.exists()
    assert DroppedEventCount.objects.get(reason="invalid", event_type="purchase").count == 1


def test_track_takes_a_key_given_as_a_str_subclass_and_64_context_items(rf, product_url) -> None:  # type: ignore[no-untyped-def]
    """A key from a template (SafeString); 64 items of the caller's, with reco_app's device
    class on top; a ``device`` of the caller's is replaced by it."""
    from django.utils.safestring import mark_safe

    request = _consenting_request(rf, product_url)
    assert track(request, "add_to_cart", mark_safe("SKU-1")) is not None
    stored = track(request, "search", **{f"k{i}": i for i in range(64)})
    assert stored is not None and len(stored.context) == 65 and stored.context["device"]
    stored = track(request, "search", device="fridge")
    assert stored is not None and stored.context["device"] != "fridge"
    assert Event.objects.count() == 3 and Event.objects.filter(product_key="SKU-1").exists()


def test_an_order_counts_its_line_totals_as_spend(rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    CatalogItem.objects.create(product_key="SKU-2", price=4.0)
    order_placed.send(sender=None, request=_consenting_request(rf, product_url), order=None, lines=[(product, 3, Decimal("10.00")), ("SKU-2", 2, None)])
    assert build_profile(load_history()).spend.tolist() == [3 * 10.0 + 2 * 4.0]  # the order's price, not the catalog's 59.90


def test_login_merges_consented_history_once(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    consenting.get(product_url)
    visitor = Event.objects.first().visitor_id
    user = get_user_model().objects.create_user("bob", password="pw-123456")
    assert consenting.post("/accounts/login/", {"username": "bob", "password": "pw-123456"}).status_code == 302
    assert set(Event.objects.values_list("subject", flat=True)) == {customer_key(user)}
    consenting.logout()
    consenting.post("/accounts/login/", {"username": "bob", "password": "pw-123456"})  # again: no change
    assert Event.objects.count() == 2
    assert set(Event.objects.values_list("visitor_id", flat=True)) == {visitor}
    consenting.get(product_url)
    assert Event.objects.filter(subject=customer_key(user)).count() == 3


def test_login_without_consent_merges_nothing(client, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    Event.objects.create(subject="anon:abc", visitor_id="abc", event_type="product_view", product_key="X", timestamp="2026-01-01T00:00:00Z")
    client.cookies["reco_v"] = signed_visitor_cookie("abc")
    user = django_user_model.objects.create_user("cy", password="pw-123456")
    assert client.post("/accounts/login/", {"username": "cy", "password": "pw-123456"}).status_code == 302
    assert not Event.objects.filter(subject=customer_key(user)).exists()


def test_a_large_order_of_a_signed_in_shopper_goes_through_copy_intact(postgres_db, rf, product, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """60 lines: the COPY path (binary, typed by the table's own columns) keeps the user,
    the quantities and each line's context exactly as given."""
    from reco_app.tracking.service import track_many

    request = _consenting_request(rf, product_url)
    request.user = django_user_model.objects.create_user("big-order", password="x" * 12)
    lines = [("purchase", f"SKU-{i}", float(i % 4 + 1), {"order": "9", "unit_price": i / 4, "note": f"é\t'{i}\"\\N"}) for i in range(60)]
    stored = track_many(request, lines)
    assert len(stored) == 60
    rows = {e.product_key: (e.user_id, e.value, e.context) for e in Event.objects.all()}
    device = get_context(request).device
    assert rows == {key: (request.user.pk, value, {**ctx, "device": device}) for _, key, value, ctx in lines}


@pytest.fixture
def copies(monkeypatch):  # type: ignore[no-untyped-def]
    """The COPY statements psycopg 3 runs (recorded, then run as usual); None on psycopg2,
    where batches are written with bulk_create."""
    from reco_app.tracking import pg_copy

    if not pg_copy.copy_usable():
        return None
    import psycopg

    seen: list[str] = []
    real = psycopg.Cursor.copy

    def copy(self, statement, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(str(statement))
        return real(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)
    return seen


def test_a_large_order_is_stored_with_naive_datetimes_too(postgres_db, rf, product, product_url, settings, copies) -> None:  # type: ignore[no-untyped-def]
    """USE_TZ = False: naive datetimes go through text COPY, read in the connection's time zone."""
    from reco_app.tracking.service import track_many

    settings.USE_TZ = False
    request = _consenting_request(rf, product_url)
    before = timezone.now()
    assert timezone.is_naive(before)
    stored = track_many(request, [("purchase", f"SKU-{i}", 1.0, {"order": "8"}) for i in range(60)])
    assert len(stored) == 60
    stamps = list(Event.objects.values_list("timestamp", flat=True))
    assert len(stamps) == 60 and all(timezone.is_naive(t) and abs((t - before).total_seconds()) < 60 for t in stamps)
    assert copies is None or (len(copies) == 1 and "BINARY" not in copies[0])


def test_copy_follows_the_temporary_tables_columns_as_they_are(postgres_db, rf, product, product_url, django_user_model, copies) -> None:  # type: ignore[no-untyped-def]
    """The temporary table a batch is copied into is made from the event table as it was
    then (a migration since, a rolled-back transaction taking the table with it): the COPY
    writes the columns the table has, binary where it can (a bigint user key), text where it
    cannot (char(n))."""
    from django.db import connection, transaction

    from reco_app.tracking.service import track_many

    request = _consenting_request(rf, product_url)
    request.user = django_user_model.objects.create_user("typed", password="x" * 12)

    def order(n: int) -> None:
        assert len(track_many(request, [("purchase", f"SKU-{n}-{i}", 2.0, {"order": str(n)}) for i in range(60)])) == 60

    def sql(*statements: str) -> None:
        with connection.cursor() as cursor:
            for statement in ("SET CONSTRAINTS ALL IMMEDIATE", *statements):  # (no ALTER with checks pending)
                cursor.execute(statement)

    sql("DROP TABLE IF EXISTS pg_temp.reco_event_incoming_n")
    with pytest.raises(RuntimeError), transaction.atomic():
        order(0)  # makes the temporary table (user_id integer) ...
        raise RuntimeError  # ... and takes it away again
    sql("ALTER TABLE reco_app_event ALTER COLUMN user_id TYPE bigint")  # (undone with the test's transaction)
    order(1)  # a new temporary table, user_id bigint
    sql("ALTER TABLE reco_app_event ALTER COLUMN visitor_id TYPE char(64)", "DROP TABLE IF EXISTS pg_temp.reco_event_incoming_n")
    order(2)  # char(64) has no binary writer: text COPY
    assert copies is None or ["BINARY" in statement for statement in copies] == [True, True, False]
    rows = Event.objects.filter(event_type="purchase").values_list("context__order", "user_id", "value")
    assert sorted(set(rows)) == [(str(n), request.user.pk, 2.0) for n in (1, 2)]
    assert Event.objects.filter(event_type="purchase").count() == 120


@pytest.mark.django_db(transaction=True)
def test_copy_works_where_django_binds_on_the_server_and_prepares(postgres_db, rf, product, product_url) -> None:  # type: ignore[no-untyped-def]
    """OPTIONS server_side_binding + prepare_threshold: every statement of a batch (the
    temporary table, its columns, the COPY, the INSERT) may be prepared, so each is one."""
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    from reco_app.tracking.service import track_many

    if not is_psycopg3:
        pytest.skip("server-side binding is psycopg 3's")
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    options.update(server_side_binding=True, prepare_threshold=0)
    connection.close()
    try:
        request = _consenting_request(rf, product_url)
        for n in range(3):
            assert len(track_many(request, [("purchase", f"SKU-{n}-{i}", 1.0, {"order": str(n)}) for i in range(60)])) == 60
    finally:
        options.clear()
        options.update(saved)
        connection.close()
    assert Event.objects.count() == 180


@pytest.mark.django_db(transaction=True)
def test_the_temporary_table_is_emptied_by_the_commit_or_before_the_next_batch(postgres_db) -> None:  # type: ignore[no-untyped-def]
    """A batch in a transaction of its own leaves emptying the temporary table to its commit
    (ON COMMIT DELETE ROWS, no TRUNCATE). Inside a caller's transaction the table is emptied
    after each batch: an event erased between two batches stays erased."""
    import uuid

    from django.db import connection, transaction

    from reco_app.tracking import pg_copy
    from reco_app.tracking.service import store

    if not pg_copy.copy_usable():
        pytest.skip("COPY is psycopg 3's")
    ids = [uuid.uuid4() for _ in range(210)]
    statements: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    def rows(part: range) -> list[Event]:
        return [Event(event_id=ids[i], subject="anon:v", visitor_id="v", event_type="product_view", product_key=f"SKU-{i}",
                      context={"i": i}, timestamp=timezone.now(), source="api") for i in part]

    with connection.execute_wrapper(record):
        first = store(rows(range(60)))
        second = store(rows(range(30, 90)))  # 30 sent again, 30 new
    assert not [s for s in statements if "TRUNCATE" in s]
    assert len(first.stored) == 60 and sorted(second.duplicates) == sorted(str(ids[i]) for i in range(30, 60))
    stored = dict(Event.objects.filter(event_id__in=ids[60:90]).values_list("product_key", "id"))
    assert {e.product_key: e.pk for e in second.stored} == stored and len(stored) == 30

    statements.clear()
    with connection.execute_wrapper(record), transaction.atomic():
        assert len(store(rows(range(90, 150))).stored) == 60
        Event.objects.filter(event_id__in=ids[90:150]).delete()  # erased in the same transaction
        fourth = store(rows(range(150, 210)))
    assert len([s for s in statements if "TRUNCATE" in s]) == 2
    assert Event.objects.filter(event_id__in=ids[90:150]).count() == 0
    assert {e.product_key: e.pk for e in fourth.stored} == dict(Event.objects.filter(event_id__in=ids[150:]).values_list("product_key", "id"))
    assert Event.objects.count() == 150


@pytest.mark.parametrize("event_type", [None, 5, "\ud800", "\x00", "x" * 40], ids=["None", "int", "surrogate", "NUL", "long"])
@pytest.mark.parametrize("consent", [False, True], ids=["no consent", "consent"])
def test_track_never_raises_for_a_bad_event_type(rf, product_url, settings, event_type, consent) -> None:  # type: ignore[no-untyped-def]
    """Shop code passes whatever it has: the event is dropped and counted, under its first 32
    characters or "?" where no column could hold it."""
    from django.contrib.auth.models import AnonymousUser

    settings.RECO_APP = {**settings.RECO_APP, "DROPPED_COUNT_FLUSH_SECONDS": 0}
    request = _consenting_request(rf, product_url) if consent else rf.get(product_url)
    request.user = AnonymousUser()
    assert track(request, event_type) is None
    label = "x" * 32 if event_type == "x" * 40 else "?"
    reason = "invalid" if consent else "no_consent"
    assert list(DroppedEventCount.objects.values_list("reason", "event_type", "count")) == [(reason, label, 1)]
    assert not Event.objects.exists()


def test_a_count_the_database_refuses_does_not_fail_the_request_that_flushes(postgres_db, caplog) -> None:  # type: ignore[no-untyped-def]
    """Counts are buffered and written by whichever request comes next: one the database
    refuses is logged and left out, and the others are still written."""
    from reco_app.tracking import dropped

    day = timezone.now().date()
    dropped._pending[(day, "no_consent", "y" * 40)] += 1  # longer than the column: PostgreSQL refuses it
    dropped.count_dropped("gpc", ["product_view"])
    dropped.flush_dropped()
    assert list(DroppedEventCount.objects.values_list("reason", "event_type", "count")) == [("gpc", "product_view", 1)]
    assert "could not write 1 dropped-event counts" in caplog.text
    assert not dropped._pending


def _rows(n: int, **overrides) -> list[Event]:  # type: ignore[no-untyped-def]
    import uuid

    return [Event(**{"event_id": uuid.uuid4(), "subject": "anon:v", "visitor_id": "v", "event_type": "product_view",
                     "product_key": f"SKU-{i}", "context": {}, "timestamp": timezone.now(), "source": "api", **overrides})
            for i in range(n)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [1, 2, 20, 60])
def test_events_are_stored_with_autocommit_off(postgres_db, size) -> None:  # type: ignore[no-untyped-def]
    """A connection managed by hand: the events are written in its transaction and stay
    once it commits (the work after the commit cannot be registered outside a block)."""
    from django.db import transaction

    from reco_app.tracking.service import store

    transaction.set_autocommit(False)
    try:
        assert len(store(_rows(size)).stored) == size
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert Event.objects.count() == size


@pytest.mark.parametrize("size", [1, 3])
def test_a_failed_write_leaves_the_callers_transaction_usable(postgres_db, size) -> None:  # type: ignore[no-untyped-def]
    from django.db import DataError, transaction

    from reco_app.tracking.service import store

    with transaction.atomic():
        with pytest.raises(DataError):
            store(_rows(size, product_key="x" * 500))  # longer than the column
        assert Event.objects.count() == 0  # the transaction still answers


def test_counts_are_kept_for_later_when_the_flushing_transaction_is_broken(postgres_db) -> None:  # type: ignore[no-untyped-def]
    from django.db import DatabaseError, connection, transaction

    from reco_app.tracking import dropped

    with transaction.atomic():
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # caught by the caller: the transaction is aborted
        dropped.count_dropped("bot", ["product_view"])
        dropped.flush_dropped()
        assert dropped._pending  # not lost
        transaction.set_rollback(True)
    dropped.flush_dropped()
    assert list(DroppedEventCount.objects.values_list("reason", "event_type", "count")) == [("bot", "product_view", 1)]


@pytest.mark.django_db(transaction=True)
def test_counts_are_kept_for_later_when_the_connection_is_gone(postgres_db, settings) -> None:  # type: ignore[no-untyped-def]
    """psycopg2 answers a closed connection with InterfaceError, psycopg 3 with
    OperationalError: either way the refusing visitor's page does not fail, and the counts
    are written once Django has a connection again."""
    from django.db import connection

    from reco_app.tracking import dropped

    settings.RECO_APP = {**settings.RECO_APP, "DROPPED_COUNT_FLUSH_SECONDS": 0}
    connection.ensure_connection()
    connection.connection.close()  # the server went away under the open connection
    dropped.count_dropped("bot", ["product_view"])
    dropped.count_dropped("bot", ["product_view"])
    assert sum(dropped._pending.values()) == 2
    connection.close()  # (Django closes an unusable connection at the end of the request)
    dropped.flush_dropped()
    assert list(DroppedEventCount.objects.values_list("reason", "event_type", "count")) == [("bot", "product_view", 2)]
