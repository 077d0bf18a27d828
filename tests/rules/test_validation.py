"""Invalid rules are refused with errors on the right fields."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from reco_app.models.rules import Rule
from tests.rules.helpers import NOW

pytestmark = pytest.mark.django_db


def errors_of(**fields) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    fields.setdefault("name", "r")
    with pytest.raises(ValidationError) as exc:
        Rule(**fields).full_clean()
    return exc.value.message_dict


def test_end_before_start() -> None:
    errs = errors_of(action="exclude", brands=["Acme"], starts_at=NOW, ends_at=NOW - dt.timedelta(hours=1))
    assert "The end must be after the start." in errs["ends_at"]


@pytest.mark.parametrize("action", ["exclude", "filter", "boost", "bury"])
def test_actions_that_need_a_condition(action: str) -> None:
    errs = errors_of(action=action, factor=2.0)
    assert any("needs a condition" in m for m in errs["__all__"])


def test_pin_beyond_the_placement_limit(catalog_items) -> None:  # type: ignore[no-untyped-def]
    with override_settings(RECO_APP={"RULES_PLACEMENT_LIMITS": {"home": 4}}):
        errs = errors_of(action="pin", pin_product_key="S1", position=5, placements=["home"])
        assert any("beyond the 4 products" in m for m in errs["position"])
        Rule(name="ok", action="pin", pin_product_key="S1", position=4, placements=["home"]).full_clean()


def test_pin_of_an_unknown_product(catalog_items) -> None:  # type: ignore[no-untyped-def]
    errs = errors_of(action="pin", pin_product_key="NOPE", position=1)
    assert "No product with key “NOPE” in the catalog." in errs["pin_product_key"]


def test_conflicting_pins_in_overlapping_scope_and_time(make_rule, catalog_items) -> None:  # type: ignore[no-untyped-def]
    make_rule(name="summer", action="pin", pin_product_key="S1", position=1, placements=["home"], starts_at=NOW, ends_at=NOW + dt.timedelta(days=10))
    errs = errors_of(action="pin", pin_product_key="T1", position=1, starts_at=NOW + dt.timedelta(days=9))
    assert any("Conflicts with rule “summer”" in m for m in errs["position"])
    # No conflict: later in time, another placement, another position, disabled, or the same product.
    for ok in [
        {"starts_at": NOW + dt.timedelta(days=10)},
        {"placements": ["cart"]},
        {"position": 2},
        {"enabled": False},
        {"pin_product_key": "S1"},
    ]:
        fields = {"name": "other", "action": "pin", "pin_product_key": "T1", "position": 1, **ok}
        Rule(**fields).full_clean()


def test_boost_that_changes_nothing_and_bad_cap() -> None:
    assert "factor" in errors_of(action="boost", brands=["Acme"], factor=1.0, additive=0.0)
    assert "factor" in errors_of(action="bury", brands=["Acme"], factor=0.5)
    errs = errors_of(action="cap")
    assert set(errs) >= {"cap_count", "cap_by"}


def test_ranges_that_cannot_match() -> None:
    errs = errors_of(action="exclude", price_min=50, price_max=10, stock_min=5, stock_max=1)
    assert set(errs) >= {"price_max", "stock_max"}
