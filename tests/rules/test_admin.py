"""The merchandising admin: forms, audit trail, preview and dashboard pages, access."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from reco_app.models.rules import Rule, RuleChange

pytestmark = pytest.mark.django_db

PAGES = ["admin:reco_app_rule_changelist", "admin:reco_app_rule_add", "admin:reco_app_rule_preview", "admin:reco_app_dashboard"]


@pytest.fixture
def staff(client: Any) -> Any:
    user = get_user_model().objects.create_superuser("merch", "merch@example.com", "pw-12345678")
    client.force_login(user)
    return user


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Sale boost", "description": "", "enabled": "on", "priority": "100", "action": "boost",
        "position": "", "pin_product_key": "", "factor": "2", "additive": "0", "cap_count": "", "cap_by": "",
        "categories": "", "brands": "", "tags": "sale, summer", "price_min": "", "price_max": "",
        "stock_min": "", "stock_max": "", "launched_after_0": "", "launched_after_1": "",
        "launched_before_0": "", "launched_before_1": "", "launched_within_days": "", "product_keys": "",
        "placements": "", "segments": "", "devices": "", "page_categories": "",
        "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": "",
        "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0", "changes-MIN_NUM_FORMS": "0", "changes-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_for_staff(client: Any, staff: Any, page: str) -> None:
    response = client.get(reverse(page))
    assert response.status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_closed_to_shoppers(client: Any, page: str) -> None:
    shopper = get_user_model().objects.create_user("shopper", "s@example.com", "pw-12345678")
    client.force_login(shopper)
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_rule_permission_cannot_preview(client: Any) -> None:
    clerk = get_user_model().objects.create_user("clerk", "c@example.com", "pw-12345678", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:reco_app_rule_preview")).status_code == 403


def test_creating_and_editing_a_rule_records_who_changed_what(client: Any, staff: Any) -> None:
    response = client.post(reverse("admin:reco_app_rule_add"), form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = Rule.objects.get(name="Sale boost")
    assert rule.tags == ["sale", "summer"]
    response = client.post(reverse("admin:reco_app_rule_change", args=[rule.pk]), form_data(factor="3", tags="sale"))
    assert response.status_code == 302
    changes = list(RuleChange.objects.order_by("id"))
    assert [(c.kind, c.user) for c in changes] == [("created", staff), ("changed", staff)]
    assert changes[1].diff == {"factor": [2.0, 3.0], "tags": [["sale", "summer"], ["sale"]]}
    page = client.get(reverse("admin:reco_app_rule_change", args=[rule.pk])).content.decode()
    assert "history" in page.lower() and "summer" in page
    client.post(reverse("admin:reco_app_rule_delete", args=[rule.pk]), {"post": "yes"})
    assert RuleChange.objects.filter(kind="deleted", rule_name="Sale boost", user=staff).exists()


def test_the_form_shows_validation_errors(client: Any, staff: Any) -> None:
    response = client.post(
        reverse("admin:reco_app_rule_add"),
        form_data(action="exclude", tags="", starts_at_0="2026-06-02", starts_at_1="10:00", ends_at_0="2026-06-01", ends_at_1="10:00"),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The end must be after the start." in page
    assert "needs a condition" in page
    assert not Rule.objects.exists()


def test_saving_in_the_admin_bumps_the_rules_cache(client: Any, staff: Any) -> None:
    from reco_app import cache

    before = cache.ns_version("rules")
    client.post(reverse("admin:reco_app_rule_add"), form_data())
    assert cache.ns_version("rules") > before


def test_preview_form_errors(client: Any, staff: Any) -> None:
    response = client.get(reverse("admin:reco_app_rule_preview"), {"placement": "home", "who": "shopper", "limit": 5})
    assert "Enter the shopper" in response.content.decode()


def test_enable_action_refuses_a_conflicting_pin(client: Any, staff: Any) -> None:
    from reco_app.models import CatalogItem

    CatalogItem.objects.create(product_key="A")
    CatalogItem.objects.create(product_key="B")
    Rule.objects.create(name="pin A", action="pin", pin_product_key="A", position=1)
    off = Rule.objects.create(name="pin B", action="pin", pin_product_key="B", position=1, enabled=False)
    bury = Rule.objects.create(name="bury", action="bury", brands=["X"], factor=2.0, enabled=False)
    response = client.post(
        reverse("admin:reco_app_rule_changelist"), {"action": "enable_rules", "_selected_action": [off.pk, bury.pk]}, follow=True
    )
    assert "Conflicts with rule “pin A”" in response.content.decode()
    off.refresh_from_db()
    bury.refresh_from_db()
    assert (off.enabled, bury.enabled) == (False, True)
    assert RuleChange.objects.get(rule=bury).diff == {"enabled": [False, True]}


def test_changelist_shows_and_filters_the_status_now(client: Any, staff: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    Rule.objects.create(name="Live boost", action="boost", brands=["A"], factor=2.0)
    Rule.objects.create(name="Xmas boost", action="boost", brands=["A"], factor=2.0, starts_at=now + dt.timedelta(days=3))
    Rule.objects.create(name="Old boost", action="boost", brands=["A"], factor=2.0, ends_at=now - dt.timedelta(days=1))
    url = reverse("admin:reco_app_rule_changelist")
    page = client.get(url, {"status": "scheduled"}).content.decode()
    assert "Xmas boost" in page and "Live boost" not in page and "Old boost" not in page
    page = client.get(url, {"status": "live"}).content.decode()
    assert "Live boost" in page and "Xmas boost" not in page
    rule = Rule.objects.get(name="Live boost")
    assert reverse("admin:reco_app_rule_preview") in client.get(reverse("admin:reco_app_rule_change", args=[rule.pk])).content.decode()


def test_preview_with_an_unknown_placement_shows_an_error_not_a_500(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/admin/reco_app/rule/preview/", {"placement": "nowhere", "who": "anonymous", "limit": 5})
    assert response.status_code == 200
    assert "nowhere" in response.content.decode()
    assert b"for_you" in response.content  # the known placements are offered
