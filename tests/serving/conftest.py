from __future__ import annotations

import pytest
from django.core.cache import caches

from reco_app.serving import catalog_index, local_cache, model_store, stats
from tests.serving.factories import Shop, make_catalog, make_events, train_model


@pytest.fixture(autouse=True)
def fresh_serving_state(settings):  # type: ignore[no-untyped-def]
    """Each test starts with no process-level serving state and an empty cache.

    Catalog reloads happen inline so a test sees its own changes at once
    (test_cache.py covers the background reload).
    """
    settings.RECO_APP = {**settings.RECO_APP, "CATALOG_BACKGROUND_RELOAD": False}
    caches["default"].clear()
    local_cache.clear()
    catalog_index.reset()
    model_store.reset()
    stats.reset()
    yield
    catalog_index.reset()
    model_store.reset()
    stats.reset()


@pytest.fixture
def shop(db) -> Shop:  # type: ignore[no-untyped-def]
    shop = make_catalog()
    make_events(shop)
    return shop


@pytest.fixture
def trained(shop):  # type: ignore[no-untyped-def]
    version = train_model()
    return shop, version
