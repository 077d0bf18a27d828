from __future__ import annotations

import pytest
from django.conf import settings

from tests.conftest import _skip_or_fail


@pytest.fixture
def postgres_transactional_db(transactional_db):  # type: ignore[no-untyped-def]
    """Like ``postgres_db``, but commits for real (other connections see the data)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return transactional_db
