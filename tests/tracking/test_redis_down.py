"""Consent and privacy paths keep working while the shared cache (Redis) is down: the
cache is an optimisation, a withdrawal must still delete, and no page may answer 500."""

from __future__ import annotations

import pytest
from django.test import Client

from reco_app.models import Event

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6399/0",  # nothing listens here
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "IGNORE_EXCEPTIONS": True,
                    "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


@pytest.fixture
def redis_down(settings):  # type: ignore[no-untyped-def]
    settings.CACHES = DEAD_REDIS
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    return settings


def test_withdrawal_deletes_while_redis_is_down(redis_down, product_url) -> None:  # type: ignore[no-untyped-def]
    shopper = Client(raise_request_exception=True)
    shopper.post("/reco/consent/accept/", {"next": "/"})
    shopper.get(product_url)
    assert Event.objects.count() == 1
    response = shopper.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert response.status_code == 302
    assert Event.objects.count() == 0


def test_pages_after_consent_went_elsewhere_while_redis_is_down(redis_down, product_url) -> None:  # type: ignore[no-untyped-def]
    shopper = Client()
    shopper.post("/reco/consent/accept/", {"next": "/"})
    shopper.get(product_url)
    assert shopper.cookies["reco_v"].value and Event.objects.count() == 1
    del shopper.cookies["cookie_consent"]  # consent cleared in the shop's cookie settings
    codes = [shopper.get(product_url).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert Event.objects.count() == 0 and not shopper.cookies["reco_v"].value


def _alice_likes_books():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from tests.serving.factories import make_catalog, make_events

    shop = make_catalog()
    make_events(shop)
    books = shop.by_category["Books"]
    now = timezone.now()
    Event.objects.bulk_create(
        [Event(subject="alice", product_key=k, event_type=t, consent="imported", timestamp=now)
         for k in books[:4] for t in ("product_view", "add_to_cart")]
    )


def _for_you(subject: str) -> list[str]:
    from reco_app.serving.pipeline import recommend

    return [r.product_key for r in recommend(subject, "for_you", limit=5)]


def test_an_erased_shoppers_list_is_not_served_again_while_redis_is_down(redis_down) -> None:  # type: ignore[no-untyped-def]
    """With the shared cache down every namespace reads as version 1, before and after an
    erasure: a list this process kept would be served again. Personal lists are computed and
    not kept while the cache is down, and an erasure that cannot read the shoppers' index
    drops what this process keeps (here the one that goes on without the cache: a
    withdrawal's, where no worker can retry it)."""
    from reco_app import privacy
    from reco_app.serving import local_cache

    _alice_likes_books()
    stranger = _for_you("nobody-at-all")
    assert _for_you("alice") != stranger  # personalised
    privacy.erase_subjects(["alice"], wait=False)
    assert _for_you("alice") == stranger
    assert not any(":alice:" in key for key in local_cache._lists)


def test_an_erasure_request_while_redis_is_down_erases_nothing_and_says_so(redis_down, admin_client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """Erased without invalidating the shopper's cached lists, they would be served again
    once the cache is back: the admin, the command and the "Your data" page erase nothing
    and say to try again."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    from reco_app.consent import privacy
    from reco_app.erasure import CacheUnavailable

    _alice_likes_books()
    with pytest.raises(CacheUnavailable):
        privacy.erase(["alice"])
    with pytest.raises(CommandError, match="Nothing was erased: the cache could not be reached"):
        call_command("reco_privacy", "erase", "--subject", "alice", "--yes", stdout=StringIO())
    ids = list(Event.objects.filter(subject="alice").values_list("pk", flat=True))
    page = admin_client.post("/admin/reco_app/event/", {"action": "erase_subjects", "_selected_action": ids}, follow=True)
    assert b"Nothing was erased" in page.content
    assert Event.objects.filter(subject="alice").count() == len(ids) == 8
    dee = django_user_model.objects.create_user("dee", password="pw-123456")
    Event.objects.create(subject="dee", user=dee, event_type="purchase", product_key="BK-01", timestamp=dee.date_joined)
    shopper = Client()
    shopper.force_login(dee)
    answer = shopper.post("/reco/privacy/erase/", {"confirm": "1"})
    assert answer.status_code == 503 and answer["Retry-After"] and b"Nothing was erased" in answer.content
    assert Event.objects.filter(user=dee).exists()


def test_deleting_an_account_while_redis_is_down_deletes_its_events(redis_down, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """An account deletion cannot wait: its events and grants go at once, the derived data
    when the cache can be reached (a worker retries it; without one, now, as far as it can)."""
    user = django_user_model.objects.create_user("eve", password="pw-123456")
    Event.objects.create(subject="eve", user=user, event_type="purchase", product_key="SKU-1", timestamp=user.date_joined)
    user.delete()
    assert not Event.objects.exists()


def test_the_derived_data_task_retries_while_redis_is_down_and_erases_on_its_last_try(redis_down) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent.tasks import erase_derived
    from reco_app.erasure import CacheUnavailable
    from reco_app.models import Segment, SegmentMembership

    segment = Segment.objects.create(key="rfm:champions", name="Champions", kind="rfm")
    SegmentMembership.objects.create(segment=segment, subject="alice")
    erase_derived.push_request(retries=0)
    try:
        with pytest.raises(CacheUnavailable):  # (autoretry_for: the worker tries again later)
            erase_derived.run(["alice"])
    finally:
        erase_derived.pop_request()
    assert SegmentMembership.objects.exists()
    erase_derived.push_request(retries=erase_derived.max_retries)
    try:
        erase_derived.run(["alice"])
    finally:
        erase_derived.pop_request()
    assert not SegmentMembership.objects.exists()
