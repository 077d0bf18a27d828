from __future__ import annotations

import pytest

from reco_app.models import Segment, SegmentMembership
from reco_app.segments import manual
from reco_app.segments.service import recompute_all, recompute_manual
from tests.segments.helpers import NOW, add, buyer, catalog, event

pytestmark = pytest.mark.django_db


def members(definition: dict, key: str = "manual:test") -> set[str]:
    segment = Segment.objects.create(key=key, name="Test", kind="manual", definition=definition)
    recompute_all(NOW)
    return set(SegmentMembership.objects.filter(segment=segment).values_list("subject", flat=True))


@pytest.fixture
def shoppers() -> None:
    catalog(shoe=("Shoes", 80.0), hat=("Hats", 20.0))
    buyer("shoe_fan", orders=3, last_days_ago=2, spend=300, product="shoe")
    buyer("hat_buyer", orders=1, last_days_ago=40, spend=20, product="hat")
    add(event("viewer", "product_view", product="shoe", days_ago=20))


def test_bought_from_category(shoppers: None) -> None:
    assert members({"conditions": [{"field": "bought_category", "value": "Shoes"}]}) == {"shoe_fan"}


def test_viewed_category(shoppers: None) -> None:
    assert members({"conditions": [{"field": "viewed_category", "value": "Shoes"}]}) == {"viewer"}


def test_total_spend_at_least(shoppers: None) -> None:
    assert members({"conditions": [{"field": "total_spend", "op": "gte", "value": 300}]}) == {"shoe_fan"}
    assert members({"conditions": [{"field": "total_spend", "op": "gte", "value": 20}]}, key="manual:b") == {"shoe_fan", "hat_buyer"}


def test_visited_in_the_last_days(shoppers: None) -> None:
    assert members({"conditions": [{"field": "days_since_visit", "op": "lte", "value": 30}]}) == {"shoe_fan", "viewer"}


def test_lifecycle_stage_and_match_any(shoppers: None) -> None:
    d = {"match": "any", "conditions": [{"field": "lifecycle", "value": "first_time_buyer"}, {"field": "lifecycle", "value": "new_visitor"}]}
    assert members(d) == {"hat_buyer", "viewer"}


def test_match_all_combines_conditions(shoppers: None) -> None:
    d = {"conditions": [{"field": "orders", "op": "gte", "value": 1}, {"field": "days_since_purchase", "op": "gt", "value": 30}]}
    assert members(d) == {"hat_buyer"}


def test_membership_says_why(shoppers: None) -> None:
    members({"conditions": [{"field": "bought_category", "value": "Shoes"}, {"field": "total_spend", "op": "gte", "value": 100}]})
    assert SegmentMembership.objects.get(segment__key="manual:test").reason == "matches: Bought from Shoes and total spend ≥ 100"


def test_validation_explains_problems() -> None:
    assert manual.validate({"conditions": []}) == ["Add at least one condition."]
    assert manual.validate({"conditions": [{"field": "total_spend", "op": "about", "value": "lots"}]}) == [
        "Condition 1: op must be one of gte, lte, gt, lt, eq.",
        "Condition 1: value must be a number.",
    ]
    assert manual.validate({"conditions": [{"field": "shoe_size", "value": 42}]})[0].startswith("Condition 1: field must be one of")
    assert manual.validate({"conditions": [{"field": "lifecycle", "value": "vip"}]}) == []


def test_recompute_one_segment_after_an_edit(shoppers: None) -> None:
    segment = Segment.objects.create(key="manual:x", name="X", kind="manual", definition={"conditions": [{"field": "bought_category", "value": "Hats"}]})
    assert recompute_manual(segment, NOW) == 1
    segment.definition = {"conditions": [{"field": "bought_category", "value": "Shoes"}]}
    segment.save()
    assert recompute_manual(segment, NOW) == 1
    assert list(SegmentMembership.objects.filter(segment=segment).values_list("subject", flat=True)) == ["shoe_fan"]
