from __future__ import annotations

from django.test import override_settings

from reco_app import conf
from tests.foundation.helpers import reco_settings


def test_defaults_fill_in_what_the_project_leaves_out() -> None:
    with override_settings(RECO_APP={"PRODUCT_MODEL": "shop.Product", "PRODUCT_FIELDS": {"key": "sku"}}):
        assert conf.get("RETENTION_DAYS") == 395
        fields = conf.get("PRODUCT_FIELDS")
        assert fields["key"] == "sku" and fields["name"] == "name"  # nested dicts merge one level


def test_the_cached_config_is_reset_by_override_settings() -> None:
    before = conf.get("IMPORT_BATCH_SIZE")
    assert conf.get_config() is conf.get_config()  # cached
    with reco_settings(IMPORT_BATCH_SIZE=7):
        assert conf.get("IMPORT_BATCH_SIZE") == 7
    assert conf.get("IMPORT_BATCH_SIZE") == before


def test_missing_setting_means_all_defaults() -> None:
    with override_settings(RECO_APP=None):
        assert conf.get("ADAPTER") == "reco_app.adapter.ShopAdapter"
