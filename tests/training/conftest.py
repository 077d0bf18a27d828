from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from example_shop.shop.synthetic import SyntheticShop
from tests.training.synthetic import make_shop

FAST = {
    "TRAINING_EPOCHS": 8,
    "TRAINING_COMPONENTS": 16,
    "TRAINING_THREADS": 1,
    "TRAINING_PATIENCE": 3,
    "TRAINING_REFIT_EPOCHS": 1,
    "TRAINING_INCREMENTAL_EPOCHS": 1,
}


@pytest.fixture
def fast_training(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Small, single-threaded models and artifacts in a fresh media folder."""
    settings.RECO_APP = {**django_settings.RECO_APP, **FAST}
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


@pytest.fixture(scope="session")
def small_shop() -> SyntheticShop:
    return make_shop(n_users=80, n_items=60, events_per_user=15, seed=3)


@pytest.fixture
def stored_shop(db, small_shop, fast_training):  # type: ignore[no-untyped-def]
    small_shop.save()
    return small_shop
