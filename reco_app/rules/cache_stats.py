"""Cache hit/miss counters shared by every process, for the dashboard.

``reco_app.cache.stats`` counts per process. After a request, at most every
``FLUSH_SECONDS``, each process adds what it counted since its last flush to shared
counters in the cache (``incr``: atomic on Redis), so the dashboard shows the hit
rate of the whole site, not of the one worker that renders it.
"""

from __future__ import annotations

import time
from typing import Any

from reco_app import cache

FLUSH_SECONDS = 10.0
FIELDS = ("hits", "misses", "errors")
_flushed = {name: 0 for name in FIELDS}
_last = [0.0]


def _key(name: str) -> str:
    return cache.make_key("stats", name)


def flush(force: bool = False) -> None:
    now = time.monotonic()
    if not force and now - _last[0] < FLUSH_SECONDS:
        return
    _last[0] = now
    try:
        backend = cache.get_cache()
        for name in FIELDS:
            # (re)create the counter even with nothing to add: after the cache was cleared the
            # site-wide counts start again from 0 rather than falling back to this process's
            delta = cache.stats[name] - _flushed[name]
            backend.add(_key(name), 0, timeout=None)
            if delta > 0:
                backend.incr(_key(name), delta)
                _flushed[name] += delta
    except Exception:  # noqa: BLE001 - counters are best effort; the cache may be down
        return


def shared() -> dict[str, int]:
    """Site-wide counters (this process's unflushed counts included)."""
    flush(force=True)
    try:
        values = cache.get_cache().get_many([_key(n) for n in FIELDS])
    except Exception:  # noqa: BLE001
        values = {}
    out = {}
    for name in FIELDS:
        stored = values.get(_key(name))
        out[name] = int(stored) if stored is not None else cache.stats[name]
    return out


def on_request_finished(sender: Any, **kwargs: Any) -> None:
    flush()
