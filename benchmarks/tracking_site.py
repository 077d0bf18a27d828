"""Settings for bench_tracking.py's gunicorn runs: the example shop plus baseline endpoints."""

from __future__ import annotations

from example_shop.settings import *

ROOT_URLCONF = "benchmarks.tracking_urls"
