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


@pytest.fixture
def broker_down():  # type: ignore[no-untyped-def]
    """Tasks go to a broker nobody answers at (often the same Redis as the cache)."""
    from celery import current_app

    conf = current_app.conf
    saved = (conf.task_always_eager, conf.broker_url, conf.task_publish_retry, conf.broker_transport_options)
    conf.task_always_eager, conf.broker_url, conf.task_publish_retry = False, "redis://127.0.0.1:6399/1", False
    conf.broker_transport_options = {"max_retries": 1, "interval_start": 0, "interval_step": 0}  # (fail fast)
    yield
    conf.task_always_eager, conf.broker_url, conf.task_publish_retry, conf.broker_transport_options = saved


def test_a_withdrawal_and_an_account_deletion_with_redis_and_the_broker_down(  # type: ignore[no-untyped-def]
    redis_down, broker_down, product_url, django_user_model, django_capture_on_commit_callbacks,
) -> None:
    """The derived-data task cannot be sent: its work is done in the request instead, as far
    as it can (never a 500; the withdrawal's cookies are set)."""
    shopper = Client()
    shopper.post("/reco/consent/accept/", {"next": "/"})
    with django_capture_on_commit_callbacks(execute=True):
        shopper.get(product_url)
    assert Event.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = shopper.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert response.status_code == 302 and response.cookies["reco_v"]["max-age"] == 0
    assert Event.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        shopper.get(product_url)
    assert Event.objects.count() == 0  # the refusal holds
    user = django_user_model.objects.create_user("eve", password="pw-123456")
    Event.objects.create(subject="eve", user=user, event_type="purchase", product_key="SKU-1", timestamp=user.date_joined)
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not Event.objects.exists()


def test_a_withdrawal_deletes_cached_lists_where_redis_refuses_writes(redis_cache, monkeypatch, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Redis out of memory refuses the namespace bump (a script write) but still deletes: the
    withdrawn shopper's cached entries go all the same."""
    import redis

    from reco_app import cache
    from reco_app.consent import service

    version = cache.ns_version("subject:alice")
    key = cache.make_key("rec", "for_you", "alice", 1, version)
    cache.set(key, ["a personal list"], subject="alice")

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")

    monkeypatch.setattr(redis.Redis, "eval", out_of_memory)
    later: list[list[str]] = []  # the retried task, which a worker runs later
    monkeypatch.setattr(service, "erase_derived_later", later.append)
    with django_capture_on_commit_callbacks(execute=True):
        service.forget(["alice"], [])
    assert later == [["alice"]]
    assert cache.get(key) is None  # not only once the task has run


def test_the_derived_data_task_retries_for_about_an_hour_and_a_half() -> None:
    from reco_app.consent.tasks import erase_derived

    assert erase_derived.retry_jitter is False
    waits = [min(erase_derived.retry_backoff * 2**n, erase_derived.retry_backoff_max) for n in range(erase_derived.max_retries)]
    assert 80 * 60 <= sum(waits) <= 100 * 60
