"""Hostile payloads against the batch API: never a 500, never half-stored."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reco_app.models import Event
from tests.tracking.test_api import URL, api  # noqa: F401  (fixture)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
hostile_text = st.sampled_from(["", " SKU", "\x00", "\ud800", "x" * 70, "anon:x", "SKU-1", "1042", "😀"])
field = st.one_of(json_value, hostile_text)
event = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.one_of(st.uuids().map(str), field),
        "event_type": st.one_of(st.sampled_from(["purchase", "product_view", "rating", "dwell", "search"]), field),
        "product": st.one_of(hostile_text, field),
        "value": st.one_of(st.floats(), st.integers(min_value=-(10**30), max_value=10**30), field),
        "timestamp": st.one_of(st.sampled_from(["2026-11-26T08:00:00Z", "1999-01-01", "3000-01-01T00:00:00", "x"]), field),
        "customer": st.one_of(hostile_text, field),
        "visitor_id": st.one_of(hostile_text, field),
        "consent": st.one_of(st.sampled_from(["granted", "denied", "opt_out", "nope"]), field),
        "context": st.one_of(st.dictionaries(st.text(max_size=8), json_value, max_size=5), field),
        "session_id": field,
        "extra": field,
    },
)


@pytest.fixture
def unthrottled(settings):  # type: ignore[no-untyped-def]
    from example_shop.settings import RECO_APP

    settings.RECO_APP = {**RECO_APP, "API_RATE": None}


body = st.one_of(st.fixed_dictionaries({"events": st.lists(st.one_of(event, field), max_size=6)}), json_value)


def _encode(payload: object) -> bytes:
    # allow_nan: JSON clients may still send NaN/Infinity tokens; the server must refuse them
    return json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=body)
def test_fuzzed_batches_never_500_and_are_stored_exactly_as_reported(api, unthrottled, payload) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    before = Event.objects.count()
    response = api.post(URL, data=_encode(payload), content_type="application/json")
    assert response.status_code in (201, 400, 413), response.content[:300]
    body = response.json()
    stored = body.get("stored", 0)
    assert Event.objects.count() - before == stored
    if response.status_code == 201:
        assert not body["rejected"]


def test_hostile_strings_on_postgresql(postgres_db, api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    good = {"event_id": str(uuid.uuid4()), "event_type": "purchase", "product": "SKU-1", "customer": "7", "consent": "granted"}
    batch = [good] + [
        {**good, "event_id": str(uuid.uuid4()), "context": {"q": bad}} for bad in ("\x00", "\ud800")
    ] + [{**good, "event_id": str(uuid.uuid4()), "product": "\x00"}]
    response = api.post(URL, data=_encode({"events": batch}), content_type="application/json")
    assert response.status_code == 400 and response.json()["stored"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2, 3]
    assert Event.objects.count() == 1


def test_copy_path_round_trips_awkward_text(postgres_db, api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    awkward = "tab\there\nnew line \\N back\\slash 'quote\" 😀"
    batch = [{"event_id": str(uuid.uuid4()), "event_type": "search", "customer": "7", "consent": "granted",
              "session_id": "s", "context": {"q": awkward, "n": i}} for i in range(60)]
    response = api.post(URL, data=_encode({"events": batch}), content_type="application/json")
    assert response.status_code == 201 and response.json()["stored"] == 60
    assert set(Event.objects.values_list("context__q", flat=True)) == {awkward}


def test_single_event_path_round_trips_awkward_text(postgres_db, api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    awkward = "tab\there\nnew line \\N back\\slash 'quote\" 😀"
    one = {"event_id": str(uuid.uuid4()), "event_type": "rating", "product": "SKU-1", "value": 4.5, "customer": "7",
           "consent": "granted", "session_id": "s", "context": {"q": awkward, "n": [1, 2.5, None, True]}}
    assert api.post(URL, data=_encode({"events": [one]}), content_type="application/json").json()["stored"] == 1
    assert api.post(URL, data=_encode({"events": [one]}), content_type="application/json").json()["duplicates"] == 1
    row = Event.objects.get()
    assert (row.context, row.value, row.subject, str(row.event_id)) == ({"q": awkward, "n": [1, 2.5, None, True]}, 4.5, "7", one["event_id"])


def test_single_event_insert_becomes_a_prepared_statement(postgres_db, api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The example shop sets OPTIONS["prepare_threshold"]: once a connection has run the
    INSERT five times, PostgreSQL runs it prepared (no parsing or planning), and the events
    it stores are the same."""
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        pytest.skip("psycopg2 sends no prepared statements")
    assert connection.settings_dict["OPTIONS"].get("prepare_threshold") == 5

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO reco_app_event %'")
            return int(cursor.fetchone()[0])

    sent = []
    for i in range(8):  # (psycopg prepares per parameter types: a value or none)
        one = {"event_id": str(uuid.uuid4()), "event_type": "product_view", "product": f"SKU-{i}", "value": None if i < 7 else 4.5,
               "customer": "7", "consent": "granted", "context": {"q": f"é'{i}", "n": [i, None]}}
        assert api.post(URL, data=_encode({"events": [one]}), content_type="application/json").status_code == 201
        sent.append(one)
        if i == 0:
            assert prepared() == 0
    assert prepared() == 1
    # a re-send is still a duplicate, not a second row
    assert api.post(URL, data=_encode({"events": [sent[-1]]}), content_type="application/json").json()["duplicates"] == 1
    rows = {str(e.event_id): (e.product_key, e.value, e.context) for e in Event.objects.all()}
    assert rows == {o["event_id"]: (o["product"], o["value"], o["context"]) for o in sent}
    # batches below the COPY threshold are never prepared: every size would be a statement
    # of its own, kept in the server's memory for the connection's life
    for size in (2, 3) * 6:  # (each size more often than the threshold)
        batch = [{**sent[0], "event_id": str(uuid.uuid4())} for _ in range(size)]
        assert api.post(URL, data=_encode({"events": batch}), content_type="application/json").json()["stored"] == size
    assert prepared() == 1
    assert connection.connection.prepare_threshold == 5


