from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from reco_app import privacy
from reco_app.models import Segment, SegmentMembership, SegmentSizeSnapshot
from reco_app.segments import live
from reco_app.segments.service import recompute_all, segment_choices, segments_for, user_features
from reco_app.tasks import recompute_segments, sweep_live_segments
from tests.segments.helpers import NOW, add, buyer, event, reco_settings

pytestmark = pytest.mark.django_db


def recent_history() -> None:
    now = timezone.now()
    add(*(event("s", "purchase", at=now - dt.timedelta(days=d), value=1, unit_price=50) for d in (1, 2)))
    add(*(event("s", "add_to_cart", at=now - dt.timedelta(minutes=5 - i), product=f"p{i}", session="live") for i in range(3)))
    add(event("other", "product_view", at=now - dt.timedelta(days=3)))


def test_segments_for_joins_batch_and_live_segments() -> None:
    recent_history()
    recompute_all()
    live.evaluate_subject("s")
    assert segments_for("s") == ["lifecycle:active", "live:high_intent", "rfm:champions"]
    assert segments_for("nobody") == [] and segments_for(None) == []


def test_segments_for_sees_a_recompute_despite_the_cache() -> None:
    recent_history()
    assert segments_for("s") == []
    recompute_all()
    assert "lifecycle:active" in segments_for("s")


def test_disabled_segments_are_not_served() -> None:
    recent_history()
    recompute_all()
    Segment.objects.filter(key="lifecycle:active").update(enabled=False)
    recompute_all()  # bumps the segments namespace
    assert "lifecycle:active" not in segments_for("s")


@reco_settings(SEGMENTS_USER_FEATURE_KINDS=["rfm", "lifecycle", "cluster", "manual"])
def test_user_features_are_batch_segments_only() -> None:
    recent_history()
    recompute_all()
    live.evaluate_subject("s")
    assert user_features(["s", "other", "ghost"]) == {"s": ["lifecycle:active", "rfm:champions"], "other": ["lifecycle:new_visitor"]}
    with reco_settings(SEGMENTS_USER_FEATURE_KINDS=["lifecycle"]):
        assert user_features(["s"]) == {"s": ["lifecycle:active"]}


def test_no_user_features_by_default() -> None:
    recent_history()
    recompute_all()
    assert user_features(["s", "other"]) == {}


def test_only_consented_events_count() -> None:
    buyer("s", orders=1, last_days_ago=1, spend=10)
    buyer("gone", orders=3, last_days_ago=1, spend=100, consent="anonymised")
    recompute_all(NOW)
    assert set(SegmentMembership.objects.values_list("subject", flat=True)) == {"s"}


def test_sizes_are_snapshotted_per_day() -> None:
    buyer("a", orders=1, last_days_ago=1, spend=10)
    recompute_all(NOW)
    buyer("b", orders=1, last_days_ago=1, spend=10)
    recompute_all(NOW)  # same day: replaces
    recompute_all(NOW + dt.timedelta(days=1))
    sizes = list(SegmentSizeSnapshot.objects.filter(segment__key="lifecycle:first_time_buyer").order_by("day").values_list("day", "size"))
    assert sizes == [(NOW.date(), 2), (NOW.date() + dt.timedelta(days=1), 2)]


def test_privacy_export_and_erase_memberships() -> None:
    recent_history()
    recompute_all()
    live.evaluate_subject("s")
    exported = privacy.export_subjects(["s"])["segments"]
    assert {row["segment"] for row in exported} == {"lifecycle:active", "live:high_intent", "rfm:champions"}
    assert all(row["subject"] == "s" and row["reason"] for row in exported)
    assert segments_for("s")
    assert privacy.erase_subjects(["s"])["segments"] == 3
    assert segments_for("s") == []
    assert SegmentMembership.objects.filter(subject="other").exists()


def test_command_prints_sizes_and_timings() -> None:
    recent_history()
    out = StringIO()
    call_command("reco_segments", stdout=out)
    text = out.getvalue()
    assert "2 shoppers, 6 consented events" in text
    assert "lifecycle:active" in text and "total" in text and "clusters" in text


def test_tasks_run_the_same_services() -> None:
    recent_history()
    result = recompute_segments.apply().get()
    assert result["sizes"]["rfm:champions"] == 1
    SegmentMembership.objects.filter(segment__kind="live").delete()
    assert sweep_live_segments.apply().get() == 0


def test_disabling_a_segment_in_the_admin_takes_effect_at_once() -> None:
    recent_history()
    recompute_all()
    assert "rfm:champions" in segments_for("s")
    segment = Segment.objects.get(key="rfm:champions")
    segment.enabled = False
    segment.save()
    assert "rfm:champions" not in segments_for("s")


def test_segment_choices_for_rule_scopes() -> None:
    recent_history()
    recompute_all()
    Segment.objects.filter(key="rfm:lost").update(enabled=False)
    choices = dict(segment_choices(["rfm"]))
    assert choices["rfm:champions"] == "Champions" and "rfm:lost" not in choices
    assert ("lifecycle:vip", "VIP") in segment_choices()
