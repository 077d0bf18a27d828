"""The documentation's screenshots of the running demo shop (``make demo``), browsing as a
shopper would: ``/work/venv/bin/python scripts/screenshots.py [out dir]`` (default
docs/_static/screenshots). Needs Playwright and Chromium at /usr/bin/chromium; the clicks and
add-to-carts it makes are what the dashboard screenshot shows.
"""

from __future__ import annotations

import sys
from typing import Any

from playwright.sync_api import sync_playwright

B = "http://127.0.0.1:8000"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
OUT = sys.argv[1] if len(sys.argv) > 1 else "docs/_static/screenshots"
SIZE = {"width": 1280, "height": 2000}


def shot(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=f"{OUT}/{name}.png")


with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_context(user_agent=UA, viewport=SIZE, device_scale_factor=0.75).new_page()
    page.goto(B + "/")
    shot(page, "home-anonymous")

    page = browser.new_context(user_agent=UA, viewport=SIZE, device_scale_factor=0.75).new_page()
    page.goto(B + "/")
    with page.expect_navigation():
        page.locator(".reco-consent-accept button").click()
    page.goto(B + "/accounts/login/")
    page.fill("input[name=username]", "shopper")
    page.fill("input[name=password]", "shopper123")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.locator("text=My account").count(), page.url
    page.goto(B + "/")
    shot(page, "home-shopper")
    page.wait_for_timeout(1500)  # impressions are beaconed in batches
    for i in range(2):  # follow a recommendation, put it in the cart: attributed traffic for the dashboard
        page.goto(B + "/")
        with page.expect_navigation():
            page.locator('section[data-reco-placement="for_you"] .reco-card a').nth(i).click()
        page.wait_for_timeout(800)
        with page.expect_navigation():
            page.locator("form.add-to-cart button[type=submit]").first.click()
    page.goto(B + "/p/P00003/")
    shot(page, "product")
    page.wait_for_timeout(1500)
    page.goto(B + "/cart/")
    shot(page, "cart")

    page = browser.new_context(user_agent=UA, viewport=SIZE, device_scale_factor=0.75).new_page()
    page.goto(B + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(B + "/admin/reco_app/rule/dashboard/")
    shot(page, "dashboard")
    browser.close()