beacon_payload = st.one_of(st.fixed_dictionaries({"csrf": st.just("a" * 32), "events": st.lists(st.one_of(event, field), max_size=6)}), json_value)


def _fuzz_beacon(browser, payload) -> None:  # type: ignore[no-untyped-def]
    browser.cookies["csrftoken"] = "a" * 32
    before = Event.objects.count()
    response = browser.generic("POST", "/reco/t/", _encode(payload), content_type="text/plain", HTTP_ORIGIN="http://testserver")
    assert response.status_code in (204, 400, 403, 413), response.content[:300]
    if response.status_code in (403, 413) or (response.status_code == 400 and "detail" in response.json()):
        assert Event.objects.count() == before  # refused as a whole: nothing stored
    elif response.status_code == 400:
        assert Event.objects.count() - before == response.json()["stored"]


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=beacon_payload)
def test_fuzzed_beacons_never_500(consenting, payload) -> None:  # type: ignore[no-untyped-def]
    _fuzz_beacon(consenting, payload)


@pytest.fixture
def consenting_fast(db):  # type: ignore[no-untyped-def]
    from tests.tracking.test_beacon import FastPathClient, _accept

    browser = FastPathClient()
    browser.get("/")  # a real stack checks the CSRF token of the consent form
    _accept(browser)
    return browser


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=beacon_payload)
def test_fuzzed_beacons_never_500_on_the_wsgi_fast_path(consenting_fast, payload) -> None:  # type: ignore[no-untyped-def]
    _fuzz_beacon(consenting_fast, payload)


# any code point, lone surrogates often (JSON "\udc80" decodes to one; st.characters() has none)
field_name = st.lists(st.one_of(st.characters(categories=["Cs"]), st.characters(), st.sampled_from("ab_")), min_size=1, max_size=6).map("".join)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(field_name, min_size=1, max_size=3, unique=True))
def test_any_field_name_is_answered_and_the_batch_stored_once(api, unthrottled, names) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    good = {"event_type": "product_view", "product": "SKU-1", "customer": "1042", "consent": "granted"}
    odd = {**good, **dict.fromkeys(names, "x")}
    payload = {"events": [{**good, "event_id": str(uuid.uuid4())}, odd]}
    before = Event.objects.count()
    response = api.post(URL, data=_encode(payload), content_type="application/json")
    assert response.status_code in (201, 400), response.content[:300]
    body = json.loads(response.content.decode("utf-8"))  # strictly UTF-8
    assert Event.objects.count() - before == body["stored"]
    if response.status_code == 400:  # an unknown name (or a known one with a bad value)
        assert body["stored"] == 1 and body["rejected"][0]["index"] == 1
    assert api.post(URL, data=_encode({"events": payload["events"][:1]}), content_type="application/json").json()["duplicates"] == 1


def test_a_lone_surrogate_field_name_is_a_400_that_names_it_escaped(api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    event = {"event_id": str(uuid.uuid4()), "event_type": "product_view", "product": "SKU-1", "customer": "1042", "consent": "granted"}
    payload = {"events": [event, {**event, "event_id": str(uuid.uuid4()), "\udc80": 1}]}
    response = api.post(URL, data=_encode(payload), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["rejected"] == [{"index": 1, "errors": {"non_field_errors": "Unknown fields: \\udc80."}}]
    assert Event.objects.count() == 1
