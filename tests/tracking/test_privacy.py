from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from reco_app import cache
from reco_app.consent import privacy
from reco_app.models import ConsentRecord, Event
from tests.helpers import customer_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(consenting, product_url, django_user_model):  # type: ignore[no-untyped-def]
    """A shopper who browsed anonymously, logged in, and browsed more."""
    consenting.get(product_url)
    user = django_user_model.objects.create_user("dee", password="pw-123456")
    consenting.post("/accounts/login/", {"username": "dee", "password": "pw-123456"})
    consenting.get(product_url)
    # an earlier refusal (a month before the grant at login), which that grant overrode
    refusal = ConsentRecord.objects.create(user=user, subject=customer_key(user), granted=False, method="banner", policy_version="0")
    ConsentRecord.objects.filter(pk=refusal.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    Event.objects.create(subject="someone-else", event_type="purchase", product_key="SKU-1", timestamp=timezone.now())
    return user


def test_export_reaches_events_and_consent_records(shopper) -> None:  # type: ignore[no-untyped-def]
    subjects = privacy.subjects_for_user(shopper)
    assert subjects[0] == customer_key(shopper) and subjects[1].startswith("anon:")
    doc = privacy.export(subjects)
    assert len(doc["data"]["events"]) == 2
    assert {r["method"] for r in doc["data"]["consent_records"]} == {"login", "banner"}
    json.dumps(doc)  # a JSON document


def test_erasure_reaches_every_table_and_the_cache(shopper) -> None:  # type: ignore[no-untyped-def]
    subjects = privacy.subjects_for_user(shopper)
    versions = [cache.ns_version(f"subject:{s}") for s in subjects]
    counts = privacy.erase(subjects)
    # the grant, and the refusal it overrode: kept, that would read as their decision now
    assert counts["events"] == 2 and counts["consent_records"] == 2
    assert list(Event.objects.values_list("subject", flat=True)) == ["someone-else"]
    assert not ConsentRecord.objects.exists()
    # every cached list of theirs is invalidated (several holders may each bump it)
    after = [cache.ns_version(f"subject:{s}") for s in subjects]
    assert all(a > v for a, v in zip(after, versions, strict=True))


def test_erasure_reaches_redis(shopper, redis_cache) -> None:  # type: ignore[no-untyped-def]
    key = f"subject:{customer_key(shopper)}"
    before = cache.ns_version(key)
    privacy.erase([customer_key(shopper)])
    assert redis_cache.get(cache.make_key("ns", key)) > before


def test_self_service_page_export_and_erase(shopper, consenting) -> None:  # type: ignore[no-untyped-def]
    page = consenting.get("/reco/privacy/")
    assert page.status_code == 200 and b"Download my data" in page.content
    download = consenting.get("/reco/privacy/export/")
    assert download["Content-Disposition"].startswith("attachment") and len(json.loads(download.content)["data"]["events"]) == 2
    assert consenting.post("/reco/privacy/erase/").status_code == 400  # confirmation required
    done = consenting.post("/reco/privacy/erase/", {"confirm": "1"})
    assert done.status_code == 302 and done["Location"].endswith("/reco/privacy/?erased=1")
    assert not Event.objects.filter(subject=customer_key(shopper)).exists()


def test_my_data_needs_login(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/reco/privacy/").status_code == 302


def test_command_and_admin_actions(shopper, admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.json"
    call_command("reco_privacy", "export", "--user", "dee", "-o", str(out), stdout=StringIO())
    assert len(json.loads(out.read_text())["data"]["events"]) == 2
    ids = list(Event.objects.filter(subject=customer_key(shopper)).values_list("pk", flat=True))
    response = admin_client.post("/admin/reco_app/event/", {"action": "export_subjects", "_selected_action": ids})
    # the customer key and the visitor id joined to it at login, as for --user
    assert response.status_code == 200 and json.loads(response.content)["subjects"] == privacy.subjects_for_user(shopper)
    admin_client.post("/admin/reco_app/event/", {"action": "erase_subjects", "_selected_action": ids})
    assert not Event.objects.filter(subject=customer_key(shopper)).exists()
    with pytest.raises(Exception, match="--yes"):
        call_command("reco_privacy", "erase", "--subject", "someone-else")
    call_command("reco_privacy", "erase", "--subject", "someone-else", "--yes", stdout=StringIO())
    assert Event.objects.count() == 0


def test_retention_purge(db) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    for days in (10, 394, 396, 800):
        Event.objects.create(subject="s", event_type="product_view", product_key="P", timestamp=now - dt.timedelta(days=days))
    out = StringIO()
    call_command("reco_purge_events", stdout=out)
    assert "Purged 2" in out.getvalue()
    from reco_app.tasks import purge_events

    assert purge_events.apply(args=(100,)).get() == 1
    assert Event.objects.count() == 1
    with pytest.raises(Exception, match="give at least 1"):  # a typo must not delete everything
        call_command("reco_purge_events", "--days", "-1", stdout=StringIO())
    assert Event.objects.count() == 1


def test_bump_many_invalidates_each_namespace_on_redis(redis_cache) -> None:  # type: ignore[no-untyped-def]
    before = [cache.ns_version("subject:a"), cache.ns_version("subject:b")]
    cache.bump_many(["subject:a", "subject:b", "subject:a"])
    assert [cache.ns_version("subject:a"), cache.ns_version("subject:b")] == [v + 1 for v in before]


def test_a_never_read_shopper_namespace_is_created_at_a_fresh_version_and_bumps_move_past_it(redis_cache) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving.local_cache import ns_versions

    first = ns_versions(["subject:never-read"])["subject:never-read"]
    assert first > 1  # created on first read: nothing is keyed with a "missing" version
    assert ns_versions(["subject:never-read"]) == {"subject:never-read": first}
    cache.bump_many(["subject:never-read"])
    assert ns_versions(["subject:never-read"]) == {"subject:never-read": first + 1}


def test_bump_on_redis_returns_the_new_version(redis_cache) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving.local_cache import ns_versions

    version = cache.bump("subject:fresh")
    assert version > 1 and ns_versions(["subject:fresh"]) == {"subject:fresh": version}
    assert cache.bump("subject:fresh") == version + 1 and cache.ns_version("subject:fresh") == version + 1
    assert cache.bump("rules") == 2  # global namespaces still count from 1


def test_an_erasure_makes_as_many_redis_round_trips_for_twenty_shoppers_as_for_one(redis_cache) -> None:  # type: ignore[no-untyped-def]
    """The erasure holds the exclusive erasure lock meanwhile: its Redis work must not grow
    with the number of shoppers (one bump script, one pipeline for their indexes)."""
    from redis.client import Pipeline, Redis

    calls: list[str] = []
    command, pipeline = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(str(args[0]))
        return command(self, *args, **kwargs)

    def counted_pipeline(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("PIPELINE")
        return pipeline(self, *args, **kwargs)

    trips = {}
    for n in (1, 20):
        subjects = [f"c{n}-{i}" for i in range(n)]
        Event.objects.bulk_create([Event(subject=s, event_type="product_view", product_key="p", timestamp=timezone.now()) for s in subjects])
        calls.clear()
        Redis.execute_command, Pipeline.execute = counted_command, counted_pipeline  # type: ignore[method-assign]
        try:
            privacy.erase(subjects)
        finally:
            Redis.execute_command, Pipeline.execute = command, pipeline  # type: ignore[method-assign]
        trips[n] = len(calls)
    assert trips[20] == trips[1], trips


def test_erasure_keeps_a_refusal_that_still_stands(shopper) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent.backends import Decision, account_decision

    ConsentRecord.objects.create(user=shopper, subject=customer_key(shopper), granted=False, method="withdrawal", policy_version="1")
    assert privacy.erase(privacy.subjects_for_user(shopper))["consent_records"] == 2  # the grant and the refusal before it
    assert list(ConsentRecord.objects.values_list("granted", "method")) == [(False, "withdrawal")]
    assert account_decision(shopper) is Decision.DENIED


def test_erasing_after_turning_personalisation_on_again_leaves_it_on(consenting, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """Withdrawn once, turned on again, then "Erase my data": the erasure refuses nothing, so
    the old withdrawal must not come back as the account's decision."""
    user = django_user_model.objects.create_user("flo", password="pw-123456")
    consenting.post("/accounts/login/", {"username": "flo", "password": "pw-123456"})
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    consenting.post("/reco/consent/accept/")
    consenting.get(product_url)
    assert consenting.post("/reco/privacy/erase/", {"confirm": "1"}).status_code == 302
    assert not Event.objects.filter(subject=customer_key(user)).exists()
    assert not ConsentRecord.objects.for_user(user).exists()
    consenting.get(product_url)
    assert Event.objects.filter(subject=customer_key(user)).count() == 1


def test_export_and_erasure_reach_events_tied_to_the_account_under_an_old_key(consenting, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """A renamed user (example_shop's customer key is the username): the events stored
    under the old key still carry the user."""
    user = django_user_model.objects.create_user("gil", password="pw-123456")
    consenting.post("/accounts/login/", {"username": "gil", "password": "pw-123456"})
    consenting.get(product_url)
    user.username = "gil2"
    user.save()
    subjects = privacy.subjects_for_user(user)
    assert [e["subject"] for e in privacy.export(subjects)["data"]["events"]] == ["gil"]
    privacy.erase(subjects)
    assert not Event.objects.filter(user=user).exists()


def _renamed(consenting, product_url, django_user_model):  # type: ignore[no-untyped-def]
    """"ola" browsed anonymously, signed in (her history joined "ola"), was put in a segment
    under that key and under her visitor id, then renamed to "ola2"."""
    from reco_app.models import Segment, SegmentMembership

    consenting.get(product_url)
    visitor = Event.objects.get().visitor_id
    user = django_user_model.objects.create_user("ola", password="pw-123456")
    consenting.post("/accounts/login/", {"username": "ola", "password": "pw-123456"})
    consenting.get(product_url)
    segment = Segment.objects.create(key="rfm:champions", name="Champions", kind="rfm")
    SegmentMembership.objects.create(segment=segment, subject="ola")
    SegmentMembership.objects.create(segment=segment, subject=f"anon:{visitor}")
    user.username = "ola2"
    user.save()
    return user, visitor


def test_a_renamed_users_earlier_key_and_joined_visitor_are_theirs(consenting, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """Derived data (segments, cached lists, model vectors) sits under the subject keys, not
    the user column: the keys their events were stored under before the rename are theirs."""
    from reco_app.models import SegmentMembership

    user, visitor = _renamed(consenting, product_url, django_user_model)
    subjects = privacy.subjects_for_user(user)
    assert subjects == ["ola2", "ola", f"anon:{visitor}"]
    doc = privacy.export(subjects)
    assert len(doc["data"]["events"]) == 2
    assert sorted(m["subject"] for m in doc["data"]["segments"]) == ["anon:" + visitor, "ola"]
    # the admin, picking the earlier key, reaches the same person
    assert sorted(privacy.expand_subjects(["ola"])) == sorted(subjects)
    privacy.erase(subjects)
    assert not Event.objects.exists() and not SegmentMembership.objects.exists()


def test_a_customer_key_given_to_another_account_reaches_only_that_accounts_rows(consenting, product_url, django_user_model, client) -> None:  # type: ignore[no-untyped-def]
    """"ola" is renamed and a newcomer signs up as "ola": the newcomer's export and erasure
    never include the rows tied to the first account, and the first account's never the
    newcomer's."""
    user, _ = _renamed(consenting, product_url, django_user_model)
    newcomer = django_user_model.objects.create_user("ola", password="pw-654321")
    theirs = Event.objects.create(subject="ola", user=newcomer, event_type="purchase", product_key="SKU-9",
                                  timestamp=timezone.now())
    mine = privacy.subjects_for_user(newcomer)
    assert mine == ["ola"]  # not the first account's visitor id
    assert [e["id"] for e in privacy.export(mine)["data"]["events"]] == [theirs.pk]
    assert "ola" not in privacy.subjects_for_user(user)  # that key is the newcomer's now
    client.force_login(newcomer)
    assert client.get("/reco/privacy/").context["event_count"] == 1
    privacy.erase(mine)
    assert Event.objects.filter(user=user).count() == 2  # the first account's history stands
    privacy.erase(privacy.subjects_for_user(user))
    assert not Event.objects.exists()


def test_the_admin_and_the_visitor_of_a_renamed_account_never_reach_the_new_holder_of_its_key(consenting, product_url, django_user_model, admin_client) -> None:  # type: ignore[no-untyped-def]
    """A row tied to the renamed account, picked in the admin, and that account's joined
    visitor id name that account, not whoever has its earlier key now."""
    user, visitor = _renamed(consenting, product_url, django_user_model)
    newcomer = django_user_model.objects.create_user("ola", password="pw-654321")
    theirs = Event.objects.create(subject="ola", user=newcomer, visitor_id="v2", event_type="purchase",
                                  product_key="SKU-9", timestamp=timezone.now())
    ConsentRecord.objects.create(user=newcomer, subject="ola", granted=True, method="login", policy_version="1")
    old = Event.objects.filter(user=user).first()
    response = admin_client.post("/admin/reco_app/event/", {"action": "export_subjects", "_selected_action": [old.pk]})  # type: ignore[union-attr]
    exported = json.loads(response.content)
    assert "anon:v2" not in exported["subjects"] and theirs.pk not in {e["id"] for e in exported["data"]["events"]}
    assert not [r for r in exported["data"]["consent_records"] if r["user_id"] == newcomer.pk]
    assert sorted(privacy.expand_subjects([f"anon:{visitor}"])) == sorted(privacy.subjects_for_user(user))
    admin_client.post("/admin/reco_app/event/", {"action": "erase_subjects", "_selected_action": [old.pk]})  # type: ignore[union-attr]
    assert list(Event.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert ConsentRecord.objects.filter(user=newcomer).exists()


def test_a_long_key_given_to_another_account_is_that_accounts(db, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """Shortened keys cannot be turned back into a user by the adapter: the account the rows
    under it are tied to whose key it is now."""
    from reco_app.adapter import customer_subject

    long_name = "l" * 140
    short = customer_subject(long_name)
    first = django_user_model.objects.create_user(long_name, password="pw-123456")
    Event.objects.create(subject=short, user=first, event_type="purchase", product_key="A", timestamp=timezone.now())
    first.username = "short1"
    first.save()
    second = django_user_model.objects.create_user(long_name, password="pw-654321")
    ConsentRecord.objects.create(user=second, subject=short, granted=True, method="login", policy_version="1")
    imported = Event.objects.create(subject=short, event_type="purchase", product_key="B", timestamp=timezone.now())
    assert [e["id"] for e in privacy.export(privacy.subjects_for_user(second))["data"]["events"]] == [imported.pk]
    assert short not in privacy.subjects_for_user(first)
    privacy.erase(privacy.subjects_for_user(first))
    assert list(Event.objects.values_list("pk", flat=True)) == [imported.pk]


def test_a_deleted_accounts_kept_refusal_is_not_the_next_holders_of_its_key(db, django_user_model) -> None:  # type: ignore[no-untyped-def]
    first = django_user_model.objects.create_user("zed", password="pw-123456")
    ConsentRecord.objects.create(user=first, subject="zed", granted=False, method="withdrawal", policy_version="1")
    first.delete()  # the refusal is kept as proof, tied to no account now
    second = django_user_model.objects.create_user("zed", password="pw-654321")
    assert privacy.export(privacy.subjects_for_user(second))["data"]["consent_records"] == []
    privacy.erase(privacy.subjects_for_user(second))
    assert ConsentRecord.objects.filter(user=None, subject="zed").exists()  # still the proof


def test_the_my_data_page_counts_what_the_export_lists(consenting, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    user, _ = _renamed(consenting, product_url, django_user_model)
    page = consenting.get("/reco/privacy/")
    assert page.context["event_count"] == 2 == len(privacy.export(privacy.subjects_for_user(user))["data"]["events"])


def test_the_command_shortens_a_long_customer_key_as_the_capture_paths_do(db) -> None:  # type: ignore[no-untyped-def]
    from reco_app.adapter import customer_subject

    key = "customer-" + "k" * 140
    Event.objects.create(subject=customer_subject(key), event_type="purchase", product_key="A", timestamp=timezone.now())
    out = StringIO()
    call_command("reco_privacy", "export", "--subject", key, stdout=out)
    assert len(json.loads(out.getvalue())["data"]["events"]) == 1
    call_command("reco_privacy", "erase", "--subject", key, "--yes", stdout=StringIO())
    assert not Event.objects.exists()


def test_the_command_finds_a_visitor_who_signed_in_under_their_account(consenting, product_url, django_user_model) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    visitor = Event.objects.get().visitor_id
    django_user_model.objects.create_user("hal", password="pw-123456")
    consenting.post("/accounts/login/", {"username": "hal", "password": "pw-123456"})  # the history joins "hal"
    out = StringIO()
    call_command("reco_privacy", "export", "--subject", f"anon:{visitor}", stdout=out)
    assert [e["visitor_id"] for e in json.loads(out.getvalue())["data"]["events"]] == [visitor]
    call_command("reco_privacy", "erase", "--subject", f"anon:{visitor}", "--yes", stdout=StringIO())
    assert not Event.objects.filter(visitor_id=visitor).exists()


@pytest.mark.django_db(transaction=True)
def test_an_erasure_of_the_account_waits_for_a_login_joining_history_to_it(postgres_db, django_user_model) -> None:  # type: ignore[no-untyped-def]
    """A login joins a visitor's history to the account while "Erase my data" runs on
    another device: the erasure waits for the join to commit and erases the joined events
    too, instead of missing them (they were still anonymous when it looked)."""
    import threading
    import time

    from django.db import connection, transaction

    from reco_app.tracking.receivers import merge_visitor_history

    alice = django_user_model.objects.create_user("alice", password="pw-123456")
    now = timezone.now()
    Event.objects.create(subject="alice", user=alice, visitor_id="v1", event_type="product_view", product_key="P", timestamp=now, consent="granted")
    for _ in range(2):
        Event.objects.create(subject="anon:v2", visitor_id="v2", event_type="product_view", product_key="Q", timestamp=now, consent="granted")
    subjects = privacy.subjects_for_user(alice)
    joined = threading.Event()
    moved: list[int] = []

    def login() -> None:
        try:
            with transaction.atomic():  # the login request's transaction, still open for a moment
                moved.append(merge_visitor_history(alice, "v2"))
                joined.set()
                time.sleep(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=login)
    thread.start()
    assert joined.wait(10)
    privacy.erase(subjects)
    thread.join()
    assert moved == [2]
    assert not Event.objects.exists()


def test_deleting_an_account_erases_its_data(shopper) -> None:  # type: ignore[no-untyped-def]
    """Not only the events the user column ties to it (the database's cascade): imported
    history under its key, segment memberships, cached state and consent grants go too."""
    from reco_app.models import Segment, SegmentMembership

    key = customer_key(shopper)
    Event.objects.create(subject=key, event_type="purchase", product_key="SKU-9", timestamp=timezone.now(), consent="imported")
    segment = Segment.objects.create(key="vip", name="VIP", kind="manual")
    SegmentMembership.objects.create(segment=segment, subject=key, reason="staff")
    version = cache.ns_version(f"subject:{key}")
    shopper.delete()
    assert list(Event.objects.values_list("subject", flat=True)) == ["someone-else"]
    assert not SegmentMembership.objects.filter(subject=key).exists()
    assert not ConsentRecord.objects.filter(granted=True).exists()
    assert cache.ns_version(f"subject:{key}") > version


def test_deleting_an_account_through_a_proxy_of_the_user_model_erases_its_data(shopper) -> None:  # type: ignore[no-untyped-def]
    from django.test.utils import isolate_apps

    with isolate_apps("django.contrib.auth"):
        class Customer(type(shopper)):  # a shop's proxy of its user model, e.g. for an admin of its own
            class Meta:
                proxy = True
                app_label = "auth"

    proxy = Customer
    key = customer_key(shopper)
    Event.objects.create(subject=key, event_type="purchase", product_key="SKU-9", timestamp=timezone.now(), consent="imported")
    proxy.objects.get(pk=shopper.pk).delete()
    assert not Event.objects.filter(subject=key).exists()


def test_an_erasure_refreshes_the_cached_decision_once_per_account(shopper, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ConsentRecord.objects.bulk_create([
        ConsentRecord(user=shopper, subject=customer_key(shopper), granted=True, method="banner", policy_version="1") for _ in range(40)
    ])
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        privacy.erase(privacy.subjects_for_user(shopper))
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT") and "consentrecord" in q["sql"]]
    assert len(reads) <= 4, reads
    assert not ConsentRecord.objects.exists()


@contextmanager
def _erasure_lock_held_by_a_job():  # type: ignore[no-untyped-def]
    """A segment job writing meanwhile: it holds the erasure lock shared until the block ends.
    Tasks run eagerly inside (no worker here: derived data left for later goes at the commit)."""
    import threading

    from celery import current_app
    from django.db import connection, transaction

    from reco_app import erasure

    holding, release = threading.Event(), threading.Event()

    def job() -> None:
        try:
            with transaction.atomic():
                erasure.lock_shared()
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    thread = threading.Thread(target=job)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        thread.join()
        current_app.conf.task_always_eager = eager


def _shopper_with_data(django_user_model, username: str):  # type: ignore[no-untyped-def]
    """A user with a consent grant, a tracked and an imported event and a segment membership."""
    from reco_app.consent.service import record
    from reco_app.models import Segment, SegmentMembership

    user = django_user_model.objects.create_user(username, password="pw-123456")
    key = customer_key(user)
    record(user, key, granted=True, method=ConsentRecord.Method.LOGIN)
    Event.objects.create(subject=key, user=user, event_type="product_view", product_key="P", timestamp=timezone.now(), consent="granted")
    Event.objects.create(subject=key, event_type="purchase", product_key="Q", timestamp=timezone.now(), consent="imported")
    segment, _ = Segment.objects.get_or_create(key="vip", defaults={"name": "VIP", "kind": "manual"})
    SegmentMembership.objects.create(segment=segment, subject=key, reason="staff")
    return user


def _left_of(user) -> list[object]:  # type: ignore[no-untyped-def]
    from reco_app.models import SegmentMembership

    key = customer_key(user)
    return [*Event.objects.filter(subject=key), *ConsentRecord.objects.filter(subject=key, granted=True),
            *SegmentMembership.objects.filter(subject=key)]


@pytest.mark.django_db(transaction=True)
def test_deleting_accounts_while_a_job_holds_the_erasure_lock(postgres_db, django_user_model, settings) -> None:  # type: ignore[no-untyped-def]
    """ERASURE_LOCK_TIMEOUT runs out once for a bulk delete, not once per user: the events
    and the consent grants go with the users at once, the derived data once the lock is free."""
    from django.db import connection

    settings.RECO_APP = {**settings.RECO_APP, "ERASURE_LOCK_TIMEOUT": 0.2}
    users = [_shopper_with_data(django_user_model, f"busy{i}") for i in range(3)]
    waits: list[str] = []

    def count_waits(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "pg_advisory_xact_lock(" in sql:
            waits.append(sql)
        return execute(sql, params, many, context)

    with _erasure_lock_held_by_a_job(), connection.execute_wrapper(count_waits):
        django_user_model.objects.filter(pk__in=[u.pk for u in users]).delete()  # the admin's bulk delete
    assert len(waits) == 1
    assert [_left_of(u) for u in users] == [[], [], []]


@pytest.mark.django_db(transaction=True)
def test_a_deletion_in_a_later_transaction_waits_for_the_lock_again(postgres_db, django_user_model, settings) -> None:  # type: ignore[no-untyped-def]
    """Autocommit off: a deletion that found the lock busy does not make the next
    transaction's deletion skip the erasure of its derived data."""
    from django.db import transaction

    settings.RECO_APP = {**settings.RECO_APP, "ERASURE_LOCK_TIMEOUT": 0.2}
    first, second = _shopper_with_data(django_user_model, "first"), _shopper_with_data(django_user_model, "second")
    transaction.set_autocommit(False)
    try:
        with _erasure_lock_held_by_a_job():
            first.delete()
            transaction.commit()
        second.delete()  # the lock is free now: erased in full, at once
        transaction.commit()
        left = _left_of(second)
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert left == []


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_meeting_an_erasure_of_the_same_events_does_not_fail(postgres_db) -> None:  # type: ignore[no-untyped-def]
    """The erasure holds its lock and then deletes the events a withdrawal has just deleted
    (uncommitted) before asking for the same lock: PostgreSQL ends one of them (a
    deadlock). The withdrawal's events go all the same, its derived data once the lock is
    free; the erasure then completes."""
    import threading
    import time

    from django.db import connection, transaction

    from reco_app import erasure
    from reco_app.consent import service

    now = timezone.now()
    Event.objects.bulk_create([Event(subject="ria", event_type="product_view", product_key=f"P{i}", timestamp=now)
                               for i in range(3)])
    locked, failures = threading.Event(), []

    def erasing() -> None:
        try:
            with transaction.atomic():
                erasure.lock_exclusive()
                locked.set()
                time.sleep(0.5)  # (the withdrawal deletes the events meanwhile)
                Event.objects.filter(subject="ria").delete()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=erasing)
    thread.start()
    try:
        assert locked.wait(10)
        service.forget(["ria"], [])  # the withdrawal, in the meantime
    finally:
        thread.join()
    assert failures == [] and not Event.objects.exists()
