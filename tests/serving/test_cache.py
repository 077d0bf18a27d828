from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from reco_app import cache, recommend, signals
from reco_app.models import Event
from reco_app.serving.pipeline import preview
from tests.serving import rules_for_tests
from tests.serving.factories import train_model
from tests.serving.helpers import assert_sensible

pytestmark = pytest.mark.django_db
RULES = {"RULES_STAGE": "tests.serving.rules_for_tests.PinAndHide"}


@pytest.fixture
def rules(settings):  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, **RULES}
    rules_for_tests.RULES.update(pin=None, hide=[])
    yield rules_for_tests.RULES
    rules_for_tests.RULES.update(pin=None, hide=[])


def test_results_are_cached_until_the_model_changes(trained) -> None:  # type: ignore[no-untyped-def]
    _shop, v1 = trained
    first = recommend("CUST-000", "for_you", limit=5)
    assert first[0].model_version == v1.pk
    hits = cache.stats["hits"]
    assert [r.product_key for r in recommend("CUST-000", "for_you", limit=5)] == [r.product_key for r in first]
    assert cache.stats["hits"] == hits + 1
    v2 = train_model(epochs=3)
    assert recommend("CUST-000", "for_you", limit=5)[0].model_version == v1.pk  # cached
    signals.model_activated.send(sender=None, version=v2)
    assert recommend("CUST-000", "for_you", limit=5)[0].model_version == v2.pk  # swapped, no restart


def test_rule_changes_show_after_rules_changed(trained, rules) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    before = recommend(None, "trending", limit=5)
    rules["pin"], rules["hide"] = shop.new_key, [before[0].product_key]
    assert recommend(None, "trending", limit=5)[0].product_key == before[0].product_key  # still cached
    signals.rules_changed.send(sender=None, rule=None)
    after = recommend(None, "trending", limit=5)
    assert after[0].product_key == shop.new_key and after[0].reason == "Staff pick"
    assert after[0].source == "rules"  # a product without events: not a trending candidate
    assert before[0].product_key not in [r.product_key for r in after]


def test_preview_shows_the_list_before_and_after_rules(trained, rules) -> None:  # type: ignore[no-untyped-def]
    rules["pin"] = "BK-09"
    result = preview(None, "trending", limit=4)
    assert result["before"][0]["product_key"] != "BK-09"
    assert result["after"][0] == {**result["after"][0], "product_key": "BK-09", "position": 1, "rules": ["pin-test"]}
    assert set(result["before"][0]) == {"position", "product_key", "name", "score", "source", "reason", "rules"}


def test_new_events_refresh_the_shoppers_lists(trained) -> None:  # type: ignore[no-untyped-def]
    assert recommend("anon:v9", "recently_viewed", limit=3)[0].source != "recent"
    Event.objects.create(subject="anon:v9", product_key="TS-04", event_type="product_view", timestamp=timezone.now() - dt.timedelta(minutes=1))
    assert recommend("anon:v9", "recently_viewed", limit=3)[0].source != "recent"  # cached until told
    cache.bump("subject:anon:v9")  # what the tracking service does after storing the events
    recs = recommend("anon:v9", "recently_viewed", limit=3)
    assert recs[0].product_key == "TS-04" and recs[0].source == "recent"


def test_lists_that_read_no_history_are_shared_and_outlive_new_events(trained) -> None:  # type: ignore[no-untyped-def]
    first = recommend("anon:a", "similar", product="TS-01", limit=4)
    hits = cache.stats["hits"]
    assert [r.product_key for r in recommend("anon:b", "similar", product="TS-01", limit=4)] == [r.product_key for r in first]
    assert cache.stats["hits"] == hits + 1  # another shopper: the same cached list
    recommend("anon:a", "for_you", limit=4)
    cache.bump("subject:anon:a")  # what storing a product view of theirs does
    hits = cache.stats["hits"]
    recommend("anon:a", "similar", product="TS-01", limit=4)
    assert cache.stats["hits"] == hits + 1  # still cached
    recommend("anon:a", "for_you", limit=4)
    assert cache.stats["hits"] == hits + 1  # personal: recomputed


def test_page_exclusions_filter_the_shared_list(trained) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving.tokens import parse_token

    full = [r.product_key for r in recommend(None, "trending", limit=8)]
    hits = cache.stats["hits"]
    shown = full[:2]
    recs = recommend("anon:a", "trending", limit=4, context={"exclude": shown})
    assert [r.product_key for r in recs] == full[2:6]  # the same ranking, without what the page shows
    assert [r.position for r in recs] == [1, 2, 3, 4]
    assert [parse_token(r.token).position for r in recs] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert {r.product_key for r in recommend("anon:b", "trending", limit=4, context={"exclude": full[4:6]})}.isdisjoint(full[4:6])
    assert cache.stats["hits"] == hits + 1  # the second shopper's list came from the first one's


