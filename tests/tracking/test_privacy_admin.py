"""Privacy review fixes: the admin actions reach every subject of a person, erasure deletes
what is cached for them (lists, live state, namespace keys), namespace keys expire, and an
export holds every stored field and every cached piece of their state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from reco_app import cache, conf
from reco_app import privacy as registry
from reco_app.consent import privacy
from reco_app.models import ConsentRecord, Event
from reco_app.models.segments import SegmentMembership
from reco_app.segments.live import load_state
from tests.helpers import customer_key

pytestmark = pytest.mark.django_db
EVENTS = "/admin/reco_app/event/"


def _ns_key(subject: str) -> str:
    return cache.make_key("ns", f"subject:{subject}")


def _raw_keys() -> list[str]:
    """Every key in reco_app's cache as stored (Redis or local memory)."""
    backend = cache.get_cache()
    client = getattr(backend, "client", None)
    if client is not None and hasattr(client, "get_client"):
        return [k.decode() for k in client.get_client().keys("*")]
    return list(backend._cache)  # type: ignore[attr-defined]


@pytest.fixture
def fred(consenting, product_url, django_user_model, django_capture_on_commit_callbacks, settings):  # type: ignore[no-untyped-def]
    """An anonymous shopper who consents, browses, adds to the cart (live segments for
    ``anon:<vid>``), then logs in as fred and browses on."""
    settings.RECO_APP = {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": False}  # evaluated in the request
    with django_capture_on_commit_callbacks(execute=True):
        consenting.get(product_url)
        for _ in range(3):  # three add-to-carts in a session: "high intent"
            consenting.post("/cart/add/SKU-1/", {"quantity": 1})
    anon = Event.objects.filter(event_type="add_to_cart").first().subject  # type: ignore[union-attr]
    assert anon.startswith("anon:")
    assert SegmentMembership.objects.filter(subject=anon).exists() and load_state(anon) is not None
    user = django_user_model.objects.create_user("fred", password="pw-123456")
    with django_capture_on_commit_callbacks(execute=True):
        consenting.post("/accounts/login/", {"username": "fred", "password": "pw-123456"})
        consenting.get(product_url)
    Event.objects.create(subject="someone-else", event_type="purchase", product_key="SKU-1", timestamp=timezone.now())
    user.anon = anon
    return user


def _erase(admin_client: Any, capture: Any, action: str, url: str, ids: list[Any]) -> None:
    with capture(execute=True):
        response = admin_client.post(url, {"action": action, "_selected_action": ids, "confirm": "yes"})
    assert response.status_code in (200, 302)


@pytest.mark.parametrize(
    ("action", "url"),
    [("erase_shoppers", EVENTS), ("erase_subjects", EVENTS), ("erase_subjects", "/admin/reco_app/consentrecord/")],
)
def test_admin_erase_of_a_customer_reaches_the_visitor_id_joined_at_login(  # type: ignore[no-untyped-def]
    fred, admin_client, django_capture_on_commit_callbacks, action, url
) -> None:
    key = customer_key(fred)
    if "consent" in url:
        ids = [ConsentRecord.objects.filter(user=fred).latest("created_at").pk]
    else:
        ids = [Event.objects.filter(subject=key).first().pk]  # type: ignore[union-attr]
    _erase(admin_client, django_capture_on_commit_callbacks, action, url, ids)
    assert list(Event.objects.values_list("subject", flat=True)) == ["someone-else"]
    assert not SegmentMembership.objects.filter(subject__in=[key, fred.anon]).exists()
    assert load_state(fred.anon) is None  # the live state in the cache
    assert cache.get_cache().get(_ns_key(fred.anon)) is None and cache.get_cache().get(_ns_key(key)) is None


def test_admin_exports_cover_the_visitor_id_joined_at_login(fred, admin_client) -> None:  # type: ignore[no-untyped-def]
    expected = privacy.subjects_for_user(fred)
    assert expected == [customer_key(fred), fred.anon]
    ids = [Event.objects.filter(subject=customer_key(fred)).first().pk]  # type: ignore[union-attr]
    for action in ("export_shoppers", "export_subjects"):
        doc = json.loads(admin_client.post(EVENTS, {"action": action, "_selected_action": ids}).content)
        assert doc["subjects"] == expected
        assert fred.anon in {m["subject"] for m in doc["data"]["segments"]}  # the anonymous high intent
    record = ConsentRecord.objects.filter(user=fred).latest("created_at")
    doc = json.loads(admin_client.post("/admin/reco_app/consentrecord/", {"action": "export_subjects", "_selected_action": [record.pk]}).content)
    assert doc["subjects"] == expected


def test_selecting_the_visitor_of_a_shopper_who_logged_in_reaches_the_customer(fred, django_user_model) -> None:  # type: ignore[no-untyped-def]
    key = customer_key(fred)
    assert privacy.expand_subjects([fred.anon]) == [key, fred.anon]
    assert privacy.expand_subjects([key]) == [key, fred.anon]
    # a visitor id under two customer keys (a shared device) is not expanded to either
    Event.objects.create(subject="other-customer", visitor_id=fred.anon[5:], event_type="product_view", product_key="SKU-1", timestamp=timezone.now())
    assert privacy.expand_subjects([fred.anon]) == [fred.anon]


def test_event_admin_erasure_runs_in_one_transaction(fred, admin_client) -> None:  # type: ignore[no-untyped-def]
    def fail(subjects: list[str]) -> int:
        raise RuntimeError("holder failed")

    registry.register("failing-holder", export=lambda s: None, erase=fail)
    try:
        ids = [Event.objects.filter(subject=customer_key(fred)).first().pk]  # type: ignore[union-attr]
        with pytest.raises(RuntimeError):
            admin_client.post(EVENTS, {"action": "erase_shoppers", "_selected_action": ids, "confirm": "yes"})
    finally:
        registry._holders.pop("failing-holder", None)
    assert Event.objects.filter(subject=customer_key(fred)).exists()  # rolled back with the failure


@pytest.fixture
def local_memory(settings):  # type: ignore[no-untyped-def]
    """reco_app on Django's local-memory cache (also when the default cache is Redis)."""
    settings.CACHES = {**settings.CACHES, "reco-local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "reco-privacy-tests"}}
    settings.RECO_APP = {**settings.RECO_APP, "CACHE_ALIAS": "reco-local"}
    caches["reco-local"].clear()
    return caches["reco-local"]


def _cached_list_for(subject: str) -> None:
    from reco_app.serving.pipeline import recommend
    from tests.serving.factories import make_catalog

    shop = make_catalog()
    key = next(iter(shop.products))
    Event.objects.create(subject=subject, event_type="product_view", product_key=key, timestamp=timezone.now(), consent="granted")
    cache.bump(f"subject:{subject}")
    recommend(subject, "for_you", limit=3)


def _naming(subject: str) -> list[str]:
    return [k for k in _raw_keys() if subject in k]


def _erasure_deletes_every_cache_entry_naming_the_subject(capture: Any) -> None:
    subject = "alice-77"
    _cached_list_for(subject)
    assert any(f"rec:for_you:{subject}:" in k for k in _naming(subject))
    exported = privacy.export([subject])["data"]["cached_recommendations"]
    assert any(f"rec:for_you:{subject}:" in e["key"] for e in exported["entries"])
    with capture(execute=True):
        privacy.erase([subject])
    assert _naming(subject) == []  # lists, segment keys, the namespace, the index: all gone
    assert privacy.export([subject])["data"]["cached_recommendations"]["entries"] == []


def test_erasure_deletes_cached_lists_and_namespace_in_local_memory(local_memory, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    _erasure_deletes_every_cache_entry_naming_the_subject(django_capture_on_commit_callbacks)


def test_erasure_deletes_cached_lists_and_namespace_on_redis(redis_cache, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    _erasure_deletes_every_cache_entry_naming_the_subject(django_capture_on_commit_callbacks)


def test_a_list_kept_by_another_process_is_never_served_after_erasure(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving import local_cache
    from reco_app.serving.local_cache import ns_versions

    subject = "bob-12"
    _cached_list_for(subject)
    seen = {ns_versions([f"subject:{subject}"])[f"subject:{subject}"]}
    other_process = dict(local_cache._lists)  # what another web process still holds
    with django_capture_on_commit_callbacks(execute=True):
        privacy.erase([subject])
    local_cache._lists.update(other_process)
    for _ in range(3):  # the shopper comes back: their namespace never returns to an old version
        version = ns_versions([f"subject:{subject}"])[f"subject:{subject}"]
        assert version not in seen
        cache.bump(f"subject:{subject}")


def test_subject_namespaces_expire_after_anything_keyed_with_them(redis_cache) -> None:  # type: ignore[no-untyped-def]
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    client = redis_cache.client
    cache.bump("subject:carol")
    cache.bump_many(["subject:dan", "subject:erin"])
    timeout = int(conf.get("CACHE_TIMEOUT"))
    for name in ("carol", "dan", "erin"):
        ttl = redis.ttl(client.make_key(_ns_key(name)))
        assert timeout < ttl <= cache.subject_ns_timeout()
    cache.bump("rules")
    assert redis.ttl(client.make_key(cache.make_key("ns", "rules"))) == -1  # global ones do not name anyone


def test_subject_namespaces_expire_in_local_memory(local_memory) -> None:  # type: ignore[no-untyped-def]
    cache.bump("subject:carol")
    backend = local_memory
    expiry = backend._expire_info[backend.make_key(_ns_key("carol"))]  # type: ignore[attr-defined]
    assert expiry is not None and expiry - timezone.now().timestamp() > int(conf.get("CACHE_TIMEOUT"))


def test_bump_is_one_redis_round_trip(redis_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import redis

    calls: list[str] = []
    original = redis.Redis.execute_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    cache.bump("subject:hot")
    cache.bump_many([f"subject:s{i}" for i in range(50)])
    assert len(calls) == 2


def test_export_has_every_stored_field_of_an_event_and_the_live_state(fred) -> None:  # type: ignore[no-untyped-def]
    fields = {f.attname for f in Event._meta.concrete_fields}
    doc = privacy.export(privacy.subjects_for_user(fred))
    json.dumps(doc)
    events = doc["data"]["events"]
    assert events and all(set(row) == fields for row in events)
    assert {"visitor_id", "user_id", "received_at"} <= fields
    assert events[-1]["user_id"] == fred.pk and events[-1]["visitor_id"] == fred.anon[5:]
    live = doc["data"]["cached_state"]["live_segment_state"]
    assert live[fred.anon]["memberships"]


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        (["view_consentrecord"], set()),
        (["view_consentrecord", "delete_consentrecord"], set()),
        (["view_event", "delete_event"], set()),
        (["view_event", "view_consentrecord"], {"export_shoppers", "export_subjects"}),
        (["view_event", "view_consentrecord", "delete_event", "delete_consentrecord"],
         {"export_shoppers", "export_subjects", "erase_shoppers", "erase_subjects"}),
    ],
)
def test_privacy_actions_need_the_permissions_of_what_they_read_and_delete(  # type: ignore[no-untyped-def]
    fred, client, django_user_model, granted, allowed,
) -> None:
    """An export holds a shopper's events and consent records, an erasure deletes both: staff
    allowed only consent records (or only events) get neither from either list."""
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="reco_app", codename__in=granted))
    client.force_login(staff)
    record = ConsentRecord.objects.filter(user=fred).first()
    assert record is not None
    offered = set()
    for url, pk in (("/admin/reco_app/consentrecord/", record.pk), (EVENTS, Event.objects.filter(user=fred).first().pk)):  # type: ignore[union-attr]
        page = client.get(url)
        if page.status_code != 200:
            continue
        form = page.context["action_form"]  # (None: no action is offered)
        offered |= {name for name, _ in form.fields["action"].choices if name} if form else set()
        for action in ("export_subjects", "erase_subjects"):
            client.post(url, {"action": action, "_selected_action": [pk], "confirm": "yes"})
    assert offered & {"export_shoppers", "export_subjects", "erase_shoppers", "erase_subjects"} == allowed
    erased = not Event.objects.filter(user=fred).exists()
    assert erased == ("erase_subjects" in allowed)
