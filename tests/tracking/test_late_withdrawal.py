"""A request under way when its shopper withdraws consent: it read the consent before the
withdrawal and stores its event after it (reco_app.consent.late)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reco_app.consent import late
from reco_app.models import Event
from reco_app.models.events import ConsentBasis
from reco_app.signals import event_stored
from reco_app.tracking.context import get_context
from reco_app.tracking.middleware import RecoMiddleware
from reco_app.tracking.service import track
from tests.segments.test_live_queue import _watching
from tests.tracking.conftest import accept

# real commits: the marks are read after the store's commit, as in a request
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def drain_published():  # type: ignore[no-untyped-def]
    """The live queue's drain task is published, not run eagerly (it would empty the queue)."""
    from celery.signals import before_task_publish

    with _watching(False, before_task_publish, lambda **kwargs: None):
        yield


class Tasks:
    """Where Celery tasks go: run eagerly (no worker: every store checks its rows) or
    published to a worker (anonymous browsers' late events are swept a minute later)."""

    def __init__(self, eager: bool) -> None:
        self.eager = eager
        self.sweeps: list[tuple[list[str], list[str]]] = []
        self.countdowns: list[float] = []

    def published(self, sender: str = "", body=None, headers=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if sender == "reco_app.forget_late":
            self.sweeps.append(tuple(body[0]))  # (protocol 2: args, kwargs, embed)
            eta = dt.datetime.fromisoformat(headers["eta"])
            self.countdowns.append((eta - timezone.now()).total_seconds())

    def settle(self) -> None:
        """The minute after the withdrawal passes: the worker runs the sweeps published."""
        from reco_app.consent.tasks import forget_late

        for subjects, visitor_ids in self.sweeps:
            forget_late(subjects, visitor_ids)
        self.sweeps.clear()


@pytest.fixture(params=["eager tasks", "a worker"])
def tasks(request):  # type: ignore[no-untyped-def]
    from celery.signals import before_task_publish

    found = Tasks(request.param == "eager tasks")
    with _watching(found.eager, before_task_publish, found.published):
        yield found


@pytest.fixture(params=["local memory", "redis"])
def any_cache(request):  # type: ignore[no-untyped-def]
    """The default cache of the fast run, and Redis, where the marks are read in the round
    trip after the store's commit."""
    if request.param == "redis":
        return request.getfixturevalue("redis_cache")
    return None


def under_way(rf, client: Client, path: str, user=None):  # type: ignore[no-untyped-def]
    """A request of ``client``'s browser that has read its consent (it may track) and has
    not stored its event yet."""
    request = rf.get(path)
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items() if morsel.value}
    request.user = user or AnonymousUser()
    ctx = get_context(request)
    assert ctx.may_track
    return request


