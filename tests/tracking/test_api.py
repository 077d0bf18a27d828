from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from example_shop.settings import RECO_APP
from reco_app.models import DroppedEventCount, Event

pytestmark = pytest.mark.django_db
URL = "/reco/api/events/"


@pytest.fixture
def api(db, django_user_model) -> Client:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("feed", password="pw-123456")
    token = Token.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def event(**overrides: object) -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "event_type": "purchase", "product": "SKU-1", "value": 1,
            "customer": "1042", "consent": "granted", **overrides}


def post(client: Client, body: object, **extra: object):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **extra)


def test_token_required(client) -> None:  # type: ignore[no-untyped-def]
    assert post(client, {"events": [event()]}).status_code == 401
    assert Event.objects.count() == 0


def test_replaying_a_batch_stores_nothing_twice(api) -> None:  # type: ignore[no-untyped-def]
    batch = {"events": [event(), event(product="SKU-2", customer=None, visitor_id="v1")]}
    first = post(api, batch)
    assert first.status_code == 201 and first.json()["stored"] == 2
    second = post(api, batch)
    assert second.status_code == 201 and second.json() == {"stored": 0, "duplicates": 2, "dropped": 0, "rejected": []}
    assert sorted(Event.objects.values_list("subject", flat=True)) == ["1042", "anon:v1"]


def test_replaying_a_single_event_is_a_no_op(api) -> None:  # type: ignore[no-untyped-def]
    batch = {"events": [event()]}
    assert post(api, batch).json()["stored"] == 1
    assert post(api, batch).json() == {"stored": 0, "duplicates": 1, "dropped": 0, "rejected": []}
    assert Event.objects.count() == 1


def test_bad_events_are_reported_and_the_good_ones_stored(api) -> None:  # type: ignore[no-untyped-def]
    batch = {"events": [event(), event(event_type="teleport"), event(value="lots"), "nope", event(consent="denied")]}
    response = post(api, batch)
    assert response.status_code == 400
    body = response.json()
    assert body["stored"] == 1 and body["dropped"] == 1
    assert [(r["index"], sorted(r["errors"])) for r in body["rejected"]] == [
        (1, ["event_type"]), (2, ["value"]), (3, ["non_field_errors"])]
    assert Event.objects.count() == 1
    assert DroppedEventCount.objects.get(reason="consent_denied").count == 1


def test_a_purchase_needs_a_usable_quantity_and_unit_price(api) -> None:  # type: ignore[no-untyped-def]
    batch = {"events": [
        event(value=2, context={"unit_price": 19.9}),
        event(context={"unit_price": "19.90"}),  # a string: what would it be worth?
        event(context={"unit_price": -5}),
        event(value=-1),
        event(event_type="add_to_cart", value=-2),
        event(context={"unit_price": None, "order": "A-1"}),  # null: the catalog price counts
    ]}
    response = post(api, batch)
    assert response.status_code == 400
    body = response.json()
    assert body["stored"] == 2
    assert [(r["index"], sorted(r["errors"])) for r in body["rejected"]] == [
        (1, ["context"]), (2, ["context"]), (3, ["value"]), (4, ["value"])]
    assert "unit_price" in body["rejected"][0]["errors"]["context"]
    assert sorted(Event.objects.values_list("value", flat=True)) == [1.0, 2.0]


@override_settings(RECO_APP={**RECO_APP, "API_MAX_BYTES": 2000, "API_MAX_EVENTS": 3, "API_MAX_EVENT_BYTES": 600})
def test_oversize_is_413_before_anything_is_stored(api) -> None:  # type: ignore[no-untyped-def]
    assert post(api, {"events": [event() for _ in range(4)]}).status_code == 413
    assert post(api, {"events": [event(context={"x": "y" * 700})]}).status_code == 413
    huge = json.dumps({"events": [event(context={"x": "y" * 3000})]})
    assert post(api, huge).status_code == 413
    # a lying Content-Length cannot smuggle more than the limit past the reader
    lying = post(api, huge, CONTENT_LENGTH="100")
    assert lying.status_code == 400
    assert Event.objects.count() == 0


