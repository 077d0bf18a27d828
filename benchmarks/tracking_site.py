"""Settings for bench_tracking.py's gunicorn runs: the example shop plus baseline endpoints."""

from __future__ import annotations

from example_shop.settings import *

ROOT_URLCONF = "benchmarks.tracking_urls"
from example_shop.settings import RECO_APP

# the batch API measurement sends far more than the default 120 requests a minute
RECO_APP = {**RECO_APP, "API_RATE": None}