def test_device_scoped_rules_keep_devices_apart(trained, rf) -> None:  # type: ignore[no-untyped-def]
    from reco_app.models import Rule
    from reco_app.tracking.context import VisitorContext

    def request(user_agent: str):  # type: ignore[no-untyped-def]
        req = rf.get("/", HTTP_USER_AGENT=user_agent)
        req.reco = VisitorContext(req)
        return req

    mobile, desktop = request("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"), request("Mozilla/5.0 (X11; Linux x86_64)")
    before = [r.product_key for r in recommend(desktop, "trending", limit=4)]
    pinned = next(k for k in ("BK-09", "TS-04", "TS-01") if k not in before[:1])
    rule = Rule(name="mobile pick", action="pin", pin_product_key=pinned, position=1, devices=["mobile"], placements=["trending"])
    rule.full_clean()
    rule.save()
    assert recommend(mobile, "trending", limit=4)[0].product_key == pinned
    assert recommend(desktop, "trending", limit=4)[0].product_key == before[0]  # not the mobile list


def test_catalog_changes_reach_cached_lists(trained, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    top = recommend(None, "trending", limit=3)[0].product_key
    product = shop.products[top]
    product.stock = 0
    with django_capture_on_commit_callbacks(execute=True):
        product.save()  # signal → snapshot → on_catalog_changed → "catalog" namespace bumped
    assert top not in [r.product_key for r in recommend(None, "trending", limit=3)]


@override_settings(CACHES={
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1}},
})
def test_redis_down_still_serves(trained, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "CACHE_ALIAS": "down", "LOCAL_CACHE_SIZE": 0}
    hits = cache.stats["hits"]
    recs = recommend("CUST-001", "for_you", limit=5)
    assert_sensible(recs, 5)
    assert recs[0].model_version is not None and recs[0].source == "model"
    again = recommend("CUST-001", "for_you", limit=5)  # computed again: nothing could be cached
    assert [r.product_key for r in again] == [r.product_key for r in recs]
    assert cache.stats["hits"] == hits
    assert_sensible(recommend(None, "similar", product="SH-03", limit=4), 4)


def test_redis_cache_serves_hits(trained, redis_cache) -> None:  # type: ignore[no-untyped-def]
    first = recommend("CUST-001", "for_you", limit=5)
    hits = cache.stats["hits"]
    again = recommend("CUST-001", "for_you", limit=5)
    assert cache.stats["hits"] == hits + 1
    assert [r.product_key for r in again] == [r.product_key for r in first]


def test_erasure_drops_the_shoppers_cached_lists(trained) -> None:  # type: ignore[no-untyped-def]
    from reco_app import privacy

    recommend("CUST-001", "for_you", limit=5)
    hits = cache.stats["hits"]
    privacy.erase_subjects(["CUST-001"])
    recommend("CUST-001", "for_you", limit=5)
    assert cache.stats["hits"] == hits


