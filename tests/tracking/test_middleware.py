from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.test import RequestFactory

from reco_app.models import DroppedEventCount, Event
from reco_app.tracking.devices import device_class
from reco_app.tracking.middleware import RecoMiddleware
from tests.tracking.conftest import signed_visitor_cookie

pytestmark = pytest.mark.django_db


_signed = signed_visitor_cookie


def test_same_session_within_30_minutes_new_session_after(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url)
    first = Event.objects.get()
    consenting.cookies["reco_v"] = _signed(first.visitor_id, first.session_id, time.time() - 29 * 60)
    consenting.get(product_url)
    consenting.cookies["reco_v"] = _signed(first.visitor_id, first.session_id, time.time() - 32 * 60)
    consenting.get(product_url)
    sessions = list(Event.objects.order_by("id").values_list("visitor_id", "session_id"))
    assert sessions[0] == sessions[1]
    assert sessions[2][0] == first.visitor_id and sessions[2][1] != first.session_id


def test_a_visit_is_not_cut_short_while_the_cookie_waits_to_be_reissued(consenting, product_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The cookie's time is re-written at most once a minute, so it may be a minute behind
    the last request: 29 min 50 s after the last request is still the same visit."""
    import types

    from reco_app.tracking import context

    now = [time.time()]
    monkeypatch.setattr(context, "time", types.SimpleNamespace(time=lambda: now[0]))
    for step in (0, 59, 29 * 60 + 50, 30 * 60 + 61):  # the last: over 30 min after the one before
        now[0] += step
        consenting.get(product_url)
    sessions = list(Event.objects.order_by("id").values_list("session_id", flat=True))
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3]


def test_a_tampered_cookie_gives_a_new_visitor(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.cookies["reco_v"] = "someone-else:abc:1"
    consenting.get(product_url)
    assert Event.objects.get().visitor_id not in ("someone-else", "")


def test_a_cookie_checked_once_is_refused_under_another_key_and_when_altered(consenting, product_url, settings) -> None:  # type: ignore[no-untyped-def]
    """Cookies are verified once per process (remembered by value): the memory must not
    outlive the key that verified them, nor accept a cookie that differs from one it holds."""
    from reco_app.tracking.context import unsign_cookie

    cookie = _signed("a" * 32, "s1", time.time())
    consenting.cookies["reco_v"] = cookie
    consenting.get(product_url)
    assert unsign_cookie(cookie).startswith("a" * 32)  # remembered
    value, signature = cookie.rsplit(":", 1)
    consenting.cookies["reco_v"] = f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    consenting.get(product_url)
    settings.SECRET_KEY = "another key, as after a rotation without a fallback"
    consenting.cookies["reco_v"] = cookie
    consenting.get(product_url)
    visitors = list(Event.objects.order_by("id").values_list("visitor_id", flat=True))
    assert visitors[0] == "a" * 32 and "a" * 32 not in visitors[1:]


def test_rec_token_from_the_link_is_kept_for_attribution(consenting, product_url) -> None:  # type: ignore[no-untyped-def]
    consenting.get(product_url + "?rt=tok123")
    assert Event.objects.get().context["rec_token"] == "tok123"


@pytest.mark.parametrize("query", ["?rt=%00", "?rt=a%00b", "?rt=" + "t" * 513, "?rt=%ED%B2%80"])
def test_an_unstorable_rec_token_drops_only_the_token(consenting, product_url, query: str) -> None:  # type: ignore[no-untyped-def]
    assert consenting.get(product_url + query).status_code == 200
    view = Event.objects.get(event_type="product_view")
    token = view.context.get("rec_token", "")
    assert "\x00" not in token and len(token) <= 512
    assert not DroppedEventCount.objects.filter(reason="invalid").exists()


def test_async_stack_gets_the_same_context(rf: RequestFactory) -> None:
    seen = {}

    async def view(request):  # type: ignore[no-untyped-def]
        seen["device"] = request.reco.device
        seen["consent"] = request.reco.consent.allowed
        return HttpResponse("ok")

    middleware = RecoMiddleware(view)
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile")
    response = async_to_sync(middleware)(request)
    assert response.status_code == 200
    assert seen == {"device": "mobile", "consent": False}


CUBOT = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


@pytest.mark.parametrize(
    ("ua", "device"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15", "tablet"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        ("", "unknown"),
        # bot hints count at the start or end of a word, not inside one, nor in a phone brand
        (CUBOT, "mobile"),
        ("Mozilla/5.0 (Linux; Android 9; CUBOT_P30) Chrome/99 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Windows NT 10.0) AbbottHealth/2.1 Chrome/120 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36", "bot"),
        ("Mozilla/5.0 (compatible; Yahoo! Slurp)", "bot"),
        ("Mozilla/5.0 (compatible; Baiduspider/2.0)", "bot"),
        ("Slackbot-LinkExpanding 1.0", "bot"),
        ("AdsBot-Google (+http://www.google.com/adsbot.html)", "bot"),
        ("python-requests/2.31", "bot"),
        ("curl/8.5.0", "bot"),
        ("Apache-HttpClient/4.5.14 (Java/17)", "bot"),
        ("Mozilla/5.0 (compatible; Bingpreview/1.0b)", "bot"),
        # scripted clients: HTTP libraries and tools
        *((ua, "bot") for ua in (
            "Go-http-client/1.1", "Scrapy/2.11.0 (+https://scrapy.org)", "Python-urllib/3.11", "python-httpx/0.27.0",
            "Python/3.11 aiohttp/3.9.1", "libwww-perl/6.72", "okhttp/4.12.0", "axios/1.6.2", "node-fetch/1.0",
            "Java/17.0.2", "GuzzleHttp/7", "PostmanRuntime/7.36.0", "Mediapartners-Google",
        )),
    ],
)
def test_device_class(ua: str, device: str) -> None:
    assert device_class(ua) == device


def test_cubot_phones_get_the_banner_and_are_tracked_with_consent(client, product_url) -> None:  # type: ignore[no-untyped-def]
    assert b"reco-consent-banner" in client.get("/", HTTP_USER_AGENT=CUBOT).content
    client.post("/reco/consent/accept/", {"next": "/"}, HTTP_USER_AGENT=CUBOT)
    assert client.get(product_url, HTTP_USER_AGENT=CUBOT).status_code == 200
    assert Event.objects.get().context["device"] == "mobile"


def test_system_checks_catch_bad_tracking_settings(settings) -> None:  # type: ignore[no-untyped-def]
    from example_shop.settings import RECO_APP
    from reco_app.tracking.checks import check_tracking

    assert check_tracking() == []
    settings.RECO_APP = {**RECO_APP, "CONSENT_MODE": "maybe", "WITHDRAWAL_ACTION": "shred", "CONSENT_BACKEND": "os.path"}
    assert sorted(e.id for e in check_tracking()) == ["reco_app.E101", "reco_app.E102", "reco_app.E103"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "RecoMiddleware" not in m]
    assert "reco_app.W101" in {e.id for e in check_tracking()}


def test_device_answers_follow_the_bot_hints_and_stay_bounded(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A user agent's answer is remembered for the configured bot hints: a shop adding a hint
    is obeyed at once, and the memory keeps to its bounds."""
    from reco_app.tracking import devices

    shop_app = "Mozilla/5.0 (Linux; Android 14) ShopScanner/3.1 Mobile Safari/537.36"
    assert device_class(shop_app) == "mobile" and device_class(shop_app) == "mobile"
    settings.RECO_APP = {**settings.RECO_APP, "BOT_USER_AGENTS": [*devices.conf.get("BOT_USER_AGENTS"), "shopscanner"]}
    assert device_class(shop_app) == "bot"
    long_ua = "Mozilla/5.0 " + "x" * devices.ANSWERED_LENGTH
    assert device_class(long_ua) == "desktop" and long_ua not in devices._answers
    monkeypatch.setattr(devices._answers, "limit", 3)
    for n in range(5):
        assert device_class(f"Mozilla/5.0 (Windows NT 10.0) Chrome/{n}") == "desktop"
        assert len(devices._answers) <= 3
