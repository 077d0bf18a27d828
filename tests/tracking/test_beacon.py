from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.wsgi import WSGIHandler
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.test import Client

from reco_app import wsgi as reco_wsgi
from reco_app.models import Event
from reco_app.tracking.context import cookie_signer
from reco_app.wsgi import beacon_fast_path, serve
from tests.helpers import ChunkedClient, WSGIClient, customer_key
from tests.tracking.conftest import accept

pytestmark = pytest.mark.django_db
URL = "/reco/t/"
ORIGIN = "http://testserver"


class FastPathClient(WSGIClient, Client):
    """The deployed stack of the example shop: ``beacon_fast_path`` around Django."""

    def __init__(self, **defaults: object) -> None:
        super().__init__(**defaults)
        self.wsgi_app = beacon_fast_path(WSGIHandler())


@pytest.fixture(params=["django", "fast_path"])
def browser(request, db, monkeypatch) -> Client:  # type: ignore[no-untyped-def]
    """Every beacon test runs through Django's stack and through ``reco_app.wsgi``'s fast
    path; the latter must really answer the beacons (counted) for the results to mean much."""
    if request.param == "django":
        client = Client(enforce_csrf_checks=True)
    else:
        client = FastPathClient(enforce_csrf_checks=True)
        served = []
        monkeypatch.setattr(reco_wsgi, "serve", lambda *args: served.append(1) or serve(*args))
        request.addfinalizer(lambda: _assert_fast(client, served))
    client.get("/")  # the page sets the CSRF cookie
    return client


def _assert_fast(client: Client, served: list[int]) -> None:
    posted = getattr(client, "beacons", 0)
    assert len(served) == posted, f"{posted} beacons sent, {len(served)} answered by the fast path"


def _accept(client: Client) -> None:
    token = client.cookies["csrftoken"].value
    client.post("/reco/consent/accept/", {"csrfmiddlewaretoken": token})


