"""WSGI entry for bench_tracking.py's gunicorn runs: the example shop's application (with
``reco_app.wsgi.beacon_fast_path``) plus ``/bench/bare/``, a plain WSGI callable answering
204 — the floor of gunicorn itself on this machine, before any Django code runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.tracking_site")

from example_shop.wsgi import application as shop


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/bench/bare/":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("204 No Content", [])
        return [b""]
    return shop(environ, start_response)
