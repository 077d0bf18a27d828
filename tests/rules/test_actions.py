"""Each action changes the list the way a merchandiser expects."""

from __future__ import annotations

import pytest

from reco_app.rules.engine import RulesStage
from tests.rules.helpers import candidates, catalog, ctx, ranked

pytestmark = pytest.mark.django_db

BASELINE = ["S1", "S2", "S3", "T1", "T2", "T3", "B1"]


def run(**ctx_kwargs):  # type: ignore[no-untyped-def]
    cat = catalog()
    out = RulesStage().apply(candidates(cat), cat, ctx(**ctx_kwargs))
    return out, cat


def test_without_rules_the_list_is_untouched() -> None:
    out, cat = run()
    assert ranked(out, cat) == BASELINE
    assert out.pinned == {}


def test_exclude_removes_a_brand(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"])
    out, cat = run()
    assert ranked(out, cat) == ["S3", "T1", "T2", "T3"]


def test_filter_keeps_only_matching_products(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="filter", categories=["shirts"])  # names match case-insensitively
    out, cat = run()
    assert ranked(out, cat) == ["T1", "T2", "T3"]


def test_boost_by_factor_lifts_tagged_products(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="boost", tags=["sale"], factor=2.0)
    out, cat = run()
    assert ranked(out, cat) == ["S2", "T1", "S1", "S3", "T2", "T3", "B1"]  # S2 14, T1 10


def test_boost_by_amount(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="boost", product_keys=["B1"], additive=10.0)
    out, cat = run()
    assert ranked(out, cat)[0] == "B1"


def test_bury_drops_products_down(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="bury", brands=["Acme"], factor=10.0)
    out, cat = run()
    assert ranked(out, cat) == ["S3", "T1", "T2", "T3", "S1", "S2", "B1"]  # Acme 8→0.8, 7→0.7, 2→0.2


def test_boost_raises_negative_scores_too(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="boost", product_keys=["T1"], factor=4.0)
    cat = catalog()
    cands = candidates(cat, {"S1": -1.0, "T1": -2.0})
    out = RulesStage().apply(cands, cat, ctx())
    assert ranked(out, cat) == ["T1", "S1"]


def test_pin_puts_a_hand_picked_product_at_its_position(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", pin_product_key="B1", position=2)
    out, cat = run()
    assert ranked(out, cat)[:3] == ["S1", "B1", "S2"]


def test_pin_adds_a_product_missing_from_the_candidates(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", pin_product_key="T3", position=1)
    cat = catalog()
    out = RulesStage().apply(candidates(cat, {"S1": 1.0, "S2": 0.5}), cat, ctx())
    assert ranked(out, cat) == ["T3", "S1", "S2"]
    assert out.source_names[out.source[list(out.idx).index(cat.key_to_idx["T3"])]] == "pinned"


def test_pin_without_product_pins_the_best_matching_candidate(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", categories=["Bags"], position=1)
    out, cat = run()
    assert ranked(out, cat)[:2] == ["B1", "S1"]


def test_out_of_stock_products_are_never_pinned(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", pin_product_key="B2", position=1)
    out, cat = run()
    assert ranked(out, cat) == BASELINE


def test_pins_are_scoped_to_their_placements(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", pin_product_key="T3", position=1, priority=1, placements=["home"])
    make_rule(action="pin", pin_product_key="B1", position=1, priority=2, placements=["for_you"])
    out, cat = run(placement="for_you")
    assert ranked(out, cat)[0] == "B1"
    out, cat = run(placement="home")
    assert ranked(out, cat)[0] == "T3"


def test_a_position_keeps_the_pin_with_the_lower_priority_number(catalog_items) -> None:  # type: ignore[no-untyped-def]
    from reco_app.models.rules import Rule

    # Saved without validation (as a data import might): the engine still resolves the conflict.
    Rule.objects.create(name="late", action="pin", pin_product_key="T3", position=1, priority=5)
    Rule.objects.create(name="early", action="pin", pin_product_key="B1", position=1, priority=1)
    out, cat = run()
    assert ranked(out, cat)[:2] == ["B1", "S1"]


def test_cap_per_brand_keeps_the_best_of_each(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="cap", cap_count=1, cap_by="brand")
    out, cat = run()
    assert ranked(out, cat) == ["S1", "S3", "T2"]


def test_cap_per_category_only_for_matching_products(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="cap", cap_count=2, cap_by="category", categories=["Shoes"])
    out, cat = run()
    assert ranked(out, cat) == ["S1", "S2", "T1", "T2", "T3", "B1"]


def test_trace_names_the_rules_that_moved_each_product(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(name="Sale boost", action="boost", tags=["sale"], factor=2.0)
    make_rule(name="Bag pin", action="pin", pin_product_key="B1", position=1)
    make_rule(name="No Crest", action="exclude", brands=["Crest"])
    out, cat = run()
    trace = {str(cat.keys[i]): names for i, names in out.trace.items()}
    assert trace == {"S2": ["Sale boost"], "T1": ["Sale boost"], "B1": ["Bag pin"], "T2": ["No Crest"], "T3": ["No Crest"]}


def test_disabled_rules_do_nothing(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="exclude", brands=["Acme"], enabled=False)
    out, cat = run()
    assert ranked(out, cat) == BASELINE


def test_a_pin_fills_an_empty_list(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    from reco_app.serving.types import Candidates

    make_rule(action="pin", pin_product_key="T1", position=1)
    make_rule(action="cap", cap_count=1, cap_by="brand")
    cat = catalog()
    out = RulesStage().apply(Candidates.empty(), cat, ctx())
    assert ranked(out, cat) == ["T1"]


def test_a_condition_pin_skips_products_that_cannot_be_sold(make_rule) -> None:  # type: ignore[no-untyped-def]
    make_rule(action="pin", categories=["Bags"], position=1)
    cat = catalog()
    out = RulesStage().apply(candidates(cat, {"B2": 9.0, "S1": 5.0, "B1": 1.0}), cat, ctx())  # B2 is out of stock
    assert ranked(out, cat)[0] == "B1"
