from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reco_app.models import Segment, SegmentMembership
from reco_app.segments.service import recompute_all
from tests.segments.helpers import buyer, catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "a@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def history() -> None:
    catalog(shoe=("Shoes", 80.0), hat=("Hats", 20.0))
    # Relative to the real clock: saving a manual segment in the admin computes it as of now.
    now = timezone.now()
    buyer("shoe_fan", orders=2, last_days_ago=1, spend=200, product="shoe", base=now)
    buyer("hat_buyer", orders=1, last_days_ago=3, spend=20, product="hat", base=now)
    recompute_all(now)


def test_segment_list_shows_sizes_and_trend(staff: Client, history: None) -> None:
    html = staff.get(reverse("admin:reco_app_segment_changelist")).content.decode()
    assert "lifecycle:active" in html and "<svg" in html
    page = staff.get(reverse("admin:reco_app_segment_change", args=[Segment.objects.get(key="lifecycle:active").pk])).content.decode()
    assert "List the members" in page and "<table>" in page


def test_create_a_manual_segment_from_conditions(staff: Client, history: None) -> None:
    response = staff.post(reverse("admin:reco_app_segment_add"), {
        "name": "Shoe people", "key": "", "description": "", "enabled": "on",
        "match": "all", "bought_category": "Shoes", "viewed_category": "", "min_total_spend": "100",
    }, follow=True)
    assert response.status_code == 200
    segment = Segment.objects.get(key="manual:shoe-people")
    assert segment.kind == "manual"
    assert segment.definition == {"match": "all", "conditions": [
        {"field": "bought_category", "value": "Shoes"}, {"field": "total_spend", "value": 100.0, "op": "gte"},
    ]}
    assert list(segment.memberships.values_list("subject", flat=True)) == ["shoe_fan"]
    assert "1 shoppers match this segment now." in response.content.decode()
    page = staff.get(reverse("admin:reco_app_segment_change", args=[segment.pk])).content.decode()
    assert 'value="100.0"' in page  # conditions come back into the form


def test_manual_segment_by_rfm_segment_or_category(staff: Client, history: None) -> None:
    staff.post(reverse("admin:reco_app_segment_add"), {
        "name": "Best", "enabled": "on", "match": "any", "rfm": "champions", "bought_category": "Hats",
    })
    segment = Segment.objects.get(key="manual:best")
    assert set(segment.memberships.values_list("subject", flat=True)) == {"shoe_fan", "hat_buyer"}


def test_a_manual_segment_needs_a_condition(staff: Client, history: None) -> None:
    response = staff.post(reverse("admin:reco_app_segment_add"), {"name": "Empty", "match": "all", "enabled": "on"})
    assert response.status_code == 200
    assert "Add at least one condition." in response.content.decode()
    assert not Segment.objects.filter(name="Empty").exists()


def test_members_and_a_shoppers_segments(staff: Client, history: None) -> None:
    segment = Segment.objects.get(key="lifecycle:first_time_buyer")
    members = staff.get(reverse("admin:reco_app_segmentmembership_changelist") + f"?segment__id__exact={segment.pk}").content.decode()
    assert "hat_buyer" in members and "shoe_fan" not in members
    page = staff.get(reverse("admin:reco_app_segments_shopper") + "?subject=shoe_fan").content.decode()
    assert "Active customers" in page and "lifecycle:active" in page and "2 orders" in page
    assert SegmentMembership.objects.filter(subject="shoe_fan").count() >= 2


def test_batch_segments_are_read_only_apart_from_enabled(staff: Client, history: None) -> None:
    segment = Segment.objects.get(key="lifecycle:active")
    url = reverse("admin:reco_app_segment_change", args=[segment.pk])
    staff.post(url, {"name": "Renamed", "enabled": ""})
    segment.refresh_from_db()
    assert (segment.key, segment.kind, segment.name, segment.enabled) == ("lifecycle:active", "lifecycle", "Active customers", False)


def test_a_shoppers_segments_need_the_permission_to_view_memberships(history: None, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    client = Client()
    client.force_login(clerk)
    url = reverse("admin:reco_app_segments_shopper") + "?subject=shoe_fan"
    assert client.get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_segmentmembership"))
    clerk = django_user_model.objects.get(pk=clerk.pk)  # (permissions are cached on the instance)
    client.force_login(clerk)
    page = client.get(url)
    assert page.status_code == 200 and "Active customers" in page.content.decode()
