from __future__ import annotations

import pytest

from tests.serving.factories import Shop, make_catalog, make_events, train_model


@pytest.fixture
def shop(db) -> Shop:  # type: ignore[no-untyped-def]
    shop = make_catalog()
    make_events(shop)
    return shop


@pytest.fixture
def trained(shop):  # type: ignore[no-untyped-def]
    version = train_model()
    return shop, version
