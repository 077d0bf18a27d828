"""Settings for bench_serving.py: the example shop plus a bare DRF endpoint."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("RECO_VAR_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "reco-bench-serving"))

from example_shop.settings import *
from example_shop.settings import RECO_APP

ROOT_URLCONF = "benchmarks.serving_urls"
DEBUG = False
ALLOWED_HOSTS = ["*"]
RECO_APP = {**RECO_APP, "STATS_REFRESH_SECONDS": 3600}
LOGGING = {"version": 1, "disable_existing_loggers": False}
if not os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}}

