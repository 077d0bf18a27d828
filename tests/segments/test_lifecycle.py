from __future__ import annotations

import datetime as dt

import pytest

from reco_app.models import SegmentMembership
from reco_app.segments.service import recompute_all
from tests.segments.helpers import NOW, add, buyer, event, reco_settings, stage_of

pytestmark = pytest.mark.django_db
MINUTE = dt.timedelta(minutes=1)


def test_new_visitor_until_exactly_the_threshold_then_returning() -> None:
    add(event("v30", "product_view", days_ago=30), event("v31", "product_view", days_ago=30, at=NOW - dt.timedelta(days=30) - MINUTE))
    assert stage_of("v30") == "new_visitor"
    assert stage_of("v31") == "returning_visitor"


def test_first_purchase_makes_a_first_time_buyer_then_active() -> None:
    add(event("s", "product_view", days_ago=3))
    assert stage_of("s") == "new_visitor"
    buyer("s", orders=1, last_days_ago=2, spend=40)
    assert stage_of("s") == "first_time_buyer"
    add(event("s", "purchase", days_ago=1, value=1, unit_price=40))
    assert stage_of("s") == "active"


def test_at_risk_after_exactly_at_risk_days_without_purchase() -> None:
    buyer("s", orders=2, last_days_ago=0, spend=100)
    assert stage_of("s", NOW + dt.timedelta(days=90)) == "active"
    assert stage_of("s", NOW + dt.timedelta(days=90) + MINUTE) == "at_risk"


def test_churned_after_exactly_churned_days_without_any_visit() -> None:
    buyer("s", orders=2, last_days_ago=0, spend=100)
    assert stage_of("s", NOW + dt.timedelta(days=180)) == "at_risk"
    assert stage_of("s", NOW + dt.timedelta(days=180) + MINUTE) == "churned"


def test_a_visit_keeps_a_lapsed_buyer_at_risk_not_churned() -> None:
    buyer("s", orders=2, last_days_ago=200, spend=100)
    add(event("s", "product_view", days_ago=10))
    assert stage_of("s") == "at_risk"


def test_vip_by_orders_or_by_spend() -> None:
    buyer("five", orders=5, last_days_ago=1, spend=100)
    buyer("four", orders=4, last_days_ago=1, spend=999)
    buyer("big", orders=1, last_days_ago=1, spend=1000, quantity=4)  # 4 × 250
    assert [stage_of(s) for s in ("five", "four", "big")] == ["vip", "active", "vip"]


@reco_settings(SEGMENTS_LIFECYCLE={"vip_min_orders": 3, "at_risk_days": 10})
def test_thresholds_come_from_settings() -> None:
    buyer("s", orders=3, last_days_ago=1, spend=30)
    assert stage_of("s") == "vip"
    assert stage_of("s", NOW + dt.timedelta(days=10)) == "at_risk"


def test_every_shopper_has_exactly_one_stage_stored() -> None:
    buyer("a", orders=1, last_days_ago=1, spend=10)
    add(event("b", "product_view"), event("anon:x", "product_view", days_ago=400))
    recompute_all(NOW)
    stages = dict(SegmentMembership.objects.filter(segment__kind="lifecycle").values_list("subject", "segment__key"))
    assert stages == {"a": "lifecycle:first_time_buyer", "b": "lifecycle:new_visitor"}  # anon:x is outside the window