def beacon(client: Client, events: list[object], *, csrf: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    token = client.cookies["csrftoken"].value if csrf is None else csrf
    body = json.dumps({"csrf": token, "events": events})
    client.beacons = getattr(client, "beacons", 0) + 1  # type: ignore[attr-defined]
    return client.generic("POST", URL, body, content_type="text/plain;charset=UTF-8", **headers)


IMPRESSION = {"event_type": "rec_impression", "product": "SKU-1", "context": {"rec_token": "t", "placement": "home", "position": 0}}


def test_same_site_beacon_with_csrf_and_consent_is_stored(browser) -> None:  # type: ignore[no-untyped-def]
    _accept(browser)
    response = beacon(browser, [IMPRESSION, {"event_type": "dwell", "value": 12.5}], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204
    rows = list(Event.objects.order_by("event_type").values_list("event_type", "source", "context__placement"))
    assert rows == [("dwell", "browser", None), ("rec_impression", "browser", "home")]


def test_cross_site_and_missing_token_are_refused(browser) -> None:  # type: ignore[no-untyped-def]
    _accept(browser)
    assert beacon(browser, [IMPRESSION], HTTP_ORIGIN="https://evil.example").status_code == 403
    assert beacon(browser, [IMPRESSION]).status_code == 403  # no Origin, no Sec-Fetch-Site
    assert beacon(browser, [IMPRESSION], csrf="x" * 32, HTTP_ORIGIN=ORIGIN).status_code == 403
    assert beacon(browser, [IMPRESSION], csrf="", HTTP_SEC_FETCH_SITE="same-origin").status_code == 403
    assert Event.objects.count() == 0


def test_without_consent_the_beacon_is_accepted_but_nothing_stored(browser) -> None:  # type: ignore[no-untyped-def]
    response = beacon(browser, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204 and Event.objects.count() == 0
    assert "reco_v" not in response.cookies


def test_browsers_cannot_send_purchases_or_oversized_beacons(browser) -> None:  # type: ignore[no-untyped-def]
    _accept(browser)
    response = beacon(browser, [IMPRESSION, {"event_type": "purchase", "product": "SKU-1"}], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.json()["rejected"][0]["index"] == 1 and response.json()["stored"] == 1
    assert beacon(browser, [IMPRESSION] * 51, HTTP_ORIGIN=ORIGIN).status_code == 413
    big = {**IMPRESSION, "context": {"x": "y" * 70_000}}
    assert beacon(browser, [big], HTTP_ORIGIN=ORIGIN).status_code == 413
    assert Event.objects.count() == 1


def test_tags_render_banner_and_script(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").content.decode()
    assert "reco-consent-banner" in page and 'data-consent="denied"' in page
    accept(client)
    page = client.get("/").content.decode()
    assert "reco-consent-banner" not in page and 'data-consent="granted"' in page and "reco_app/reco.js" in page
    assert "reco-consent-withdraw" in page


def test_browser_clocks_are_not_trusted(browser) -> None:  # type: ignore[no-untyped-def]
    _accept(browser)
    skewed = {**IMPRESSION, "timestamp": "2031-01-01T00:00:00Z"}
    assert beacon(browser, [skewed], HTTP_ORIGIN=ORIGIN).status_code == 204
    assert Event.objects.get().timestamp.year != 2031


def _fast_browser(monkeypatch) -> tuple[Client, list[int]]:  # type: ignore[no-untyped-def]
    client = FastPathClient(enforce_csrf_checks=True)
    served: list[int] = []
    monkeypatch.setattr(reco_wsgi, "serve", lambda *args: served.append(1) or serve(*args))
    client.get("/")
    return client, served


def test_fast_path_keeps_the_visitor_cookie_and_session_of_the_middleware(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, served = _fast_browser(monkeypatch)
    _accept(client)
    client.cookies.pop("reco_v", None)  # a consented visitor whose cookie has not been issued yet
    response = beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204 and served == [1]
    morsel = response.cookies["reco_v"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    visitor, session, _ = cookie_signer().unsign(morsel.value).split(":")
    beacon(client, [{"event_type": "dwell", "value": 3}], HTTP_ORIGIN=ORIGIN)  # the cookie comes back
    rows = set(Event.objects.values_list("visitor_id", "session_id", "subject"))
    assert rows == {(visitor, session, f"anon:{visitor}")}


def test_signed_in_shoppers_beacons_go_through_django(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("ada", password="x" * 12)
    client, served = _fast_browser(monkeypatch)
    client.force_login(user)
    _accept(client)
    assert beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN).status_code == 204
    assert served == []  # the session cookie needs Django's session and auth middleware
    assert list(Event.objects.values_list("user_id", "subject")) == [(user.pk, customer_key(user))]


def test_fast_path_refuses_bad_hosts_and_leaves_other_requests_to_django(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, served = _fast_browser(monkeypatch)
    _accept(client)
    response = beacon(client, [IMPRESSION], HTTP_ORIGIN="http://evil.example", HTTP_HOST="evil.example")
    # a host outside ALLOWED_HOSTS: 400, as Django's stack answers
    assert response.status_code == 400 and served == [1]
    assert client.get(URL).status_code == 405  # only POSTs take the fast path
    assert client.get("/").status_code == 200 and served == [1]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("stack", ["django", "fast_path"])
def test_chunked_beacons_are_read_or_refused_with_411(db, stack: str, settings) -> None:  # type: ignore[no-untyped-def]
    app = WSGIHandler() if stack == "django" else beacon_fast_path(WSGIHandler())
    client = ChunkedClient(app, terminated=True, enforce_csrf_checks=True)
    client.get("/")
    _accept(client)
    response = beacon(client, [IMPRESSION, {"event_type": "dwell", "value": 2}], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 204
    assert Event.objects.count() == 2
    settings.RECO_APP = {**settings.RECO_APP, "BEACON_MAX_BYTES": 300}
    response = beacon(client, [IMPRESSION] * 5, HTTP_ORIGIN=ORIGIN)  # checked while reading
    assert response.status_code == 413 and "larger than 300 bytes" in response.json()["detail"]
    unterminated = ChunkedClient(app, terminated=False, enforce_csrf_checks=True)
    unterminated.cookies = client.cookies
    response = beacon(unterminated, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 411 and "Content-Length" in response.json()["detail"]
    assert Event.objects.count() == 2


def test_a_host_outside_allowed_hosts_is_400_without_origin_too(browser) -> None:  # type: ignore[no-untyped-def]
    _accept(browser)
    response = beacon(browser, [IMPRESSION], HTTP_HOST="evil.example", HTTP_SEC_FETCH_SITE="same-origin")
    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_a_host_outside_allowed_hosts_is_400_even_from_a_trusted_origin(browser, settings) -> None:  # type: ignore[no-untyped-def]
    """Django's origin check accepts an origin of CSRF_TRUSTED_ORIGINS whatever the Host;
    Django's stack refuses the Host before any view runs, and so must the fast path."""
    from reco_app.tracking import views

    settings.CSRF_TRUSTED_ORIGINS = ["https://shop.example"]
    for cached in ("allowed_origins_exact", "allowed_origin_subdomains"):  # (CsrfViewMiddleware caches them)
        views._CSRF.__dict__.pop(cached, None)
    _accept(browser)
    response = beacon(browser, [IMPRESSION], HTTP_ORIGIN="https://shop.example", HTTP_HOST="evil.example")
    for cached in ("allowed_origins_exact", "allowed_origin_subdomains"):
        views._CSRF.__dict__.pop(cached, None)
    assert response.status_code == 400
    assert Event.objects.count() == 0


@pytest.mark.parametrize("csrf", [None, "wrong"], ids=["204", "403"])
def test_the_fast_path_answers_with_the_security_headers_of_the_stack(db, csrf) -> None:  # type: ignore[no-untyped-def]
    headers = {}
    for name, client in (("django", Client(enforce_csrf_checks=True)), ("fast", FastPathClient(enforce_csrf_checks=True))):
        client.get("/")
        _accept(client)
        response = beacon(client, [IMPRESSION], csrf=csrf, HTTP_ORIGIN=ORIGIN)
        headers[name] = {k: v for k, v in response.items() if k.startswith(("X-", "Referrer", "Cross-Origin", "Strict"))}
    assert headers["fast"] == headers["django"]
    assert {"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} <= set(headers["fast"])


def test_a_session_cookie_however_spelled_goes_through_django(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("ada", password="x" * 12)
    client, served = _fast_browser(monkeypatch)
    client.force_login(user)
    _accept(client)
    session = client.cookies.pop("sessionid").value
    others = "; ".join(f"{k}={m.value}" for k, m in client.cookies.items())
    # Django reads "sessionid =<key>" as the session cookie: so must the fast path
    response = beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN, HTTP_COOKIE=f"{others}; sessionid ={session}")
    assert response.status_code == 204 and served == []
    assert list(Event.objects.values_list("user_id", "subject")) == [(user.pk, customer_key(user))]


class ShopSecurityMiddleware(SecurityMiddleware):
    """A shop's own subclass, adding a header of its own."""

    def process_response(self, request, response):  # type: ignore[no-untyped-def]
        response = super().process_response(request, response)
        response["Permissions-Policy"] = "camera=()"
        return response


def _fast_beacon_with_security_middleware(settings, name: str):  # type: ignore[no-untyped-def]
    """(client, response): a consenting beacon through the fast path, the stack's
    SecurityMiddleware replaced by ``name`` (a class of this module)."""
    settings.MIDDLEWARE = [f"{__name__}.{name}" if "SecurityMiddleware" in m else m for m in settings.MIDDLEWARE]
    client = FastPathClient(enforce_csrf_checks=True)
    client.get("/")
    _accept(client)
    return client, beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN)


def test_the_fast_path_runs_a_subclass_of_the_security_middleware_and_its_https_redirect(db, settings) -> None:  # type: ignore[no-untyped-def]
    client, response = _fast_beacon_with_security_middleware(settings, "ShopSecurityMiddleware")
    assert response.status_code == 204
    assert response["Permissions-Policy"] == "camera=()" and response["X-Content-Type-Options"] == "nosniff"
    settings.SECURE_SSL_REDIRECT = True
    response = beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert Event.objects.count() == 1
    # as in Django's stack, only the middleware up to the redirecting one see its answer
    stack = Client(enforce_csrf_checks=True)
    stack.cookies = client.cookies
    expected = beacon(stack, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
    assert sorted(response.items()) == sorted(expected.items())


class UnusedSecurityMiddleware(SecurityMiddleware):
    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        raise MiddlewareNotUsed("not on this site")


def test_the_fast_path_leaves_out_a_header_middleware_that_is_not_used(db, settings) -> None:  # type: ignore[no-untyped-def]
    _, response = _fast_beacon_with_security_middleware(settings, "UnusedSecurityMiddleware")
    assert response.status_code == 204 and "X-Content-Type-Options" not in response
    assert Event.objects.count() == 1


class FailingFrameOptions(XFrameOptionsMiddleware):
    def process_response(self, request, response):  # type: ignore[no-untyped-def]
        raise ValueError("a bug in the shop's middleware")


class FailingSecurity(SecurityMiddleware):
    def process_request(self, request):  # type: ignore[no-untyped-def]
        raise ValueError("a bug in the shop's middleware")


@pytest.mark.parametrize(("replaced", "name"), [("XFrameOptions", "FailingFrameOptions"), ("SecurityMiddleware", "FailingSecurity")])
def test_a_failing_header_middleware_gets_the_answer_djangos_stack_gives(db, settings, replaced, name) -> None:  # type: ignore[no-untyped-def]
    """Each layer turns an exception into Django's 500, and only the layers outside the
    failing one add their headers: as in Django's stack, never a server error page."""
    settings.MIDDLEWARE = [f"{__name__}.{name}" if replaced in m else m for m in settings.MIDDLEWARE]
    answers = []
    for client in (Client(enforce_csrf_checks=True, raise_request_exception=False),
                   FastPathClient(enforce_csrf_checks=True, raise_request_exception=False)):
        client.cookies["csrftoken"] = "a" * 32  # (a CSRF secret: the beacon sends it as its token)
        client.cookies["cookie_consent"] = "personalisation=2026-01-01"
        response = beacon(client, [IMPRESSION], HTTP_ORIGIN=ORIGIN)
        # (Vary and Content-Length come from the session, CSRF and common middleware the fast path skips)
        answers.append((response.status_code, sorted((k, v) for k, v in response.items() if k not in ("Vary", "Content-Length"))))
    assert answers[0] == answers[1] and answers[1][0] == 500


@pytest.mark.parametrize("bad", ["badformat!", "a" * 31, "a" * 63])
def test_a_malformed_csrf_cookie_is_refused_and_renewed(browser, bad) -> None:  # type: ignore[no-untyped-def]
    """As Django's CSRF middleware renews a cookie it cannot read, on the fast path too: the
    beacon after the next one can pass."""
    _accept(browser)
    browser.cookies["csrftoken"] = bad
    response = beacon(browser, [IMPRESSION], csrf=bad, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 403
    renewed = response.cookies["csrftoken"].value
    assert renewed and renewed != bad
    assert beacon(browser, [IMPRESSION], HTTP_ORIGIN=ORIGIN).status_code == 204
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [(None, {"HTTP_ORIGIN": "https://evil.example"}, 403), ("{nope", {"HTTP_ORIGIN": ORIGIN}, 400),
     ('{"csrf": "x"}', {"HTTP_ORIGIN": ORIGIN}, 400)],
    ids=["cross-site", "not JSON", "no events"],
)
def test_every_refused_beacon_renews_a_malformed_csrf_cookie(browser, body, headers, status) -> None:  # type: ignore[no-untyped-def]
    """As Django's CSRF middleware does for every request, whatever the view answers."""
    _accept(browser)
    browser.cookies["csrftoken"] = "badformat!"
    if body is None:
        response = beacon(browser, [IMPRESSION], csrf="badformat!", **headers)
    else:
        browser.beacons = getattr(browser, "beacons", 0) + 1  # type: ignore[attr-defined]
        response = browser.generic("POST", URL, body, content_type="text/plain;charset=UTF-8", **headers)
    assert response.status_code == status
    assert response.cookies["csrftoken"].value not in ("", "badformat!")


def test_a_remembered_csrf_pair_passes_and_nothing_else_does(browser, settings) -> None:  # type: ignore[no-untyped-def]
    """A page's beacons repeat one (cookie, token) pair, remembered once Django's check
    accepted it: another token, another page's masked token for the same cookie, or the same
    token under another cookie are checked again; a settings change forgets them all."""
    from django.middleware.csrf import _mask_cipher_secret

    from reco_app.tracking import views

    _accept(browser)
    secret = browser.cookies["csrftoken"].value
    page_token = _mask_cipher_secret(secret)  # what the page renders (csrf_token)
    assert beacon(browser, [IMPRESSION], csrf=page_token, HTTP_ORIGIN=ORIGIN).status_code == 204
    assert (secret, page_token) in views._CSRF_PASSED
    assert beacon(browser, [IMPRESSION], csrf=page_token, HTTP_ORIGIN=ORIGIN).status_code == 204
    wrong = page_token[:-1] + ("a" if page_token[-1] != "a" else "b")
    assert beacon(browser, [IMPRESSION], csrf=wrong, HTTP_ORIGIN=ORIGIN).status_code == 403
    assert beacon(browser, [IMPRESSION], csrf=_mask_cipher_secret(secret), HTTP_ORIGIN=ORIGIN).status_code == 204
    # the page's token with another browser's cookie: refused though the token passed before
    browser.cookies["csrftoken"] = "b" * 32
    assert beacon(browser, [IMPRESSION], csrf=page_token, HTTP_ORIGIN=ORIGIN).status_code == 403
    assert Event.objects.count() == 3
    settings.CSRF_COOKIE_AGE = 3600  # (any setting)
    assert not views._CSRF_PASSED


def test_the_remembered_pairs_are_bounded(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    from reco_app.tracking import views

    monkeypatch.setattr(views._CSRF_PASSED, "limit", 3)
    client = FastPathClient(enforce_csrf_checks=True)
    client.get("/")
    _accept(client)
    for _ in range(5):
        secret = _get_new_csrf_string()
        client.cookies["csrftoken"] = secret
        assert beacon(client, [IMPRESSION], csrf=_mask_cipher_secret(secret), HTTP_ORIGIN=ORIGIN).status_code == 204
        assert 1 <= len(views._CSRF_PASSED) <= 3
    assert Event.objects.count() == 5


def test_a_small_beacon_cannot_hide_a_context_over_the_event_limit() -> None:
    """A beacon of at most ``API_MAX_EVENT_BYTES / BODY_EXPANSION`` bytes skips measuring its
    contexts: re-encoded, parsed JSON is never that much larger than its text, not even for
    the numbers that grow most ("1E15" is 1000000000000000.0), nor for escapes or spacing."""
    from reco_app.tracking.validation import json_size
    from reco_app.tracking.views import BODY_EXPANSION

    worst = ["1E15", "-1E15", "9E15", "1e-5", "1E22", "0.1", '"\\u00e9"', '"\\ud800"', '"\\/"', "[ ]", "{ }", "true"]
    for literal in worst:
        for count in (1, 7, 300):
            text = '{"events":[{"context":{"k":[' + ",".join([literal] * count) + "]}}]}"
            context = json.loads(text)["events"][0]["context"]
            assert json_size(context) <= BODY_EXPANSION * len(text.encode()), literal


def test_a_beacon_context_over_the_event_limit_is_refused(browser, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "API_MAX_EVENT_BYTES": 300}
    _accept(browser)
    small = {**IMPRESSION, "context": {"placement": "home", "note": "x" * 10}}
    big = {**IMPRESSION, "context": {"placement": "home", "note": "x" * 400}}
    response = beacon(browser, [small, big], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response.json()["rejected"][0]["index"] == 1 and "300 bytes" in json.dumps(response.json())
    assert Event.objects.count() == 1