@pytest.mark.django_db(transaction=True)
def test_a_changed_catalog_reloads_in_the_background(settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving import catalog_index
    from tests.serving.factories import make_catalog, make_events

    settings.RECO_APP = {**settings.RECO_APP, "CATALOG_BACKGROUND_RELOAD": True}
    shop = make_catalog()
    make_events(shop)
    top = recommend(None, "trending", limit=3)[0].product_key
    old_index = catalog_index.get_catalog()
    shop.products[top].stock = 0
    shop.products[top].save()  # committed at once (transactional test): the catalog namespace is bumped
    # requests go on being served from the previous index while the new one loads
    assert catalog_index.get_catalog() is old_index
    catalog_index.wait_for_reload()
    assert catalog_index.get_catalog().build > old_index.build
    assert top not in [r.product_key for r in recommend(None, "trending", limit=3)]


def test_other_processes_bumps_are_seen_after_the_local_delay(trained, settings) -> None:  # type: ignore[no-untyped-def]
    recommend(None, "trending", limit=3)
    hits = cache.stats["hits"]
    cache.bump("rules")  # as another process would: no signal here
    recommend(None, "trending", limit=3)
    assert cache.stats["hits"] == hits + 1  # within LOCAL_NS_SECONDS: this process still trusts its versions
    settings.RECO_APP = {**settings.RECO_APP, "LOCAL_NS_SECONDS": 0}
    cache.bump("rules")
    recommend(None, "trending", limit=3)
    assert cache.stats["hits"] == hits + 1  # a new version: computed again


def test_a_page_asking_twice_for_a_list_gets_it_once(trained) -> None:  # type: ignore[no-untyped-def]
    from tests.serving.helpers import visitor_request

    request = visitor_request("v-memo")
    first = recommend(request, "for_you", limit=5)
    before = dict(cache.stats)
    again = recommend(request, "for_you", limit=5)  # e.g. {% get_recommendations %} then {% recommendations %}
    assert [r.product_key for r in again] == [r.product_key for r in first]
    assert cache.stats == before  # answered by the request itself: not even the list cache is read
    assert [r.product_key for r in recommend(request, "for_you", limit=4)] == [r.product_key for r in first][:4]
    assert cache.stats["misses"] == before["misses"] + 1  # another limit is another list
    recommend(visitor_request("v-memo"), "for_you", limit=5)  # another request: the shared cache
    assert cache.stats["hits"] == before["hits"] + 1
    cache.bump("subject:anon:v-memo")  # the shopper's lists changed (an event stored meanwhile)
    misses = cache.stats["misses"]
    assert [r.product_key for r in recommend(request, "for_you", limit=5)]
    assert cache.stats["misses"] == misses + 1


def test_a_shoppers_list_is_read_with_their_namespace_in_one_round_trip(trained, redis_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another process (nothing kept in its memory) serves a shopper's cached list with one
    command, the read of the namespace; a list tagged with a version that is no longer
    current (written by a request that read the namespace before a bump) is never served."""
    import redis

    from reco_app.serving import local_cache

    first = recommend("CUST-001", "for_you", limit=5)
    sent: list[str] = []
    execute = redis.Redis.execute_command

    def spy(self, *args, **options):  # type: ignore[no-untyped-def]
        sent.append(str(args[0]))
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    local_cache.forget_lists()
    hits = cache.stats["hits"]
    again = recommend("CUST-001", "for_you", limit=5)
    assert [r.product_key for r in again] == [r.product_key for r in first]
    assert cache.stats["hits"] == hits + 1 and sent == ["MGET"]
    # the shared entry as a slow request computing under the old version would leave it
    [key] = [k for k in cache.subject_entries("CUST-001") if ":for_you:" in k]
    old_version, (model_version, cards) = cache.get(key)
    made_up = [("NOT-A-PRODUCT", *cards[0][1:])]
    cache.bump("subject:CUST-001")  # a new event, stored by another process
    cache.set(key, (old_version, (model_version, made_up)), subject="CUST-001")
    local_cache.forget_lists()
    assert [r.product_key for r in recommend("CUST-001", "for_you", limit=5)] == [r.product_key for r in first]
    assert cache.get(key)[0] == cache.ns_version("subject:CUST-001")  # written again, under the current version
    # and under the current version, the shared entry is what is served
    cache.set(key, (cache.ns_version("subject:CUST-001"), (model_version, made_up)), subject="CUST-001")
    local_cache.forget_lists()
    assert [r.product_key for r in recommend("CUST-001", "for_you", limit=5)] == ["NOT-A-PRODUCT"]


def test_a_shoppers_entry_is_written_and_listed_in_one_command(redis_cache) -> None:  # type: ignore[no-untyped-def]
    """The entry, its expiry and its place in the shopper's index (which erasure reads), in
    one script: also after Redis forgot its scripts (a restart)."""
    from django_redis import get_redis_connection

    from reco_app import conf

    redis = get_redis_connection("default")
    full = redis_cache.make_key  # django-redis's own naming, as reco_app.cache uses it
    cache.set("reco:t:list", [("SKU-1", 0.5)], subject="alice")
    redis.script_flush()
    cache.set("reco:t:kept", {"kept": True}, 0, subject="alice")
    assert cache.subject_entries("alice") == {"reco:t:kept": {"kept": True}, "reco:t:list": [("SKU-1", 0.5)]}
    assert 0 < redis.ttl(full("reco:t:list")) <= conf.get("CACHE_TIMEOUT")
    assert redis.ttl(full("reco:t:kept")) == -1  # no expiry asked
    index_ttl = redis.ttl(full(cache.make_key("keys", "subject:alice")))
    assert cache.subject_ns_timeout() - 5 <= index_ttl <= cache.subject_ns_timeout()
    assert cache.purge_subjects(["alice"]) == 2 and not cache.subject_entries("alice")
    # several at once (the view writer's batch of lists), one round trip, also after a flush
    redis.script_flush()
    cache.set_indexed_many([("reco:t:a", ["a"], "alice", None), ("reco:t:b", ["b"], "bob", None)])
    assert cache.subject_entries("alice") == {"reco:t:a": ["a"]} and cache.subject_entries("bob") == {"reco:t:b": ["b"]}
    assert 0 < redis.ttl(full("reco:t:b")) <= conf.get("CACHE_TIMEOUT")
    # tagged entries after a flush too: only the one whose tag is its namespace's version
    redis.script_flush()
    current = cache.ns_version("subject:carol")
    cache.set_indexed_many([("reco:t:c", ["now"], "carol", current), ("reco:t:d", ["old"], "carol", current - 1)])
    assert cache.subject_entries("carol") == {"reco:t:c": ["now"]}


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_a_tagged_entry_is_written_only_while_its_namespace_stands(backend, request) -> None:  # type: ignore[no-untyped-def]
    """A shopper's tagged entry (a list, a history) computed before their next event or an
    erasure is not written: the tag must be the namespace's version when it is written."""
    if backend == "redis":
        request.getfixturevalue("redis_cache")
    version = cache.ns_version("subject:dana")
    cache.set("reco:t:list", ["fresh"], subject="dana", tag=version)
    assert cache.subject_entries("dana") == {"reco:t:list": ["fresh"]}
    cache.bump("subject:dana")  # (the order a slow request sees: computed, bumped, then written)
    cache.set("reco:t:slow", ["computed before the bump"], subject="dana", tag=version)
    assert "reco:t:slow" not in cache.subject_entries("dana")
    cache.purge_subjects(["dana"])  # erasure: the namespace is gone
    cache.set("reco:t:after", ["computed before the erasure"], subject="dana", tag=version + 1)
    assert cache.subject_entries("dana") == {} and cache.get("reco:t:after") is None


def test_a_trained_shoppers_recompute_reads_their_namespace_once(trained, redis_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The check that their trained vector may be used (not erased) keys its flag with the
    namespace version read with the list, instead of reading the namespace again."""
    import redis

    from reco_app.serving import local_cache

    _shop, _version = trained
    first = recommend("CUST-001", "for_you", limit=5)
    assert first[0].source == "model"  # a trained shopper: their vector is used
    cache.bump("subject:CUST-001")  # a new event: the list is computed again
    local_cache.forget_lists()
    reads: list[tuple[str, ...]] = []
    execute = redis.Redis.execute_command

    def spy(self, *args, **options):  # type: ignore[no-untyped-def]
        reads.append(tuple(str(a) for a in args[:3]))
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    again = recommend("CUST-001", "for_you", limit=5)
    assert [r.product_key for r in again] == [r.product_key for r in first]
    namespace_reads = [r for r in reads if any("ns:subject:CUST-001" in part for part in r)]
    assert [r[0] for r in namespace_reads] == ["MGET"]  # with the list, and only then
    flag, at = cache.suppressed_keys("CUST-001")
    assert cache.get(flag) == 0 and cache.get(at) == cache.ns_version("subject:CUST-001")  # standing at the version read


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_a_trained_shoppers_flag_outlives_their_new_events_not_an_erasure(backend, request, trained, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Whether their trained vector was erased changes only with an erasure: a new event
    carries the cached flag to their namespace's next version, so their recompute reads it
    with their list and queries nothing about it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reco_app.models import Event
    from reco_app.serving import local_cache
    from reco_app.tracking.service import store

    if backend == "redis":
        request.getfixturevalue("redis_cache")

    def suppression_reads(queries: list[dict[str, str]]) -> int:
        return sum("reco_app_suppressedsubject" in q["sql"] for q in queries)

    first = recommend("CUST-001", "for_you", limit=5)
    assert first[0].source == "model"
    before_ns = cache.ns_version("subject:CUST-001")
    with django_capture_on_commit_callbacks(execute=True):
        stored = store([Event(subject="CUST-001", event_type="product_view", product_key=first[0].product_key,
                              consent="granted", source="server", timestamp=timezone.now())])
    assert len(stored.stored) == 1
    flag, at = cache.suppressed_keys("CUST-001")
    assert cache.get(flag) == 0  # (not erased)
    assert cache.get(at) == cache.ns_version("subject:CUST-001") > before_ns  # carried by the event's bump
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as after_event:
        again = recommend("CUST-001", "for_you", limit=5)
    assert again[0].source == "model" and suppression_reads(after_event.captured_queries) == 0
    assert any("reco_app_event" in q["sql"] for q in after_event.captured_queries)  # (the list was computed again)
    cache.bump_many(["subject:CUST-001"])  # an erasure's bump (their vector suppressed meanwhile) carries nothing
    local_cache.forget_lists()
    with CaptureQueriesContext(connection) as after_erasure:
        recommend("CUST-001", "for_you", limit=5)
    assert suppression_reads(after_erasure.captured_queries) == 1
