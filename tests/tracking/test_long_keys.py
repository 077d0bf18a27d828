"""Customer keys longer than the 128-character ``subject`` columns (Django allows 150-character
usernames, and the example shop's adapter uses the username as the key)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from reco_app import track
from reco_app.adapter import customer_subject, get_adapter, subject_of
from reco_app.importing import import_events
from reco_app.models import ConsentRecord, Event
from tests.foundation.helpers import write_csv
from tests.tracking.conftest import accept

pytestmark = pytest.mark.django_db
LONG = "u" * 140 + "-long-name"  # 150 characters, Django's limit for usernames


def test_the_stored_form_is_stable_short_and_distinct() -> None:
    assert customer_subject("c00042") == "c00042"
    assert customer_subject("x" * 128) == "x" * 128
    short = customer_subject(LONG)
    assert len(short) == 128 and short.startswith("u" * 95 + "~")
    assert customer_subject(short) == short  # shortening twice changes nothing
    assert customer_subject(LONG[:-1] + "E") != short  # the whole key counts, not the prefix


def test_a_shopper_with_a_150_character_username_is_tracked_merged_and_withdrawn(client, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(LONG, password="pw-123456")
    stored = customer_subject(LONG)
    assert subject_of(user) == stored
    assert get_adapter().customer_key(user) == LONG  # the shop's adapter is not wrapped
    accept(client)
    client.get(product_url)  # an anonymous view, joined to the account at login
    assert client.post("/accounts/login/", {"username": LONG, "password": "pw-123456"}).status_code == 302
    assert client.get(product_url).status_code == 200
    assert client.post("/reco/consent/accept/", {"next": "/"}).status_code == 302
    assert set(Event.objects.values_list("subject", flat=True)) == {stored}
    assert Event.objects.count() == 2
    assert set(ConsentRecord.objects.values_list("subject", flat=True)) == {stored}
    response = client.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert response.status_code == 302
    assert Event.objects.count() == 0
    assert list(ConsentRecord.objects.filter(user=user, granted=False).values_list("subject", flat=True)) == [stored]


def test_track_stores_a_long_customer_key_shortened(product_url, product, django_user_model, rf) -> None:  # type: ignore[no-untyped-def]
    request = rf.get(product_url)
    request.COOKIES["cookie_consent"] = "personalisation=2026-01-01"
    request.user = django_user_model.objects.create_user(LONG, password="pw-123456")
    event = track(request, "add_to_cart", product, value=1)
    assert event is not None and Event.objects.get(pk=event.pk).subject == customer_subject(LONG)


def test_api_imports_and_live_events_agree_on_a_long_key(tmp_path, django_user_model) -> None:  # type: ignore[no-untyped-def]
    feeder = django_user_model.objects.create_user("feed", password="pw-123456")
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=feeder).key}")
    body = {"events": [{"event_id": str(uuid.uuid4()), "event_type": "purchase", "product": "SKU-1", "value": 1,
                        "customer": LONG, "consent": "granted"}]}
    response = api.post("/reco/api/events/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    result = import_events(write_csv(tmp_path / "e.csv", f"user_id,product_id,event_type,timestamp,value\n{LONG},SKU-2,product_view,2024-03-01T10:00:00,\n"))
    assert (result.stored, result.bad) == (1, 0)
    user = django_user_model.objects.create_user(LONG, password="pw-123456")
    assert set(Event.objects.values_list("subject", flat=True)) == {subject_of(user)}
    # a customer key is still refused for what it contains, whatever its length
    body["events"][0].update(event_id=str(uuid.uuid4()), customer="anon:" + LONG)
    response = api.post("/reco/api/events/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "customer" in response.json()["rejected"][0]["errors"]


def test_staff_screens_take_a_long_customer_key(django_user_model) -> None:  # type: ignore[no-untyped-def]
    from reco_app.admin.merchandising_views import PreviewForm

    staff = django_user_model.objects.create_user("ops", password="pw-123456", is_staff=True)
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    response = api.get("/reco/api/recommendations/for_you/", {"subject": LONG, "limit": 3})
    assert response.status_code == 200, response.content
    form = PreviewForm(data={"placement": "for_you", "who": "shopper", "subject": LONG, "limit": 3})
    assert form.is_valid(), form.errors


def test_the_shops_adapter_is_used_as_it_is() -> None:
    """No generated subclass: type checks and pickling of the shop's adapter keep working."""
    import pickle

    from django.utils.module_loading import import_string

    from reco_app import conf

    adapter = get_adapter()
    assert type(adapter) is import_string(conf.get("ADAPTER"))
    assert type(pickle.loads(pickle.dumps(adapter))) is type(adapter)


def test_privacy_tools_find_the_user_behind_a_shortened_key(client, django_user_model, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from io import StringIO

    from django.core.management import call_command

    from reco_app import cache
    from reco_app.adapter import user_for_subject
    from reco_app.consent.backends import account_decision, account_decision_key

    user = django_user_model.objects.create_user(LONG, password="pw-123456")
    client.force_login(user)
    accept(client)  # a consent record of the account, under the shortened subject
    stored = subject_of(user)
    assert get_adapter().get_user_for_customer_key(stored) is None  # the shop's adapter cannot invert it
    assert user_for_subject(stored) == user
    account_decision(user)  # cached
    assert cache.get(account_decision_key(user.pk)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reco_privacy", "erase", "--subject", stored, "--yes", stdout=StringIO())
    # the account's cached decision no longer says "granted" (it may say "unknown": no record is left)
    assert cache.get(account_decision_key(user.pk)) in (None, "unknown")
