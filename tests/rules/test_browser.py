"""In headless Chromium: a merchandiser pins a product and sees it first in the preview and
in the shop; the dashboard with its charts is saved as a screenshot in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _login(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "merch")
    page.fill("#id_password", "pw-browser-1")
    page.click("input[type=submit]")


def _shop() -> None:
    from django.contrib.auth import get_user_model

    from example_shop.shop.models import Brand, Category, Product

    shoes, acme = Category.objects.create(name="Shoes", slug="shoes"), Brand.objects.create(name="Acme")
    for i in range(12):
        Product.objects.create(sku=f"SKU-{i:02d}", name=f"Runner {i}", category=shoes, brand=acme, price=50 + i, stock=10)
    get_user_model().objects.create_superuser("merch", "merch@example.com", "pw-browser-1")


def test_pin_rule_from_admin_to_preview_and_shop(browser_page: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    _shop()
    page = browser_page
    _login(page, live_server)

    page.goto(f"{live_server.url}/admin/reco_app/rule/add/")
    page.fill("#id_name", "Pin the promo runner")
    page.select_option("#id_action", "pin")
    assert not page.locator(".form-row.field-cap_count").is_visible()  # only the pin's parameters show
    page.fill("#id_position", "1")
    page.fill("#id_pin_product_key", "SKU-07")
    page.click("input[name=_save]")
    # The click returns once the changelist's navigation commits, while its parser may still be
    # blocked on the admin's <script src="jsi18n">: wait for the list (expect retries) rather
    # than counting elements of a half-parsed page.
    expect(page.locator(".messagelist .success")).to_contain_text("Pin the promo runner")
    expect(page.locator("#result_list")).to_contain_text("Pin the promo runner")

    page.goto(f"{live_server.url}/admin/reco_app/rule/preview/?placement=for_you&who=anonymous&limit=5")
    first_after = page.locator("[data-list=after] tbody tr").first
    assert "SKU-07" in first_after.inner_text()
    assert "Pin the promo runner" in first_after.inner_text()

    page.goto(f"{live_server.url}/")
    card = page.locator(".reco-card").first
    card.wait_for(timeout=20000)
    assert card.get_attribute("data-reco-product") == "SKU-07"



def test_dashboard_screenshot_with_charts(browser_page: Any, live_server: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from reco_app.models import Event

    _shop()
    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(event_type=kind, timestamp=now - dt.timedelta(days=day, minutes=i), product_key=f"SKU-{i % 12:02d}",
                  session_id=f"s{day}-{i % 5}", context={"placement": placement, "rec_token": f"t{day}{i}"}, subject="c1")
            for day in range(14)
            for placement, n in (("home", 30 + 3 * day), ("product_similar", 12 + (day * 7) % 10))
            for i in range(n)
            for kind in (["rec_impression", "rec_click"] if i % 6 == 0 else ["rec_impression"])
        ]
        + [
            Event(event_type=kind, timestamp=now - dt.timedelta(days=day, minutes=i - 1), product_key=f"SKU-{i % 12:02d}",
                  session_id=f"s{day}-{i % 5}", value=60.0 if kind == "purchase" else None, subject="c1")
            for day in range(14)
            for i in range(0, 30 + 3 * day, 6)
            for kind in (["add_to_cart", "purchase"] if i % 12 == 0 else ["add_to_cart"])
        ]
    )
    page = browser_page
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/reco_app/rule/dashboard/")
    page.wait_for_selector("figure.reco-chart svg", timeout=20000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
