"""A request under way when its shopper withdraws consent: it read the consent before the
withdrawal and stores its event after it (reco_app.consent.late)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from rest_framework.authtoken.models import Token

from reco_app.consent import late
from reco_app.models import Event
from reco_app.models.events import ConsentBasis
from reco_app.signals import event_stored
from reco_app.tracking.context import get_context
from reco_app.tracking.service import track
from tests.tracking.conftest import accept

# real commits: the marks are read after the store's commit, as in a request
pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_view_stored_after_an_anonymous_withdrawal_is_deleted(any_cache, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    request = under_way(rf, consenting, product_url)
    vid = get_context(request).visitor_id
    consenting.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert Event.objects.count() == 0

    track(request, "product_view", product)  # the page under way ends after the withdrawal

    assert not Event.objects.filter(visitor_id=vid).exists()


def test_other_shoppers_events_of_the_same_moment_are_kept(any_cache, rf, client, product, product_url) -> None:  # type: ignore[no-untyped-def]
    leaving, staying = Client(), Client()
    for browser in (leaving, staying):
        accept(browser)
        browser.get(product_url)
    in_flight = [under_way(rf, browser, product_url) for browser in (leaving, staying)]
    leaving.post("/reco/consent/refuse/", {"withdraw": "1"})

    for request in in_flight:
        track(request, "add_to_cart", product, value=1)

    kept = Event.objects.values_list("visitor_id", "event_type")
    staying_vid = get_context(in_flight[1]).visitor_id
    assert sorted(kept) == [(staying_vid, "add_to_cart"), (staying_vid, "product_view")]


def test_a_signed_in_shoppers_late_event_goes_too(any_cache, rf, client, django_user_model, product, product_url) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ana", password="pw-123456")
    accept(client)
    client.force_login(user)
    client.get(product_url)
    request = under_way(rf, client, product_url, user=user)
    client.post("/reco/consent/refuse/", {"withdraw": "1"})

    track(request, "product_view", product)

    assert not Event.objects.exists()


def test_consenting_again_keeps_the_new_events(any_cache, rf, consenting, product, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    old_cookie = consenting.cookies["reco_v"].value
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    # a response under way re-sets the old visitor cookie after the withdrawal removed it;
    # then the shopper changes their mind
    consenting.cookies["reco_v"] = old_cookie
    accept(consenting)

    consenting.get(product_url)

    assert Event.objects.count() == 1


def test_a_late_event_in_a_server_batch_is_deleted_and_the_rest_stored(any_cache, django_user_model) -> None:  # type: ignore[no-untyped-def]
    token = Token.objects.create(user=django_user_model.objects.create_user("feed", password="pw-123456"))
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    late.mark(["1042"], [])  # customer 1042 withdrew while the batch was on its way
    events = [{"event_id": str(uuid.uuid4()), "event_type": "purchase", "product": "SKU-1", "value": 1,
               "customer": customer, "consent": "granted"} for customer in ("1042", "2000")]

    response = api.post("/reco/api/events/", json.dumps({"events": events}), content_type="application/json")

    assert response.status_code in (200, 201, 202, 207)
    assert list(Event.objects.values_list("subject", flat=True)) == ["2000"]


def test_a_late_event_is_anonymised_where_withdrawals_anonymise(any_cache, rf, consenting, product, product_url, settings) -> None:  # type: ignore[no-untyped-def]
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

    assert list(Event.objects.values_list("subject", "visitor_id", "consent", "product_key")) == [
        ("", "", ConsentBasis.ANONYMISED, "SKU-1")]
    assert received == []  # nothing derives anything from it
