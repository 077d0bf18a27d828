"""reco.js in a real browser: consent banner, impressions, clicks, beacons."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.browser]
# the first card of its section, third of its list (the section shows a later part of it)
CARD = """() => {
  const s = document.createElement('section');
  s.innerHTML = '<div class="reco-card" data-reco-token="tok-1" data-reco-product="SKU-1" data-reco-placement="home" data-reco-position="3">'
    + '<a href="#x">Trail runner</a></div>';
  document.body.prepend(s);
}"""


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_accepting_the_banner_then_impressions_and_clicks_are_beaconed(transactional_db, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    from reco_app.models import Event

    page.goto(live_server.url + "/")
    with page.expect_navigation():
        page.locator(".reco-consent-accept button").click()
    assert page.locator(".reco-consent-banner").count() == 0
    page.evaluate(CARD)
    page.locator(".reco-card a").click()  # a click flushes the queue at once
    assert _wait_for(lambda: Event.objects.filter(event_type="rec_click").exists())
    click = Event.objects.get(event_type="rec_click")
    assert (click.product_key, click.context["rec_token"], click.context["placement"], click.source) == ("SKU-1", "tok-1", "home", "browser")
    assert click.context["position"] == 3  # the card's data-reco-position, 1-based like its token
    assert Event.objects.filter(event_type="rec_impression", context__rec_token="tok-1").count() == 1
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["reco_v"]["httpOnly"] and cookies["reco_v"]["sameSite"] == "Lax"


def test_refusing_sends_nothing(transactional_db, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    from reco_app.models import Event

    beacons: list[str] = []
    page.on("request", lambda r: beacons.append(r.url) if "/reco/t/" in r.url else None)
    page.goto(live_server.url + "/")
    with page.expect_navigation():
        page.locator(".reco-consent-refuse button").click()
    page.evaluate(CARD)
    page.locator(".reco-card a").click()
    page.wait_for_timeout(500)
    assert beacons == [] and Event.objects.count() == 0
    assert "reco_v" not in {c["name"] for c in page.context.cookies()}
