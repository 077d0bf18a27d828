from __future__ import annotations

import os

import pytest

pytestmark = [pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        yield browser.new_page()
        browser.close()


def test_home_and_product_pages_show_recommendation_cards(transactional_db, live_server, page) -> None:  # type: ignore[no-untyped-def]
    from tests.serving.factories import make_catalog, make_events

    shop = make_catalog()
    make_events(shop)

    page.goto(live_server.url + "/")
    trending = page.locator('section[data-reco-placement="trending"] .reco-card')
    assert trending.count() == 8
    first = trending.first
    assert first.get_attribute("data-reco-token")
    assert "?rt=" in first.locator("a").get_attribute("href")
    assert page.locator('section[data-reco-placement="for_you"] .reco-card').count() == 8

    page.goto(live_server.url + "/p/SH-03/")
    similar = page.locator('section[data-reco-placement="similar"] .reco-card')
    assert similar.count() == 4
    assert page.locator('section[data-reco-placement="bought_together"] .reco-card').count() == 4
    similar.first.locator("a").click()
    page.wait_for_load_state()
    assert "/p/" in page.url and "rt=" in page.url
    assert page.locator("h1").first.inner_text()
