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


def test_an_erased_shoppers_list_is_not_served_again_while_redis_is_down(redis_down) -> None:  # type: ignore[no-untyped-def]
    """With the shared cache down every namespace reads as version 1, before and after an
    erasure: a list this process kept would be served again. Personal lists are computed and
    not kept while the cache is down, and an erasure that cannot read the shoppers' index
    drops what this process keeps."""
    from django.utils import timezone

    from reco_app.consent import privacy
    from reco_app.serving import local_cache
    from reco_app.serving.pipeline import recommend
    from tests.serving.factories import make_catalog, make_events

    shop = make_catalog()
    make_events(shop)
    books = shop.by_category["Books"]
    now = timezone.now()
    Event.objects.bulk_create(
        [Event(subject="alice", product_key=k, event_type=t, consent="imported", timestamp=now)
         for k in books[:4] for t in ("product_view", "add_to_cart")]
    )
    stranger = [r.product_key for r in recommend("nobody-at-all", "for_you", limit=5)]
    before = [r.product_key for r in recommend("alice", "for_you", limit=5)]
    assert before != stranger  # personalised
    privacy.erase(["alice"])
    assert [r.product_key for r in recommend("alice", "for_you", limit=5)] == stranger
    assert not any(":alice:" in key for key in local_cache._lists)
