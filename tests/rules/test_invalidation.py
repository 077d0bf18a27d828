"""Saving or deleting a rule invalidates cached rules at once."""

from __future__ import annotations

import pytest

from reco_app import cache
from reco_app.rules.engine import RulesStage
from reco_app.signals import rules_changed
from tests.rules.helpers import candidates, catalog, ctx, ranked

pytestmark = pytest.mark.django_db


def test_save_and_delete_bump_the_rules_namespace_and_signal(make_rule) -> None:  # type: ignore[no-untyped-def]
    received = []

    def listener(sender, rule, **kwargs):  # type: ignore[no-untyped-def]
        received.append(rule.name)

    rules_changed.connect(listener)
    try:
        before = cache.ns_version("rules")
        rule = make_rule(name="hide acme", action="exclude", brands=["Acme"])
        after_save = cache.ns_version("rules")
        rule.delete()
        after_delete = cache.ns_version("rules")
    finally:
        rules_changed.disconnect(listener)
    assert before < after_save < after_delete
    assert received == ["hide acme", "hide acme"]


def test_serving_sees_a_changed_rule_on_the_next_request(make_rule) -> None:  # type: ignore[no-untyped-def]
    cat = catalog()
    stage = RulesStage()
    assert "S1" in ranked(stage.apply(candidates(cat), cat, ctx()), cat)  # rules compiled and cached
    rule = make_rule(action="exclude", brands=["Acme"])
    assert "S1" not in ranked(stage.apply(candidates(cat), cat, ctx()), cat)
    rule.enabled = False
    rule.save()
    assert "S1" in ranked(stage.apply(candidates(cat), cat, ctx()), cat)


def test_rules_work_when_the_cache_is_down(make_rule, settings) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"])
    settings.CACHES = {
        **settings.CACHES,
        "down": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                 "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05}},
    }
    settings.RECO_APP = {**settings.RECO_APP, "CACHE_ALIAS": "down"}
    cat = catalog()
    assert "S1" not in ranked(RulesStage().apply(candidates(cat), cat, ctx()), cat)


def test_rules_cache_on_redis(redis_cache, make_rule) -> None:  # type: ignore[no-untyped-def]
    cat = catalog()
    v0 = cache.ns_version("rules")
    make_rule(action="exclude", brands=["Acme"])
    assert cache.ns_version("rules") > v0
    assert "S1" not in ranked(RulesStage().apply(candidates(cat), cat, ctx()), cat)
    assert cache.get(cache.make_key("rules", "specs", cache.ns_version("rules")))[0]["brands"] == ["Acme"]


def test_varies_by_names_only_what_in_scope_rules_look_at(make_rule) -> None:  # type: ignore[no-untyped-def]
    # serving keys a cached list by segments or device only when a rule can make them matter
    cat = catalog()
    stage = RulesStage()
    make_rule(action="exclude", brands=["Acme"])
    assert stage.varies_by(cat, "similar") == frozenset()
    make_rule(action="boost", tags=["sale"], factor=2.0, devices=["mobile"], placements=["trending"])
    make_rule(action="exclude", brands=["Acme"], segments=["rfm:champions"], placements=["for_you"])
    assert stage.varies_by(cat, "trending") == {"device"}
    assert stage.varies_by(cat, "for_you") == {"segments"}
    assert stage.varies_by(cat, "similar") == frozenset()
