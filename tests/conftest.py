from __future__ import annotations

import os

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("RECO_REQUIRE_SERVICES") == "1"


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_db(db):  # type: ignore[no-untyped-def]
    """Skip (or, in CI, fail) unless the test database is PostgreSQL."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return db


@pytest.fixture
def redis_cache():  # type: ignore[no-untyped-def]
    """Skip (or, in CI, fail) unless the default cache is a reachable Redis."""
    if not os.environ.get("REDIS_URL"):
        _skip_or_fail("needs Redis: set REDIS_URL=redis://...")
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").ping()
    except Exception as exc:  # noqa: BLE001
        _skip_or_fail(f"Redis at REDIS_URL is not reachable: {exc}")
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()
