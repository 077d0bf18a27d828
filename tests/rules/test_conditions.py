"""Each condition, scope and schedule selects the products and requests a merchandiser means."""

from __future__ import annotations

import datetime as dt

import pytest

from reco_app.rules.engine import RulesStage
from tests.rules.helpers import NOW, candidates, catalog, ctx, ranked

pytestmark = pytest.mark.django_db

ALL = {"S1", "S2", "S3", "T1", "T2", "T3", "B1"}


def kept(**ctx_kwargs) -> set[str]:  # type: ignore[no-untyped-def]
    cat = catalog()
    return set(ranked(RulesStage().apply(candidates(cat), cat, ctx(**ctx_kwargs)), cat))


@pytest.mark.parametrize(
    ("condition", "matching"),
    [
        ({"categories": ["Bags", "Shirts"]}, {"B1", "T1", "T2", "T3"}),
        ({"brands": ["crest"]}, {"T2", "T3"}),
        ({"tags": ["sale", "outdoor"]}, {"S2", "T1", "B1"}),
        ({"tags": ["unknown-tag"]}, set()),
        ({"price_min": 50, "price_max": 80}, {"S1", "S3", "B1"}),  # T3 has no price: never matches
        ({"stock_max": 5}, {"S2", "T2"}),  # low stock; untracked stock (T3) never matches
        ({"stock_min": 50}, {"S1", "T1"}),
        ({"launched_after": NOW - dt.timedelta(days=30), "launched_before": NOW - dt.timedelta(days=2)}, {"S2", "S3"}),
        ({"launched_within_days": 7}, {"S3", "B1"}),
        ({"product_keys": ["T1", "B1", "NOPE"]}, {"T1", "B1"}),
        ({"categories": ["Shoes"], "brands": ["Acme"], "price_max": 100}, {"S1"}),  # all criteria must hold
    ],
)
def test_each_condition_selects_the_expected_products(make_rule, condition, matching) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", **condition)
    assert kept() == ALL - matching


def test_new_arrivals_window_moves_with_the_clock(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", launched_within_days=7)
    assert "S3" not in kept()  # launched 3 days before NOW
    assert "S3" in kept(now=NOW + dt.timedelta(days=5))  # 8 days old by then


@pytest.mark.parametrize(
    ("scope", "request_ctx", "applies"),
    [
        ({"placements": ["home"]}, {"placement": "home"}, True),
        ({"placements": ["home"]}, {"placement": "for_you"}, False),
        ({"devices": ["mobile"]}, {"device": "mobile"}, True),
        ({"devices": ["mobile"]}, {"device": "desktop"}, False),
        ({"segments": ["vip", "loyal"]}, {"segments": ["loyal"]}, True),
        ({"segments": ["vip"]}, {"segments": []}, False),
        ({"page_categories": ["Shoes"]}, {"page_category": "shoes"}, True),
        ({"page_categories": ["Shoes"]}, {"page_category": "Bags"}, False),
    ],
)
def test_scope_limits_where_a_rule_applies(make_rule, scope, request_ctx, applies) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"], **scope)
    assert ("S1" not in kept(**request_ctx)) is applies


@pytest.mark.parametrize(
    ("now", "applies"),
    [
        (NOW - dt.timedelta(microseconds=1), False),  # just before the start
        (NOW, True),  # exactly at the start: on
        (NOW + dt.timedelta(hours=2) - dt.timedelta(microseconds=1), True),  # last instant
        (NOW + dt.timedelta(hours=2), False),  # exactly at the end: off
    ],
)
def test_schedule_boundaries(make_rule, now, applies) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"], starts_at=NOW, ends_at=NOW + dt.timedelta(hours=2))
    assert ("S1" not in kept(now=now)) is applies


def test_open_ended_schedules(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"], starts_at=NOW)
    make_rule(action="exclude", brands=["Crest"], ends_at=NOW)
    assert kept(now=NOW - dt.timedelta(days=365)) == ALL - {"T2", "T3"}
    assert kept(now=NOW + dt.timedelta(days=365)) == ALL - {"S1", "S2", "B1"}


def test_segments_come_from_the_provider_when_the_pipeline_left_them_empty(make_rule, settings) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"], segments=["vip"])
    settings.RECO_APP = {**settings.RECO_APP, "SEGMENTS_PROVIDER": "tests.rules.helpers.vip_segments"}
    assert "S1" not in kept(subject="c-vip")
    assert "S1" in kept(subject="c-other")
    assert "S1" in kept(subject="c-vip", personalised=False)  # no consent: no segment lookup