@override_settings(RECO_APP={**RECO_APP, "API_RATE": "2/minute"})
def test_rate_limit_answers_429_with_retry_after(api) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()
    codes = [post(api, {"events": [event()]}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    response = post(api, {"events": [event()]})
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_retry_after_a_lowered_rate_is_when_a_request_fits_again(api, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from reco_app.api.events import EventRateThrottle

    cache.clear()
    clock = [1000.0]
    monkeypatch.setattr(EventRateThrottle, "timer", lambda self: clock[0])
    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": "5/minute"}
    for at in (0, 10, 20, 30):
        clock[0] = 1000.0 + at
        assert post(api, {"events": [event()]}).status_code == 201
    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": "2/minute"}
    clock[0] = 1035.0
    refused = post(api, {"events": [event()]})
    assert refused.status_code == 429
    clock[0] += int(refused["Retry-After"])  # waiting as told is enough
    assert post(api, {"events": [event()]}).status_code == 201
    cache.clear()


def test_an_integer_too_long_for_python_rejects_its_event_not_the_batch(api) -> None:  # type: ignore[no-untyped-def]
    good = json.dumps(event())
    bad = json.dumps(event(value=0)).replace('"value": 0', '"value": ' + "1" * 4301)
    deep = json.dumps(event(context={})).replace('"context": {}', '"context": {"n": ' + "2" * 5000 + "}")
    response = api.post(URL, data=f'{{"events": [{good},{bad},{deep}]}}', content_type="application/json")
    assert response.status_code == 400
    assert [r["index"] for r in response.json()["rejected"]] == [1, 2]
    assert Event.objects.count() == 1


def test_a_lowered_rate_still_answers_429_with_retry_after(api, settings) -> None:  # type: ignore[no-untyped-def]
    """More requests on record than the new rate allows (it was lowered since): DRF's own
    wait says nothing, the answer must still say when to come back."""
    from django.core.cache import cache

    cache.clear()
    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": "5/minute"}
    assert [post(api, {"events": [event()]}).status_code for _ in range(4)] == [201] * 4
    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": "2/minute"}
    response = post(api, {"events": [event()]})
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
    cache.clear()


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b'{"events": [{"event_type": "purchase", "value": NaN}]}', b"[]", b'{"events": {}}', b"[" * 5000],
)
def test_malformed_bodies_are_400(api, body: bytes) -> None:  # type: ignore[no-untyped-def]
    response = post(api, body)
    assert response.status_code == 400 and "detail" in response.json()


def test_openapi_schema_documents_the_endpoint(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/reco/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    op = schema["paths"]["/reco/api/events/"]["post"]
    assert list(op["requestBody"]["content"]) == ["application/json"]  # the only body it reads
    assert {"201", "400", "401", "413", "429"} <= set(op["responses"])
    # a 400 is either the batch's per-event errors or a detail message (a malformed body)
    shapes = op["responses"]["400"]["content"]["application/json"]["schema"]
    refs = {s["$ref"].rsplit("/", 1)[-1] for s in schema["components"]["schemas"][shapes["$ref"].rsplit("/", 1)[-1]]["oneOf"]}
    assert refs == {"BatchOut", "Detail"}


def test_large_batches_replayed_on_postgresql_store_each_event_once(postgres_db, api) -> None:  # type: ignore[no-untyped-def]
    batch = [event(customer=f"c{i % 7}", context={"i": i}) for i in range(120)]
    first = post(api, {"events": batch[:80]})
    assert first.status_code == 201 and first.json()["stored"] == 80
    second = post(api, {"events": batch + batch[:5]})  # overlaps the first, repeats inside itself
    assert second.status_code == 201
    assert (second.json()["stored"], second.json()["duplicates"]) == (40, 85)
    assert Event.objects.count() == 120
    assert Event.objects.get(context__i=119).subject == "c0"


@pytest.mark.parametrize(("length", "code"), [("-1", 400), ("abc", 400), ("99999999999999999999", 413)])
def test_odd_content_lengths_are_4xx(api, length: str, code: int) -> None:  # type: ignore[no-untyped-def]
    assert post(api, {"events": [event()]}, CONTENT_LENGTH=length).status_code == code
    assert Event.objects.count() == 0


def test_event_sizes_count_utf8_bytes_not_ascii_escapes(api, rf) -> None:  # type: ignore[no-untyped-def]
    # 3,000 emoji: 12 KB of UTF-8, but 36 KB of "\ud83d\ude00" escapes - under the 32 KiB limit
    emoji = {"a": "😀" * 1500, "b": "😀" * 1500}
    response = post(api, {"events": [event(context=emoji), event()]})
    assert response.status_code == 201, response.content[:200]
    assert Event.objects.count() == 2
    # 36,000 bytes of "é" are over it, as before
    over = {f"k{i}": "é" * 2000 for i in range(9)}
    assert post(api, {"events": [event(context=over)]}).status_code == 413
    # track() and the beacon measure a context the same way
    from reco_app import track

    request = rf.get("/")
    request.COOKIES["cookie_consent"] = "personalisation=2026-01-01"
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert track(request, "search", **emoji) is not None
    assert track(request, "search", **over) is None
    assert Event.objects.count() == 3


def test_chunked_batches_are_read_within_the_limit_or_refused_with_411(api, settings) -> None:  # type: ignore[no-untyped-def]
    from django.core.handlers.wsgi import WSGIHandler

    from tests.helpers import ChunkedClient

    auth = api.defaults["HTTP_AUTHORIZATION"]
    chunked = ChunkedClient(WSGIHandler(), terminated=True, HTTP_AUTHORIZATION=auth)
    response = post(chunked, {"events": [event(), event(product="SKU-2")]})
    assert response.status_code == 201 and response.json()["stored"] == 2
    settings.RECO_APP = {**settings.RECO_APP, "API_MAX_BYTES": 1000}
    response = post(chunked, {"events": [event() for _ in range(10)]})  # no length to check first
    assert response.status_code == 413 and "larger than 1000 bytes" in response.json()["detail"]
    unterminated = ChunkedClient(WSGIHandler(), terminated=False, HTTP_AUTHORIZATION=auth)
    response = post(unterminated, {"events": [event()]})
    assert response.status_code == 411 and "Content-Length" in response.json()["detail"]
    assert Event.objects.count() == 2


def test_chunked_batches_under_gunicorn(postgres_db, transactional_db, tmp_path, django_user_model) -> None:  # type: ignore[no-untyped-def]
    import http.client
    import shutil
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.helpers import ROOT, service_env, stop_process

    token = Token.objects.create(user=django_user_model.objects.create_user("feed", password="pw-123456"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [gunicorn, "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "example_shop.wsgi:application"],
        env=service_env(tmp_path), cwd=ROOT,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        body = json.dumps({"events": [event(), event(product="SKU-2")]}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        # an iterable body without Content-Length: http.client sends it chunked
        conn.request("POST", URL, body=iter([body[:50], body[50:]]),
                     headers={"Authorization": f"Token {token.key}", "Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        conn.close()
        assert response.status == 201, answer
        assert json.loads(answer)["stored"] == 2 and Event.objects.count() == 2
    finally:
        stop_process(proc)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [2, 60], ids=["small batch", "COPY batch"])
def test_an_event_another_request_is_writing_is_a_duplicate_not_stored(postgres_db, django_user_model, settings, size) -> None:  # type: ignore[no-untyped-def]
    """A re-send racing the first send: the other request has written one of the events but
    not committed yet. This batch waits for it, and then must report that event as a
    duplicate (and announce only what it wrote), not as stored."""
    import threading
    import time

    from django.db import connection, transaction

    from reco_app.signals import event_stored
    from reco_app.tracking.service import to_row
    from reco_app.tracking.validation import validate

    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": None}
    token = Token.objects.create(user=django_user_model.objects.create_user("feeder", password="pw-123456"))
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    events = [event() for _ in range(size)]
    racing = events[-1]
    written = threading.Event()

    def other_request() -> None:
        try:
            with transaction.atomic():
                Event.objects.bulk_create([to_row(validate(racing, server=True)[0], source="api")])
                written.set()
                time.sleep(0.5)
        finally:
            connection.close()

    announced: list[object] = []
    event_stored.connect(lambda sender, events, **kw: announced.extend(events), weak=False, dispatch_uid="race")
    thread = threading.Thread(target=other_request)
    thread.start()
    try:
        assert written.wait(10)
        response = post(client, {"events": events})
    finally:
        thread.join()
        event_stored.disconnect(dispatch_uid="race")
    assert response.status_code == 201
    assert (response.json()["stored"], response.json()["duplicates"]) == (size - 1, 1)
    assert len(announced) == size - 1 and all(e.pk for e in announced)
    assert Event.objects.count() == size


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic_requests", [False, True], ids=["autocommit", "ATOMIC_REQUESTS"])
@pytest.mark.parametrize("pad", [0, 60], ids=["small batch", "COPY batch"])
def test_batches_sharing_events_in_different_orders_are_both_stored(postgres_db, django_user_model, settings, pad, atomic_requests) -> None:  # type: ignore[no-untyped-def]
    """Two re-sends of overlapping events, listed in different orders, while a third writer
    has one of them in flight: each batch ends up waiting for an event the other wrote and
    PostgreSQL ends one of them (a deadlock). That one is written again: both answer 201,
    every event is stored once."""
    import threading
    import time

    from django.db import connection, transaction

    from reco_app.tracking.service import to_row
    from reco_app.tracking.validation import validate

    settings.RECO_APP = {**settings.RECO_APP, "API_RATE": None}
    token = Token.objects.create(user=django_user_model.objects.create_user("feeder", password="pw-123456"))
    first, shared, last = event(), event(), event()
    bodies = [{"events": [event() for _ in range(pad)] + [first, shared, last]},
              {"events": [event() for _ in range(pad)] + [last, shared, first]}]
    held = threading.Event()
    answers: list[object] = [None, None]

    def third_writer() -> None:
        try:
            with transaction.atomic():
                Event.objects.bulk_create([to_row(validate(shared, server=True)[0], source="api")])
                held.set()
                time.sleep(1.0)
        finally:
            connection.close()

    def send(i: int) -> None:
        try:
            response = post(Client(HTTP_AUTHORIZATION=f"Token {token.key}", raise_request_exception=False), bodies[i])
            answers[i] = (response.status_code, response.json())
        finally:
            connection.close()

    from django.db import connections

    # (the view runs in autocommit whatever ATOMIC_REQUESTS says: the store is atomic itself)
    connections.settings["default"]["ATOMIC_REQUESTS"] = atomic_requests
    holder = threading.Thread(target=third_writer)
    holder.start()
    try:
        assert held.wait(10)
        senders = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for thread in senders:
            thread.start()
        for thread in [*senders, holder]:
            thread.join()
    finally:
        connections.settings["default"]["ATOMIC_REQUESTS"] = False
    assert [a[0] for a in answers] == [201, 201], answers  # type: ignore[index]
    assert Event.objects.count() == 2 * pad + 3
    for status, body in answers:  # type: ignore[misc]
        assert body["stored"] + body["duplicates"] == pad + 3
