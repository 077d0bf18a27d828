"""Test settings: the example_shop's settings with fast hashing and an isolated var dir.

Services are chosen by the same environment variables as the demo (``DATABASE_URL``,
``REDIS_URL``, ``CELERY_BROKER_URL``); without them the tests run on SQLite + locmem and
the ``services``-marked tests skip with a reason (``RECO_REQUIRE_SERVICES=1`` turns those
skips into failures, as in CI).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("RECO_VAR_DIR", str(Path(tempfile.gettempdir()) / f"reco-tests-{os.getpid()}"))


def _worker_redis(url: str, worker: int) -> str:
    """The Redis URL for pytest-xdist worker ``worker``: its own database (the given one
    plus 4 per worker, modulo 16), since tests clear the cache (FLUSHDB) and the broker."""
    base, _, db = url.rpartition("/")
    return f"{base}/{(int(db) + 4 * worker) % 16}" if base.startswith("redis") and db.isdigit() else url


# Parallel runs (pytest -n N): each worker gets its own Redis databases, as pytest-django
# gives each its own test database. A process a test starts (a Celery worker) inherits the
# shifted URLs and the marker, so it does not shift them a second time.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and _WORKER[2:].isdigit() and int(_WORKER[2:]) and not os.environ.get("RECO_TESTS_REDIS_SHIFTED"):
    os.environ["RECO_TESTS_REDIS_SHIFTED"] = _WORKER
    for _name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(_name):
            os.environ[_name] = _worker_redis(os.environ[_name], int(_WORKER[2:]))

# RECO_TESTS_DRIVER=psycopg2: run on psycopg2 although psycopg 3 is installed (CI runs the
# PostgreSQL tests on both drivers; Django picks psycopg 3 whenever it can import it).
if os.environ.get("RECO_TESTS_DRIVER") == "psycopg2":
    import sys

    sys.modules["psycopg"] = None  # type: ignore[assignment]  # "import psycopg" now fails

from example_shop.settings import *
from example_shop.settings import RECO_APP, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "media"
# Tests load many catalogs and models in one process: frozen garbage would pile up.
# Live segments are evaluated in the request in tests (the demo queues them to Celery when a
# broker is configured; tests that exercise that path turn it on themselves).
RECO_APP = {**RECO_APP, "GC_FREEZE": False, "SEGMENTS_LIVE_ASYNC": False}
