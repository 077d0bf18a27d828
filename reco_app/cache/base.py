"""Plain reads and writes of reco_app's cache, each surviving an outage (Redis down: the
reader gets nothing, the writer writes nothing, both carry on), and the key builder."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches

from reco_app import conf

logger = logging.getLogger("reco_app.cache")
T = TypeVar("T")
PREFIX = "reco"
_SPACE = re.compile(r"\s")
SUBJECT_NS = "subject:"

# Process-local hit/miss counters (the dashboard reads the shared ones in the cache).
stats = {"hits": 0, "misses": 0, "errors": 0}
#: moves on every bump made by this process: what a request remembers is valid while it stands
generation = 0


def get_cache() -> BaseCache:
    return caches[conf.get("CACHE_ALIAS")]


def make_key(*parts: Any) -> str:
    raw = ":".join(map(str, parts))  # (a 500-event batch makes a thousand: no generator)
    if len(raw) > 200 or _SPACE.search(raw):
        raw = hashlib.sha1(raw.encode()).hexdigest()
    return f"{PREFIX}:{raw}"


def is_subject_ns(namespace: str) -> bool:
    return namespace.startswith(SUBJECT_NS)


def get(key: str, default: Any = None) -> Any:
    try:
        value = get_cache().get(key, default)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (get): %s", exc)
        return default
    return value


def get_many(keys: list[str]) -> dict[str, Any]:
    """The cached values of these keys (missing ones left out; none when the cache is down)."""
    if not keys:
        return {}
    try:
        return dict(get_cache().get_many(keys))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (get_many): %s", exc)
        return {}


def add(key: str, value: Any, timeout: int | None = None) -> bool:
    """Cache ``value`` only where ``key`` holds nothing: for a value read from the database
    that must not replace one written meanwhile, after a newer commit."""
    try:
        return bool(get_cache().add(key, value, conf.get("CACHE_TIMEOUT") if timeout is None else timeout))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (add): %s", exc)
        return False


def set_many(values: dict[str, Any], timeout: int | None = None) -> None:
    """Cache several values with one expiry (one round trip on django-redis); not for
    entries that must be listed in a shopper's index (see :func:`set`)."""
    if not values:
        return
    try:
        get_cache().set_many(values, conf.get("CACHE_TIMEOUT") if timeout is None else timeout)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set_many): %s", exc)


def delete(*keys: str) -> None:
    try:
        get_cache().delete_many(list(keys))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (delete): %s", exc)

