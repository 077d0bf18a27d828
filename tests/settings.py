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

from example_shop.settings import *
from example_shop.settings import RECO_APP, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "media"
# Tests load many catalogs and models in one process: frozen garbage would pile up.
# Live segments are evaluated in the request in tests (the demo queues them to Celery when a
# broker is configured; tests that exercise that path turn it on themselves).
RECO_APP = {**RECO_APP, "GC_FREEZE": False, "SEGMENTS_LIVE_ASYNC": False}
