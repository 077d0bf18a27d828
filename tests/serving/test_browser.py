from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]


def test_home_and_product_pages_show_recommendation_cards(transactional_db, live_server, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
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
    shown = [c.get_attribute("data-reco-product") for c in page.locator(".reco-card").all()]
    assert len(set(shown)) == len(shown) == 16  # "trending" leaves out the picks above it

    page.goto(live_server.url + "/p/SH-03/")
    similar = page.locator('section[data-reco-placement="similar"] .reco-card')
    assert similar.count() == 4
    assert page.locator('section[data-reco-placement="bought_together"] .reco-card').count() == 4
    similar.first.locator("a").click()
    page.wait_for_load_state()
    assert "/p/" in page.url and "rt=" in page.url
    assert page.locator("h1").first.inner_text()
