from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from django.test import Client, override_settings

from example_shop.settings import RECO_APP
from reco_app.models import ConsentRecord, DroppedEventCount, Event
from reco_app.models.events import ConsentBasis
from tests.helpers import customer_key
from tests.tracking.conftest import accept

pytestmark = pytest.mark.django_db


def test_without_consent_no_event_row_and_no_reco_cookie(client, product_url) -> None:  # type: ignore[no-untyped-def]
    response = client.get(product_url)
    assert response.status_code == 200
    assert Event.objects.count() == 0
    assert "reco_v" not in response.cookies
    dropped = DroppedEventCount.objects.get(reason="no_consent", event_type="product_view")
    assert dropped.count == 1


def test_with_consent_the_view_is_stored_under_a_pseudonymous_cookie(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    cookie = consenting.cookies["reco_v"]  # (set by the accepting response)
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    event = Event.objects.get()
    assert cookie.value.startswith(f"{event.visitor_id}:")
    assert (event.event_type, event.product_key, event.consent) == ("product_view", "SKU-1", ConsentBasis.GRANTED)
    assert event.subject == f"anon:{event.visitor_id}" and len(event.visitor_id) == 32
    assert event.context["device"] in {"desktop", "unknown"}


@pytest.mark.parametrize(("header", "reason"), [("HTTP_SEC_GPC", "gpc"), ("HTTP_DNT", "dnt")])
def test_privacy_signals_count_as_refusal(client, product_url, header, reason) -> None:  # type: ignore[no-untyped-def]
    response = client.get(product_url, **{header: "1"})
    assert Event.objects.count() == 0 and "reco_v" not in response.cookies
    assert DroppedEventCount.objects.get(reason=reason).count == 1


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
@pytest.mark.parametrize(("header", "value"), [("HTTP_SEC_GPC", "1, 1"), ("HTTP_DNT", "1,1"), ("HTTP_SEC_GPC", "0, 1")])
def test_a_privacy_signal_sent_twice_is_still_a_refusal(client, product_url, header, value) -> None:  # type: ignore[no-untyped-def]
    """A header sent twice (a browser and an extension) reaches Django joined with a comma."""
    response = client.get(product_url, **{header: value})
    assert Event.objects.count() == 0 and "reco_v" not in response.cookies


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
@pytest.mark.parametrize("value", ["0", "", "10", "0, 0"])
def test_other_privacy_signal_values_are_no_refusal(client, product_url, value) -> None:  # type: ignore[no-untyped-def]
    client.get(product_url, HTTP_SEC_GPC=value, HTTP_DNT=value)
    assert Event.objects.count() == 1


def test_privacy_signal_yields_to_an_explicit_opt_in(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url, HTTP_SEC_GPC="1")
    assert Event.objects.count() == 1


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_opt_out_regime_stores_until_refused_but_still_honours_gpc(client, product_url) -> None:  # type: ignore[no-untyped-def]
    client.get(product_url)
    assert Event.objects.get().consent == ConsentBasis.OPT_OUT
    response = client.get(product_url, HTTP_SEC_GPC="1")  # an objection: cookie and history go
    assert Event.objects.count() == 0 and response.cookies["reco_v"]["max-age"] == 0
    client.get(product_url)
    assert Event.objects.count() == 1
    client.post("/reco/consent/refuse/")
    assert Event.objects.count() == 0
    client.get(product_url)
    assert Event.objects.count() == 0


def test_declining_the_banner_keeps_the_shop_working_without_cookie(client, product_url) -> None:  # type: ignore[no-untyped-def]
    home = client.get("/")
    assert b"reco-consent-banner" in home.content
    client.post("/reco/consent/refuse/", {"next": "/"})
    home = client.get("/")
    assert home.status_code == 200 and b"reco-consent-banner" not in home.content
    assert client.get(product_url).status_code == 200
    assert Event.objects.count() == 0 and "reco_v" not in client.cookies


def test_withdrawal_deletes_the_history_and_takes_effect_next_request(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    consenting.get(product_url)
    assert Event.objects.count() == 2
    response = consenting.post("/reco/consent/refuse/", {"withdraw": "1", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["reco_v"]["max-age"] == 0  # the visitor cookie is removed
    assert Event.objects.count() == 0
    after = consenting.get(product_url)
    assert Event.objects.count() == 0 and "reco_v" not in after.cookies


@override_settings(RECO_APP={**RECO_APP, "WITHDRAWAL_ACTION": "anonymise"})
def test_withdrawal_can_anonymise_instead(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    event = Event.objects.get()
    assert (event.subject, event.visitor_id, event.session_id, event.consent) == ("", "", "", ConsentBasis.ANONYMISED)
    assert not Event.objects.consented().exists()


def test_logged_in_decisions_are_recorded_and_follow_the_account(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("ann", password="pw-123456")
    client.force_login(user)
    accept(client)
    rec = ConsentRecord.objects.get(user=user)
    assert (rec.granted, rec.method, rec.policy_version, rec.subject) == (True, "banner", "1", customer_key(user))
    other_device = type(client)()
    other_device.force_login(user)
    other_device.get(product_url)
    assert Event.objects.get().subject == customer_key(user)
    other_device.post("/reco/consent/refuse/", {"withdraw": "1"})
    assert list(ConsentRecord.objects.for_user(user).values_list("granted", "method")) == [(False, "withdrawal"), (True, "banner")]
    assert Event.objects.count() == 0


def test_bots_are_dropped(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url, HTTP_USER_AGENT="Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert Event.objects.count() == 0
    assert DroppedEventCount.objects.get(reason="bot").count == 1


def test_cookie_group_exists_for_the_banner() -> None:
    from cookie_consent.models import CookieGroup

    assert CookieGroup.objects.filter(varname="personalisation").exists()


def _member(subject: str, key: str = "live:high_intent") -> None:
    from reco_app.models import Segment, SegmentMembership

    segment, _ = Segment.objects.get_or_create(key=key, defaults={"name": key, "kind": "live"})
    SegmentMembership.objects.create(segment=segment, subject=subject, reason="3 add-to-carts in this session")


def _signed_in(client, django_user_model, username: str):  # type: ignore[no-untyped-def]
    """Sign in through the shop's login form (so the login signal sees the browser's cookies)."""
    user = django_user_model.objects.create_user(username, password="pw-123456")
    assert client.post("/accounts/login/", {"username": username, "password": "pw-123456"}).status_code == 302
    return user


def test_declining_in_the_shops_cookie_settings_withdraws_for_the_account(consenting, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """Consent withdrawn outside reco's own buttons (django-cookie-consent's settings page)
    reaches a signed-in shopper's history and their other devices, from the next request."""
    from reco_app.models import SegmentMembership, SuppressedSubject

    user = _signed_in(consenting, django_user_model, "carol")
    consenting.get(product_url)
    consenting.get(product_url)
    key = customer_key(user)
    assert Event.objects.filter(subject=key).count() == 2
    _member(key)
    consenting.post("/cookies/decline/", {"cookie_groups": "personalisation"})
    assert Event.objects.filter(subject=key).count() == 2  # the cookie page itself is not ours
    response = consenting.get(product_url)  # the next request applies the withdrawal
    assert Event.objects.count() == 0 and response.cookies["reco_v"]["max-age"] == 0
    assert not SegmentMembership.objects.filter(subject=key).exists()
    # no model has been trained, so none holds a vector to ignore: no suppression row (docs/training.rst)
    assert not SuppressedSubject.objects.filter(subject=key).exists()
    latest = ConsentRecord.objects.for_user(user).first()
    assert (latest.granted, latest.method) == (False, "cookie_settings")
    second_device = type(consenting)()
    second_device.force_login(user)
    second_device.get(product_url)
    assert Event.objects.count() == 0  # the account's refusal follows it


def test_a_refusal_on_one_device_outranks_an_acceptance_kept_by_another(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    user = _signed_in(client, django_user_model, "hank")
    accept(client)
    device_b = type(client)()
    accept(device_b)  # accepted in this browser too ...
    device_b.force_login(user)
    device_b.get(product_url)
    assert Event.objects.count() == 1
    client.post("/reco/consent/refuse/", {"withdraw": "1"})  # ... then withdrawn on device A
    assert Event.objects.count() == 0
    response = device_b.get(product_url)
    assert Event.objects.count() == 0 and response.cookies["reco_v"]["max-age"] == 0
    assert b"Turn on personalised recommendations" in device_b.get("/reco/privacy/").content
    accept(device_b)  # accepting again while signed in records a grant on the account
    device_b.get(product_url)
    assert Event.objects.get().subject == customer_key(user)
    assert ConsentRecord.objects.for_user(user).first().granted


def _decisions(user):  # type: ignore[no-untyped-def]
    """The account's consent records, oldest first."""
    return list(ConsentRecord.objects.for_user(user).values_list("granted", "method"))[::-1]


@pytest.mark.parametrize("how", [{"withdraw": "1"}, {}], ids=["withdrawn", "declined on the banner"])
def test_a_signed_in_shopper_who_refused_can_turn_personalisation_on_again(client, django_user_model, product_url, how) -> None:  # type: ignore[no-untyped-def]
    """The accepting request still carries the declining cookie: it must not be read as a
    new refusal (which would record one after the grant and forget the history again)."""
    user = _signed_in(client, django_user_model, "eddie")
    accept(client)
    client.post("/reco/consent/refuse/", how)
    accept(client)  # "Turn on personalised recommendations" on "Your data", or the banner
    client.get(product_url)
    client.get(product_url)
    assert Event.objects.filter(subject=customer_key(user)).count() == 2
    refusal = (False, "withdrawal" if how else "banner")
    assert _decisions(user) == [(True, "banner"), refusal, (True, "banner")]
    assert b"Turn on personalised recommendations" not in client.get("/reco/privacy/").content


def test_a_decline_kept_from_an_anonymous_visit_stays_with_that_browser(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """"No thanks" said before signing in: on signing in, this browser is not tracked, and
    the history the account collected on another device, with consent there, is kept."""
    laptop = type(client)()
    user = _signed_in(laptop, django_user_model, "fran")
    accept(laptop)
    laptop.get(product_url)
    client.post("/reco/consent/refuse/")  # the banner's "No thanks", signed out
    assert client.post("/accounts/login/", {"username": "fran", "password": "pw-123456"}).status_code == 302
    client.get(product_url)
    assert list(Event.objects.values_list("subject", flat=True)) == [customer_key(user)]
    assert _decisions(user) == [(True, "banner")]
    laptop.get(product_url)
    assert Event.objects.count() == 2  # the laptop still collects


def test_a_privacy_signal_under_opt_in_records_nothing_on_the_account(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """Nothing is collected without a decision in the opt-in regime, so GPC has nothing to
    withdraw: no refusal is recorded, and the banner still offers the explicit opt-in."""
    user = _signed_in(client, django_user_model, "gus")
    client.get("/", HTTP_SEC_GPC="1")
    assert b"reco-consent-banner" in client.get("/", HTTP_SEC_GPC="1").content
    assert _decisions(user) == [] and Event.objects.count() == 0


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_gpc_under_opt_out_withdraws_a_signed_in_shoppers_history(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    user = _signed_in(client, django_user_model, "ivy")
    client.get(product_url)
    client.get(product_url)
    assert Event.objects.filter(subject=customer_key(user), consent=ConsentBasis.OPT_OUT).count() == 2
    client.get(product_url, HTTP_SEC_GPC="1")
    assert Event.objects.count() == 0
    latest = ConsentRecord.objects.for_user(user).first()
    assert (latest.granted, latest.method) == (False, "signal")
    client.get(product_url, HTTP_SEC_GPC="1")
    assert ConsentRecord.objects.for_user(user).count() == 1  # recorded once


def test_withdrawal_reaches_the_browsers_events_joined_to_an_account_and_its_segments(consenting, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    from reco_app.models import SegmentMembership

    consenting.get(product_url)
    vid = Event.objects.get().visitor_id
    _member(f"anon:{vid}")
    user = _signed_in(consenting, django_user_model, "bob")  # the anonymous view joins bob's history
    assert Event.objects.get().subject == customer_key(user)
    assert consenting.post("/accounts/logout/").status_code == 302  # (the test client's logout drops every cookie)
    from reco_app import cache

    before = cache.ns_version(f"subject:{customer_key(user)}")
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})  # withdrawn while signed out
    assert Event.objects.count() == 0
    assert cache.ns_version(f"subject:{customer_key(user)}") > before  # bob's cached lists are stale now
    assert not SegmentMembership.objects.exists()


@override_settings(RECO_APP={**RECO_APP, "WITHDRAWAL_ACTION": "anonymise"})
def test_anonymised_copies_carry_nothing_that_ties_them_to_the_visit(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    consenting.get(product_url, {"rt": "token"})
    before = {e.event_id: e for e in Event.objects.all()}
    consenting.post("/reco/consent/refuse/", {"withdraw": "1"})
    copies = list(Event.objects.all())
    assert len(copies) == 2 and not set(before) & {e.event_id for e in copies}
    for e in copies:
        assert (e.subject, e.visitor_id, e.session_id, e.user_id, e.context) == ("", "", "", None, {})
        assert (e.event_type, e.product_key, e.consent) == ("product_view", "SKU-1", ConsentBasis.ANONYMISED)
        assert (e.timestamp.hour, e.timestamp.minute, e.timestamp.second, e.timestamp.microsecond) == (0, 0, 0, 0)
        assert e.received_at == e.timestamp


def _withdraw(user) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent.service import record

    record(user, "race", granted=False, method=ConsentRecord.Method.WITHDRAWAL)


def _erase(user) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent import privacy

    privacy.erase(privacy.subjects_for_user(user))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("other_device", "after"), [(_withdraw, "denied"), (_erase, "unknown")], ids=["withdrawal", "erasure"])
def test_a_decision_read_just_before_another_device_changes_it_is_not_cached_after(django_user_model, other_device, after) -> None:  # type: ignore[no-untyped-def]
    """Device B reads the account's records (a grant); device A's withdrawal (or "Erase my
    data") commits; then B caches what it read. The account must read as A left it, not as
    granted for the cache's lifetime."""
    from django.db import connection

    from reco_app import cache
    from reco_app.consent.backends import Decision, account_decision, account_decision_key
    from reco_app.consent.service import record

    user = django_user_model.objects.create_user("race", password="pw-123456")
    record(user, "race", granted=True, method=ConsentRecord.Method.BANNER)
    cache.delete(account_decision_key(user.pk))
    done: list[bool] = []

    def change_after_the_read(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        result = execute(sql, params, many, context)
        if not done and sql.lstrip().upper().startswith("SELECT") and "consentrecord" in sql:
            done.append(True)  # device A, between B's read and B's write to the cache
            other_device(user)
        return result

    with connection.execute_wrapper(change_after_the_read):
        assert account_decision(user) is Decision.GRANTED  # what device B read
    assert done
    assert account_decision(user) is Decision(after)


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_gpc_under_opt_out_withdraws_the_account_also_where_the_browser_declined_before(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    laptop = type(client)()
    user = _signed_in(laptop, django_user_model, "opal")
    laptop.get(product_url)
    client.post("/reco/consent/refuse/")  # "No thanks" on the phone, signed out
    assert client.post("/accounts/login/", {"username": "opal", "password": "pw-123456"}).status_code == 302
    client.get(product_url, HTTP_SEC_GPC="1")
    assert _decisions(user)[-1] == (False, "signal")
    laptop.get(product_url)
    assert Event.objects.count() == 0  # the account's refusal reaches the laptop too


def test_requests_right_after_accepting_share_one_visitor_id(client, product_url) -> None:  # type: ignore[no-untyped-def]
    accepted = client.post("/reco/consent/accept/", {"next": "/"})
    assert accepted.cookies["reco_v"]["httponly"]
    # two tabs opened at once: both carry what the accepting response set, neither sees
    # what the other's response sets
    tabs = [Client(), Client()]
    for tab in tabs:
        tab.cookies = SimpleCookie({name: morsel.value for name, morsel in client.cookies.items()})
    for tab in tabs:
        assert tab.get(product_url).status_code == 200
    assert Event.objects.values("visitor_id").distinct().count() == 1


def test_accepting_keeps_the_visit_a_browser_already_has(client, product_url) -> None:  # type: ignore[no-untyped-def]
    from tests.tracking.conftest import signed_visitor_cookie

    client.cookies["reco_v"] = signed_visitor_cookie("ab" * 16, "visit-1")
    client.post("/reco/consent/accept/", {"next": "/"})
    client.get(product_url)
    assert list(Event.objects.values_list("visitor_id", "session_id")) == [("ab" * 16, "visit-1")]


def test_a_bot_accepting_gets_no_visitor_cookie(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/reco/consent/accept/", {"next": "/"}, HTTP_USER_AGENT="Googlebot/2.1")
    assert "reco_v" not in response.cookies


def test_signing_out_of_a_device_tracked_for_the_account_keeps_the_accounts_history(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """A browser without a decision of its own is tracked for a signed-in account that
    consented elsewhere; signing out ends that (the visitor cookie goes) without withdrawing
    anything: the events stay with the account, under its own consent."""
    user = _signed_in(client, django_user_model, "amy")
    accept(client)  # the laptop: a grant on the account
    phone = Client()
    assert phone.post("/accounts/login/", {"username": "amy", "password": "pw-123456"}).status_code == 302
    phone.get(product_url)
    phone.get(product_url)
    assert Event.objects.filter(subject=customer_key(user)).count() == 2
    phone.post("/accounts/logout/")
    phone.get("/")
    assert Event.objects.filter(subject=customer_key(user)).count() == 2
    assert not phone.cookies["reco_v"].value  # no longer tracked on the phone
    phone.get(product_url)
    assert Event.objects.count() == 2


def test_a_browsers_cleared_consent_forgets_its_anonymous_history(client, product_url) -> None:  # type: ignore[no-untyped-def]
    accept(client)
    client.get(product_url)
    assert Event.objects.count() == 1
    del client.cookies["cookie_consent"]  # cleared, or expired
    client.get(product_url)
    assert Event.objects.count() == 0


def test_accepting_in_the_shops_cookie_settings_while_signed_in_records_a_grant(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """The proof of an account's consent, however it was given."""
    user = _signed_in(client, django_user_model, "bob")
    client.post("/cookies/accept/", {"cookie_groups": "personalisation"})
    client.get(product_url)
    client.get(product_url)
    assert Event.objects.filter(subject=customer_key(user)).count() == 2
    assert list(ConsentRecord.objects.for_user(user).values_list("granted", "method")) == [(True, "cookie_settings")]


def test_an_acceptance_older_than_the_cookie_groups_version_asks_again(client, product_url) -> None:  # type: ignore[no-untyped-def]
    """django-cookie-consent versions a group by its newest cookie: an acceptance given
    before a cookie was added to it counts as undecided, for reco_app too."""
    from cookie_consent.models import Cookie, CookieGroup

    client.cookies["cookie_consent"] = "personalisation=2020-01-01T00:00:00+00:00"
    client.get(product_url)
    assert Event.objects.count() == 1  # a group without cookies: every acceptance counts
    Cookie.objects.create(cookiegroup=CookieGroup.objects.get(varname="personalisation"), name="reco_v")
    response = client.get(product_url)
    assert Event.objects.count() == 0  # undecided: nothing stored, the history forgotten
    assert b"reco-consent-banner" in client.get("/").content
    assert response.cookies["reco_v"]["max-age"] == 0


def test_consent_read_before_the_login_of_the_same_request_is_read_again(rf, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """A view that looked at the visitor's consent, then signs them in: the account's
    refusal outranks the browser's acceptance (nothing joined, no grant recorded)."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.auth.signals import user_logged_in

    from reco_app.tracking.context import get_context

    user = django_user_model.objects.create_user("ref", password="pw-123456")
    ConsentRecord.objects.create(user=user, subject=customer_key(user), granted=False, method="withdrawal", policy_version="1")
    browser = Client()
    accept(browser)
    browser.get(product_url)  # an anonymous, consented view
    request = rf.post("/accounts/login/")
    request.COOKIES = {name: morsel.value for name, morsel in browser.cookies.items() if morsel.value}
    request.user = AnonymousUser()
    assert get_context(request).consent.allowed  # read as the anonymous visitor
    request.user = user  # django.contrib.auth.login()
    user_logged_in.send(sender=type(user), request=request, user=user)
    assert not Event.objects.filter(subject=customer_key(user)).exists()
    assert list(ConsentRecord.objects.for_user(user).values_list("granted", flat=True)) == [False]


def _login(client, username: str):  # type: ignore[no-untyped-def]
    assert client.post("/accounts/login/", {"username": username, "password": "pw-123456"}).status_code == 302


def _browsing(username: str, product_url: str) -> Client:
    """A browser of its own where ``username`` signs in and views a product."""
    client = Client()
    _login(client, username)
    client.get(product_url)
    return client


def _two_consenting_accounts(django_user_model):  # type: ignore[no-untyped-def]
    """amy and bob, each of whom consented on a device of their own."""
    users = []
    for name in ("amy", "bob"):
        users.append(django_user_model.objects.create_user(name, password="pw-123456"))
        device = Client()
        _login(device, name)
        accept(device)
    return users


def test_another_account_signing_in_on_a_browser_tracked_for_the_first_withdraws_nothing(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """Signing in as bob where amy was tracked (no sign-out between: Django allows it): amy's
    events stay hers, bob is tracked under an id of his own, and bob's refusal there does
    not reach amy's events."""
    amy, bob = _two_consenting_accounts(django_user_model)
    phone = _browsing("amy", product_url)
    amys = Event.objects.get(subject=customer_key(amy)).visitor_id
    _login(phone, "bob")
    phone.get(product_url)
    bobs = Event.objects.get(subject=customer_key(bob)).visitor_id
    assert bobs != amys and Event.objects.filter(subject=customer_key(amy)).count() == 1
    phone.post("/reco/consent/refuse/", {"withdraw": "1"})
    assert list(Event.objects.values_list("subject", flat=True)) == [customer_key(amy)]


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_opt_out_after_signing_out_the_next_visitor_gets_an_id_of_their_own(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    from reco_app.consent import privacy

    amy, _ = _two_consenting_accounts(django_user_model)
    phone = _browsing("amy", product_url)
    amys = Event.objects.get(subject=customer_key(amy)).visitor_id
    phone.post("/accounts/logout/")
    phone.get(product_url)  # the next person, anonymous: collected under opt-out
    theirs = Event.objects.get(subject__startswith="anon:")
    assert theirs.visitor_id != amys
    assert [e["id"] for e in privacy.export(privacy.subjects_for_user(amy))["data"]["events"]] == [
        Event.objects.get(subject=customer_key(amy)).pk]
    phone.post("/reco/consent/refuse/")  # that person says no
    assert list(Event.objects.values_list("subject", flat=True)) == [customer_key(amy)]


def test_a_login_after_the_visitor_id_was_read_gives_a_consistent_id(rf, django_user_model, product) -> None:  # type: ignore[no-untyped-def]
    """The request read who the visitor is (no consent: no id) before signing them in to an
    account that consented: after the login the request has a visitor id, and so does its
    cookie."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.auth.signals import user_logged_in
    from django.http import HttpResponse

    from reco_app import track
    from reco_app.tracking.context import get_context

    amy, _ = _two_consenting_accounts(django_user_model)
    request = rf.post("/accounts/login/")
    request.user = AnonymousUser()
    ctx = get_context(request)
    assert ctx.subject == "" and ctx.visitor_id == ""
    request.user = amy
    user_logged_in.send(sender=type(amy), request=request, user=amy)
    stored = track(request, "product_view", product)
    response = HttpResponse()
    ctx.update_cookie(response)
    assert stored is not None and stored.visitor_id and stored.visitor_id == ctx.visitor_id
    assert response.cookies["reco_v"].value.split(":")[0] == stored.visitor_id


def test_consent_read_before_a_logout_of_the_same_request_is_read_again(rf, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """A view that looked at the visitor's consent, then signs them out: the account's
    tracking of the browser ends there (the cookie goes), nothing is withdrawn."""
    from django.contrib.auth import logout
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse

    from reco_app.tracking.context import get_context
    from reco_app.tracking.middleware import finish

    amy, _ = _two_consenting_accounts(django_user_model)
    phone = _browsing("amy", product_url)
    request = rf.post("/accounts/logout/")
    request.COOKIES = {name: morsel.value for name, morsel in phone.cookies.items() if morsel.value}
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = amy
    assert get_context(request).may_track  # read while signed in
    logout(request)
    response = HttpResponse()
    finish(request, response)
    assert response.cookies["reco_v"]["max-age"] == 0
    assert Event.objects.filter(subject=customer_key(amy)).count() == 1


def test_a_renamed_account_keeps_its_browsers_visitor_id_and_visit(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    amy, _ = _two_consenting_accounts(django_user_model)
    phone = _browsing("amy", product_url)
    amy.username = "amy2"
    amy.save()
    phone.get(product_url)
    first, second = Event.objects.filter(user=amy).order_by("id")
    assert (first.subject, second.subject) == ("amy", "amy2")
    assert (first.visitor_id, first.session_id) == (second.visitor_id, second.session_id)


def test_an_account_refusal_reaching_a_shared_browser_forgets_only_its_anonymous_history(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """bob refused on his own device; signing in on a browser amy also used there does not
    delete amy's events from it."""
    amy, bob = _two_consenting_accounts(django_user_model)
    device = Client()
    _login(device, "bob")
    device.post("/reco/consent/refuse/", {"withdraw": "1"})
    shared = Client()
    accept(shared)  # the browser's own consent
    _login(shared, "amy")
    shared.get(product_url)
    shared.post("/accounts/logout/")
    _login(shared, "bob")
    shared.get(product_url)
    assert Event.objects.filter(subject=customer_key(amy)).count() == 1
    assert not Event.objects.filter(subject=customer_key(bob)).exists()


@pytest.mark.parametrize("mode", ["opt_in", "opt_out"])
def test_a_decline_made_signed_out_is_not_recorded_on_whoever_signs_in_next(django_user_model, product_url, settings, mode) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "CONSENT_MODE": mode}
    _, bob = _two_consenting_accounts(django_user_model)
    _browsing("bob", product_url)  # his own device
    shared = Client()
    if mode == "opt_in":
        accept(shared)
    shared.get(product_url)
    shared.post("/cookies/decline/", {"cookie_groups": "personalisation"})  # signed out
    _login(shared, "bob")
    assert list(ConsentRecord.objects.for_user(bob).values_list("granted", flat=True)) == [True]
    assert Event.objects.filter(subject=customer_key(bob)).count() == 1


@pytest.mark.parametrize("then", ["sign out", "sign in again"])
def test_a_decline_made_signed_in_is_applied_by_the_request_that_follows_it(django_user_model, product_url, then) -> None:  # type: ignore[no-untyped-def]
    """Made in the shop's cookie settings while signed in (tracked for the account), and
    first seen by a sign-out, or by a new sign-in of that account (no sign-out between)."""
    amy, _ = _two_consenting_accounts(django_user_model)
    laptop = _browsing("amy", product_url)
    phone = _browsing("amy", product_url)
    phone.post("/cookies/decline/", {"cookie_groups": "personalisation"})  # signed in
    if then == "sign out":
        phone.post("/accounts/logout/")
    else:
        _login(phone, "amy")
    assert ConsentRecord.objects.for_user(amy).values_list("granted", "method").first() == (False, "cookie_settings")
    laptop.get(product_url)
    assert not Event.objects.filter(subject=customer_key(amy)).exists()


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_opt_out_an_undecided_accounts_browser_passes_no_id_to_the_next_visitor(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    amy = django_user_model.objects.create_user("amy", password="pw-123456")
    phone = _browsing("amy", product_url)
    amys = Event.objects.get(subject=customer_key(amy)).visitor_id
    phone.post("/accounts/logout/")
    phone.get(product_url)
    assert Event.objects.get(subject__startswith="anon:").visitor_id != amys
    phone.post("/reco/consent/refuse/")
    assert Event.objects.filter(subject=customer_key(amy)).count() == 1


@override_settings(RECO_APP={**RECO_APP, "CONSENT_MODE": "opt_out"})
def test_opt_out_a_privacy_signal_first_seen_by_the_sign_out_refuses_for_the_account(django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    amy = django_user_model.objects.create_user("amy", password="pw-123456")
    phone = _browsing("amy", product_url)
    assert Event.objects.filter(subject=customer_key(amy)).count() == 1
    phone.post("/accounts/logout/", HTTP_SEC_GPC="1")
    assert ConsentRecord.objects.for_user(amy).values_list("granted", "method").first() == (False, "signal")
    assert not Event.objects.filter(subject=customer_key(amy)).exists()


def test_an_erasure_is_not_followed_by_a_grant_the_shopper_did_not_give(client, django_user_model, product_url) -> None:  # type: ignore[no-untyped-def]
    """The grants go with an erasure; the browser's acceptance still stands (it tracks on),
    but nothing records a new decision the shopper did not make."""
    import json

    ann = _signed_in(client, django_user_model, "ann")
    accept(client)
    client.get(product_url)
    client.post("/reco/privacy/erase/", {"confirm": "1"}, follow=True)
    client.get(product_url)
    assert not ConsentRecord.objects.for_user(ann).exists()
    assert json.loads(client.get("/reco/privacy/export/").content)["data"]["consent_records"] == []
