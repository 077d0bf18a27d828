from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # The database rolls back between tests; the cache must too.
    cache.clear()
    yield
    cache.clear()
