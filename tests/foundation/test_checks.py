from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from reco_app.checks import check_settings
from tests.foundation.helpers import product_fields, reco_settings


def ids() -> list[str]:
    return sorted(str(m.id) for m in check_settings())


def test_the_example_shop_settings_pass() -> None:
    assert ids() == []
    call_command("check")  # also through Django's framework: registered at startup


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"PRODUCT_MODEL": None}, "reco_app.E001"),
        ({"PRODUCT_MODEL": "shop.Nope"}, "reco_app.E001"),
        ({"PRODUCT_MODEL": "not a label"}, "reco_app.E001"),
        ({"ADAPTER": "no.such.Adapter"}, "reco_app.E002"),
        ({"ADAPTER": "reco_app.conf.get"}, "reco_app.E008"),
        ({"PRODUCT_FIELDS": "sku"}, "reco_app.E003"),
        ({"EVENT_WEIGHTS": {"purchase": "five"}}, "reco_app.E004"),
        ({"EVENT_WEIGHTS": {"purchase": 5.0, "hug": 1.0}}, "reco_app.W001"),
        ({"RETENTION_DAYS": 0}, "reco_app.E005"),
        ({"RETENTION_DAYS": "30"}, "reco_app.E005"),
        ({"CACHE_ALIAS": "nope"}, "reco_app.E006"),
        ({"ARTIFACT_STORAGE": "nope"}, "reco_app.E007"),
        ({"PRODUCT_VIEWS": ["product_detail"]}, "reco_app.E009"),
        ({"IMPORT_BATCH_SIZE": 0}, "reco_app.E010"),
        ({"CACHE_TIMEOUT": -1}, "reco_app.E011"),
        ({"CACHE_TIMEOUT": None}, "reco_app.E011"),
        ({"ARTIFACT_PREFIX": ""}, "reco_app.E012"),
        ({"ARTIFACT_PREFIX": "../outside"}, "reco_app.E012"),
        ({"SEGMENTS_PROVIDER": "no.such.function"}, "reco_app.E013"),
        ({"USER_FEATURES_PROVIDER": "reco_app.conf.DEFAULTS"}, "reco_app.E013"),
        ({"PRODUKT_MODEL": "shop.Product"}, "reco_app.W005"),
    ],
)
def test_each_wrong_setting_has_its_own_id(changes: dict[str, Any], expected: str) -> None:
    with reco_settings(**changes):
        assert expected in ids()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"key": None}, "reco_app.E003"),
        ({"name": 3}, "reco_app.E003"),
        ({"catgory": "category.name"}, "reco_app.W002"),
        ({"brand": "maker.name"}, "reco_app.W003"),
        ({"key": "name"}, "reco_app.W004"),  # not unique
    ],
)
def test_product_fields_are_checked_against_the_model(fields: dict[str, Any], expected: str) -> None:
    with product_fields(**fields):
        assert expected in ids()


def test_good_variants_raise_nothing() -> None:
    with reco_settings(USER_FEATURES_PROVIDER=None, CACHE_TIMEOUT=0), product_fields(key="pk", image=None):
        assert ids() == []


def test_a_subclassed_adapter_is_trusted_with_its_own_attribute_paths() -> None:
    with reco_settings(ADAPTER="tests.foundation.adapters.HouseBrandAdapter"), product_fields(brand="maker"):
        assert ids() == []


def test_reco_app_must_be_a_dict() -> None:
    with override_settings(RECO_APP=["shop.Product"]):
        assert ids() == ["reco_app.E014"]
