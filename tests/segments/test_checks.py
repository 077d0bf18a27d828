from __future__ import annotations

from reco_app.segments.checks import check_segments
from tests.segments.helpers import reco_settings


def ids() -> list[str]:
    return [e.id for e in check_segments()]


def test_default_settings_pass() -> None:
    assert ids() == []


def test_bad_numbers_and_lifecycle_thresholds() -> None:
    with reco_settings(SEGMENTS_RFM_BINS=0):
        assert ids() == ["reco_app.E701"]
    with reco_settings(SEGMENTS_LIFECYCLE={"vip_min_orders": "five"}):
        assert ids() == ["reco_app.E702"]
    with reco_settings(SEGMENTS_LIFECYCLE={"at_risk_days": 200}):
        assert ids() == ["reco_app.W701"]


def test_cluster_settings() -> None:
    with reco_settings(SEGMENTS_CLUSTERS_K=0):
        assert ids() == ["reco_app.E703"]
    with reco_settings(SEGMENTS_CLUSTERS_K_RANGE=[1, 5]):
        assert ids() == ["reco_app.E703"]


def test_live_rules_must_import_and_accept_their_options() -> None:
    with reco_settings(SEGMENTS_LIVE_RULES=["reco_app.segments.live.Nope"]):
        assert ids() == ["reco_app.E704"]
    with reco_settings(SEGMENTS_LIVE_RULES=[("reco_app.segments.live.HighIntent", {"min_cart": 2})]):
        assert ids() == ["reco_app.E704"]
    with reco_settings(SEGMENTS_LIVE_RULES=[("reco_app.segments.live.HighIntent", {"min_add_to_cart": 2})]):
        assert ids() == []


def test_user_feature_kinds_are_batch_kinds() -> None:
    with reco_settings(SEGMENTS_USER_FEATURE_KINDS=["live"]):
        assert ids() == ["reco_app.E705"]


def test_live_delay_is_a_number_of_seconds() -> None:
    for bad in (-1, "2", True, 7200):
        with reco_settings(SEGMENTS_LIVE_DELAY=bad):
            assert ids() == ["reco_app.E706"], bad
    with reco_settings(SEGMENTS_LIVE_DELAY=0):
        assert ids() == []
