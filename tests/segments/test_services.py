"""The same behaviour on PostgreSQL and Redis (skipped without them; required in CI)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from reco_app import privacy
from reco_app.models import SegmentMembership
from reco_app.segments import live
from reco_app.segments.history import load_history
from reco_app.segments.profile import build_profile
from reco_app.segments.service import recompute_all, segments_for, user_features
from tests.segments.helpers import NOW, add, catalog, event, reco_settings

pytestmark = pytest.mark.services


def history() -> None:
    now = timezone.now()
    add(*(event("s", "purchase", at=now - dt.timedelta(days=d), value=1, unit_price=50) for d in (1, 2)))
    add(*(event("s", "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session="live") for i in range(3)))
    add(event("other", "product_view", at=now - dt.timedelta(days=3)))


def test_spend_on_postgresql(postgres_db: None) -> None:
    catalog(p1=("Shoes", 99.0), p2=("Hats", 4.0))
    odd = event("s", "purchase", days_ago=1, value=2, product="p2")
    odd.context = {"unit_price": "4.50"}  # a string, not a number: the catalog price
    add(event("s", "purchase", days_ago=1, value=3, unit_price=10), odd, event("s", "purchase", days_ago=2, product="p2"))
    h = load_history(NOW)
    assert build_profile(h).spend.tolist() == [30.0 + 2 * 4.0 + 4.0]


@reco_settings(SEGMENTS_USER_FEATURE_KINDS=["rfm", "lifecycle"])
def test_recompute_and_user_features_on_postgresql(postgres_db: None) -> None:
    history()
    report = recompute_all()
    assert report.sizes["rfm:champions"] == 1 and report.sizes["lifecycle:new_visitor"] == 1
    assert user_features(["s", "other"]) == {"s": ["lifecycle:active", "rfm:champions"], "other": ["lifecycle:new_visitor"]}


def test_segments_for_through_redis_follows_changes(postgres_db: None, redis_cache: object) -> None:
    history()
    assert segments_for("s") == []
    recompute_all()
    assert segments_for("s") == ["lifecycle:active", "rfm:champions"]
    live.evaluate_subject("s")
    assert segments_for("s") == ["lifecycle:active", "live:high_intent", "rfm:champions"]
    assert privacy.erase_subjects(["s"])["segments"] == 3
    assert segments_for("s") == []
    assert not SegmentMembership.objects.filter(subject="s").exists()
