"""Catalog and events in the admin: browsable, filterable, read-only, privacy actions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from reco_app import privacy
from reco_app.models import CatalogItem, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Any) -> Any:
    user = get_user_model().objects.create_superuser("merch", "merch@example.com", "pw-12345678")
    client.force_login(user)
    return user


def test_catalog_filters_and_search(client: Any, staff: Any) -> None:
    CatalogItem.objects.create(product_key="LOW", name="Low stock lamp", stock=2)
    CatalogItem.objects.create(product_key="FULL", name="Full stock chair", stock=40)
    url = reverse("admin:reco_app_catalogitem_changelist")
    page = client.get(url, {"stock_level": "low"}).content.decode()
    assert "Low stock lamp" in page and "Full stock chair" not in page
    page = client.get(url, {"q": "chair"}).content.decode()
    assert "Full stock chair" in page and "Low stock lamp" not in page
    assert client.get(reverse("admin:reco_app_catalogitem_add")).status_code == 403


def test_events_browse_and_privacy_actions(client: Any, staff: Any) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    a = Event.objects.create(event_type="product_view", subject="c-42", product_key="P1", timestamp=now, context={"placement": "home"})
    Event.objects.create(event_type="purchase", subject="c-7", product_key="P2", timestamp=now)
    url = reverse("admin:reco_app_event_changelist")
    page = client.get(url, {"event_type__exact": "product_view"}).content.decode()
    assert "c-42" in page and "c-7" not in page

    erased: list[list[str]] = []
    privacy.register("test-holder", export=lambda subjects: {s: "data" for s in subjects}, erase=lambda s: erased.append(s) or len(s))
    try:
        response = client.post(url, {"action": "export_shoppers", "_selected_action": [a.pk]})
        assert json.loads(response.content)["data"]["test-holder"] == {"c-42": "data"}
        confirm = client.post(url, {"action": "erase_shoppers", "_selected_action": [a.pk]})
        assert "c-42" in confirm.content.decode() and erased == []
        client.post(url, {"action": "erase_shoppers", "_selected_action": [a.pk], "confirm": "yes"})
        assert erased == [["c-42"]]
    finally:
        privacy._holders.pop("test-holder", None)
