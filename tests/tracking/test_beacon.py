from __future__ import annotations

import json

import pytest
from django.test import Client

from reco_app.models import Event
from tests.tracking.conftest import accept

pytestmark = pytest.mark.django_db
URL = "/reco/t/"
ORIGIN = "http://testserver"


@pytest.fixture
def browser(db) -> Client:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.get("/")  # the page sets the CSRF cookie
    return client


def _accept(client: Client) -> None:
    token = client.cookies["csrftoken"].value
    client.post("/reco/consent/accept/", {"csrfmiddlewaretoken": token})


def beacon(client: Client, events: list[object], *, csrf: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    token = client.cookies["csrftoken"].value if csrf is None else csrf
    body = json.dumps({"csrf": token, "events": events})
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