def test_a_view_stored_after_an_anonymous_withdrawal_is_deleted(any_cache, tasks, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    request = under_way(rf, consenting, product_url)
    vid = get_context(request).visitor_id
    consenting.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert Event.objects.count() == 0

    track(request, "product_view", product)  # the page under way ends after the withdrawal

    tasks.settle()
    assert not Event.objects.filter(visitor_id=vid).exists()


def test_other_shoppers_events_of_the_same_moment_are_kept(any_cache, tasks, rf, client, product, product_url) -> None:  # type: ignore[no-untyped-def]
    leaving, staying = Client(), Client()
    for browser in (leaving, staying):
        accept(browser)
        browser.get(product_url)
    in_flight = [under_way(rf, browser, product_url) for browser in (leaving, staying)]
    leaving.post("/reco/consent/refuse/", {"withdraw": "1"})

    for request in in_flight:
        track(request, "add_to_cart", product, value=1)

    tasks.settle()
    kept = Event.objects.values_list("visitor_id", "event_type")
    staying_vid = get_context(in_flight[1]).visitor_id
    assert sorted(kept) == [(staying_vid, "add_to_cart"), (staying_vid, "product_view")]


def test_a_signed_in_shoppers_late_event_goes_too(any_cache, tasks, rf, client, django_user_model, product, product_url) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ana", password="pw-123456")
    accept(client)
    client.force_login(user)
    client.get(product_url)
    request = under_way(rf, client, product_url, user=user)
    client.post("/reco/consent/refuse/", {"withdraw": "1"})

    track(request, "product_view", product)

    tasks.settle()
    assert not Event.objects.exists()


def test_consenting_again_keeps_the_new_events(any_cache, tasks, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    old_cookie = consenting.cookies["reco_v"].value
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    # a response under way re-sets the old visitor cookie after the withdrawal removed it;
    # then the shopper changes their mind
    consenting.cookies["reco_v"] = old_cookie
    accept(consenting)

    consenting.get(product_url)

    tasks.settle()
    assert Event.objects.count() == 1


def test_a_late_event_in_a_server_batch_is_deleted_and_the_rest_stored(any_cache) -> None:  # type: ignore[no-untyped-def]
    late.mark(["1042"], [])  # customer 1042 withdrew while the batch was on its way
    events = [_purchase(customer) for customer in ("1042", "2000")]

    after = {**_purchase("1042"), "timestamp": timezone.now().isoformat()}  # (marked a moment ago)

    response = _api().post("/reco/api/events/", json.dumps({"events": [*events, after]}), content_type="application/json")

    assert response.status_code in (200, 201, 202, 207)
    stored = Event.objects.values_list("subject", "event_id")
    assert sorted(stored) == sorted([("2000", uuid.UUID(events[1]["event_id"])), ("1042", uuid.UUID(after["event_id"]))])


def test_a_late_event_is_anonymised_where_withdrawals_anonymise(any_cache, tasks, rf, consenting, product, product_url, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "WITHDRAWAL_ACTION": "anonymise"}
    consenting.get("/")  # (the visitor cookie)
    request = under_way(rf, consenting, product_url)
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    received = []
    event_stored.connect(lambda sender, events, **kw: received.extend(events), weak=False, dispatch_uid="late-test")
    try:
        track(request, "product_view", product)
    finally:
        event_stored.disconnect(dispatch_uid="late-test")

    tasks.settle()
    assert list(Event.objects.values_list("subject", "visitor_id", "consent", "product_key")) == [
        ("", "", ConsentBasis.ANONYMISED, "SKU-1")]
    if tasks.eager:  # (with a worker, the sweep erases what was derived from it)
        assert received == []  # its store derived nothing from it


def _api() -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(f"feed-{uuid.uuid4().hex[:6]}", password="pw-123456")
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def _purchase(customer: str) -> dict[str, object]:
    """A purchase a minute old: the API states consent itself, and the event's own time
    says whether it came before the customer's withdrawal."""
    at = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    return {"event_id": str(uuid.uuid4()), "event_type": "purchase", "product": "SKU-1", "value": 1,
            "customer": customer, "consent": "granted", "timestamp": at}


def test_a_late_event_beside_a_resent_one_is_deleted_too(any_cache) -> None:  # type: ignore[no-untyped-def]
    # (SQLite writes such a batch with ignore_conflicts: its rows come back without keys)
    api, first = _api(), _purchase("2000")
    api.post("/reco/api/events/", json.dumps({"events": [first]}), content_type="application/json")
    late.mark(["1042"], [])
    api.post("/reco/api/events/", json.dumps({"events": [first, _purchase("1042")]}), content_type="application/json")
    assert list(Event.objects.values_list("subject", flat=True)) == ["2000"]


def _signed_in_browser(user, product_url: str) -> Client:  # type: ignore[no-untyped-def]
    browser = Client()
    accept(browser)
    browser.force_login(user)
    browser.get(product_url)
    return browser


def test_another_devices_late_event_goes_even_when_the_shopper_consents_again_at_once(any_cache, tasks, rf, django_user_model, product, product_url) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ana", password="pw-123456")
    a, b = _signed_in_browser(user, product_url), _signed_in_browser(user, product_url)
    in_flight = under_way(rf, b, product_url, user=user)
    a.post("/reco/consent/refuse/", {"withdraw": "1"})
    accept(a)

    track(in_flight, "add_to_cart", product, value=1)

    tasks.settle()
    assert not Event.objects.exists()
    a.get(product_url)  # the shopper's new choice holds from now on
    assert Event.objects.count() == 1


def test_a_browser_that_keeps_its_own_consent_is_tracked_after_the_accounts_withdrawal(any_cache, tasks, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ana", password="pw-123456")
    a, b = _signed_in_browser(user, product_url), _signed_in_browser(user, product_url)
    kept = {name: morsel.value for name, morsel in b.cookies.items() if name != "sessionid"}
    b.logout()  # a shared computer: signed out, the browser keeps its consent and visitor id
    for name, value in kept.items():
        b.cookies[name] = value
    a.post("/reco/consent/refuse/", {"withdraw": "1"})

    b.get(product_url)
    b.get(product_url)

    tasks.settle()
    assert Event.objects.count() == 2


def test_a_product_page_rendering_while_its_shopper_withdraws_keeps_no_view(any_cache, tasks, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    """Nothing reads the consent before the withdrawal: the middleware's product view reads
    it when the page has rendered, and acts on what the request brought when it began."""
    consenting.get("/")  # (the visitor cookie)
    request = rf.get(product_url)
    request.COOKIES = {name: morsel.value for name, morsel in consenting.cookies.items() if morsel.value}
    request.user = AnonymousUser()
    request.resolver_match = resolve(product_url)

    def page(req):  # type: ignore[no-untyped-def]  # the shopper withdraws in another tab meanwhile
        consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
        return HttpResponse("the product page")

    RecoMiddleware(page)(request)

    tasks.settle()
    assert not Event.objects.exists()


def test_a_server_event_without_a_time_sent_right_after_a_withdrawal_is_removed(any_cache) -> None:  # type: ignore[no-untyped-def]
    late.mark(["1042"], [])
    event = {k: v for k, v in _purchase("1042").items() if k != "timestamp"}
    _api().post("/reco/api/events/", json.dumps({"events": [event]}), content_type="application/json")
    assert not Event.objects.exists()


def test_marks_are_read_with_django_redis_other_clients(redis_cache, settings, rf, client, django_user_model, product, product_url) -> None:  # type: ignore[no-untyped-def]
    import os

    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": os.environ["REDIS_URL"],
                                   "OPTIONS": {"CLIENT_CLASS": "django_redis.client.HerdClient"}}}
    user = django_user_model.objects.create_user("ana", password="pw-123456")
    browser = _signed_in_browser(user, product_url)
    request = under_way(rf, browser, product_url, user=user)
    browser.post("/reco/consent/refuse/", {"withdraw": "1"})

    track(request, "product_view", product)

    assert not Event.objects.exists()


def test_a_late_event_leaves_the_live_queue_only_when_nothing_of_its_shopper_is_kept(redis_cache, drain_published, settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.segments.live import queue

    settings.RECO_APP = {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": True}
    late.mark(["1042", "1043"], [])
    now = timezone.now().isoformat()
    events = [_purchase("1042"), _purchase("1043"), {**_purchase("1043"), "timestamp": now}]  # (1043 bought again since)
    _api().post("/reco/api/events/", json.dumps({"events": events}), content_type="application/json")

    assert list(Event.objects.values_list("subject", flat=True)) == ["1043"]
    assert set(queue.take()) == {"1043"}


@pytest.mark.parametrize("subject", ["c 1042", "c\u00a01042", "anon:" + "f" * 250, "kunde-ünï"])
def test_marks_of_keys_the_cache_hashes_or_keeps_are_found(any_cache, subject: str) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent.late import CONSENT_READ_AT, LateCheck

    row = Event(subject=subject, visitor_id="", timestamp=timezone.now())
    setattr(row, CONSENT_READ_AT, 0.0)
    late.mark([subject], [])
    assert LateCheck([row]).late() == [row]


def test_a_beacon_sent_as_the_page_closes_is_removed(any_cache, tasks, consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    """reco.js sends its last beacon when the page is left, here for the withdrawal's own
    POST: it may arrive after the withdrawal, with the cookies the browser had before."""
    consenting.get(product_url)
    stale = {name: morsel.value for name, morsel in consenting.cookies.items()}
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    beacon = Client()
    for name, value in stale.items():
        beacon.cookies[name] = value
    body = json.dumps({"csrf": stale["csrftoken"], "events": [{"event_type": "dwell", "value": 30}]})
    response = beacon.generic("POST", "/reco/t/", body, content_type="text/plain", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 204
    tasks.settle()
    assert not Event.objects.exists()


def test_with_a_worker_anonymous_stores_read_no_marks_and_the_sweep_runs_a_minute_later(any_cache, tasks, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent.late import LateCheck

    consenting.get(product_url)
    request = under_way(rf, consenting, product_url)
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    row = track(request, "product_view", product)

    assert row is not None
    if tasks.eager:  # the store checked the row itself
        assert LateCheck([row]).by_key and not tasks.sweeps
    else:  # left to the sweep: the store makes no round trip for it
        assert LateCheck([row]).by_key == {}
        assert Event.objects.filter(pk=row.pk).exists() and len(tasks.sweeps) == 2
        # a minute later, and once the marks expire (for requests that ran longer)
        assert 55 < tasks.countdowns[0] <= 60 and 295 < tasks.countdowns[1] <= 300
    tasks.settle()
    assert not Event.objects.exists()


def test_anonymous_events_of_the_api_are_checked_by_their_store(any_cache, tasks, consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    """The API may deliver a browser's events any time (after the sweeps too): its store
    checks them, by their own time."""
    consenting.get(product_url)
    vid = consenting.cookies["reco_v"].value.split(":")[0]
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    tasks.settle()
    before = {**_purchase("x"), "customer": None, "visitor_id": vid}
    after = {**before, "event_id": str(uuid.uuid4()), "timestamp": timezone.now().isoformat()}

    _api().post("/reco/api/events/", json.dumps({"events": [before, after]}), content_type="application/json")

    # (a forgotten visitor id: late whatever the time)
    assert not Event.objects.filter(visitor_id=vid).exists()


def test_without_a_broker_the_stores_check_anonymous_events_themselves(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from celery import Celery, current_app

    from reco_app.consent.late import sweeps

    assert sweeps() == (not current_app.conf.task_always_eager)  # (tests: eager, or a broker)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = current_app._get_current_object()
    Celery(set_as_current=True)  # no Celery set up: tasks are not eager, and go nowhere
    try:
        assert not sweeps()
    finally:
        previous.set_current()


def test_a_failed_withdrawal_leaves_no_marks(any_cache, rf, consenting, product, product_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reco_app import privacy

    consenting.get(product_url)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a holder failed")

    monkeypatch.setattr(privacy, "erase_subjects", broken)
    with pytest.raises(RuntimeError):
        consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    monkeypatch.undo()
    request = under_way(rf, consenting, product_url)  # consent still stands

    track(request, "product_view", product)

    assert Event.objects.count() == 2


def test_a_failed_second_withdrawal_keeps_the_marks_of_the_first(any_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reco_app import privacy
    from reco_app.consent.service import forget

    forget(["anon:" + "a" * 32], ["a" * 32])  # the first click on "withdraw"

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a holder failed")

    monkeypatch.setattr(privacy, "erase_subjects", broken)
    with pytest.raises(RuntimeError):
        forget(["anon:" + "a" * 32, "anon:" + "b" * 32], ["a" * 32, "b" * 32])  # a second one fails

    assert late.visitor_marked("a" * 32) and not late.visitor_marked("b" * 32)


def test_signing_out_of_a_browser_tracked_for_the_account_withdraws_nothing(tasks, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """The browser had no decision of its own (the account consented elsewhere): signing out
    ends its tracking (its visitor cookie goes) and forgets nothing, so no sweep; and should
    that cookie come back (a response under way), whoever accepts there signed out gets an
    id of their own, not the account's."""
    laptop = Client()
    django_user_model.objects.create_user("amy", password="pw-123456")
    laptop.post("/accounts/login/", {"username": "amy", "password": "pw-123456"})
    accept(laptop)  # a grant on the account
    phone = Client(HTTP_SEC_GPC="1")  # (a privacy signal changes nothing: the account consented)
    phone.post("/accounts/login/", {"username": "amy", "password": "pw-123456"})
    phone.get(product_url)
    visitor = Event.objects.get().visitor_id
    phone.post("/accounts/logout/")
    phone.get(product_url)
    assert not phone.cookies["reco_v"].value and tasks.sweeps == []
    assert list(Event.objects.values_list("subject", flat=True)) == ["amy"]
    phone.cookies["reco_v"] = _flagged(visitor)  # back: a response under way set it again
    phone.defaults.pop("HTTP_SEC_GPC")
    accept(phone)  # someone else, signed out, on the same device
    phone.get(product_url)
    assert Event.objects.filter(subject__startswith="anon:").exclude(visitor_id=visitor).count() == 1
    assert not Event.objects.filter(subject__startswith="anon:", visitor_id=visitor).exists()


def _flagged(visitor: str, account: str = "auth.User:1") -> str:
    """The visitor cookie of a browser tracked for an account's consent."""
    import time

    from reco_app.tracking.context import account_tag, cookie_signer

    return cookie_signer().sign(f"{visitor}:s-old:{int(time.time())}:{account_tag(account)}")


def test_a_signed_in_devices_event_stored_after_the_accounts_erasure_goes_with_its_next_request(rf, django_user_model, product, product_url) -> None:  # type: ignore[no-untyped-def]
    """The account consented on the laptop; the phone, tracked for it, has a page under way
    when the shopper erases their data on the laptop: the phone's next request, signed in
    to an account without consent now, forgets what the phone sent."""
    user = django_user_model.objects.create_user("eve", password="pw-123456")
    laptop, phone = Client(), Client()
    for client in (laptop, phone):
        client.post("/accounts/login/", {"username": "eve", "password": "pw-123456"})
    accept(laptop)
    phone.get(product_url)
    visitor = Event.objects.get().visitor_id
    request = under_way(rf, phone, product_url, user=user)
    laptop.post("/reco/privacy/erase/", {"confirm": "1"})
    track(request, "product_view", product)  # stored after the erasure
    phone.get(product_url)
    assert not Event.objects.filter(visitor_id=visitor).exists()


def test_the_sweep_answer_follows_the_celery_configuration_it_is_remembered_for(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``sweeps()`` is remembered (every anonymous beacon asks), yet follows every change of
    what it depends on: tasks made eager or not, the broker set or removed, in the app's
    configuration or the environment."""
    from celery import current_app

    from reco_app.consent.late import sweeps

    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    try:
        conf.task_always_eager, conf.broker_url = False, "redis://127.0.0.1:6399/1"
        assert sweeps() and sweeps()
        conf.task_always_eager = True
        assert not sweeps()
        conf.task_always_eager, conf.broker_url = False, None
        assert not sweeps()
        monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6399/2")  # (Celery reads it first)
        assert sweeps()
        monkeypatch.delenv("CELERY_BROKER_URL")
        conf.broker_url = ["redis://127.0.0.1:6399/1", "redis://127.0.0.1:6399/3"]  # failover: not remembered
        assert sweeps()
    finally:
        conf.task_always_eager, conf.broker_url = saved
