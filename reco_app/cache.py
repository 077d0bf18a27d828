"""The one module that owns reco_app's cache: key builders, versioned namespaces, fallbacks.

Keys embed namespace versions (``ns_version("model")``, ``ns_version("rules")``…), so
invalidating a whole namespace is one ``bump(ns)``: old keys are simply never read again
and expire. Every call survives a cache outage (Redis down → compute, don't fail).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches

from reco_app import conf

logger = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "reco"
_SPACE = re.compile(r"\s")
#: bump every key in one command (a 500-subject batch: one command instead of 500); a
#: namespace never read starts at 1 first, so it moves past the 1 readers assume
_INCR = "local v for _, key in ipairs(KEYS) do redis.call('SETNX', key, 1) v = redis.call('INCR', key) end return v"

# Process-local hit/miss counters (the dashboard reads the shared ones in the cache).
stats = {"hits": 0, "misses": 0, "errors": 0}
#: moves on every bump made by this process: what a request remembers is valid while it stands
generation = 0


def get_cache() -> BaseCache:
    return caches[conf.get("CACHE_ALIAS")]


def make_key(*parts: Any) -> str:
    raw = ":".join(str(p) for p in parts)
    if len(raw) > 200 or _SPACE.search(raw):
        raw = hashlib.sha1(raw.encode()).hexdigest()
    return f"{PREFIX}:{raw}"


def ns_version(namespace: str) -> int:
    """Current version of a namespace (1 when unknown or the cache is down)."""
    key = make_key("ns", namespace)
    try:
        value = get_cache().get(key)
        if value is None:
            get_cache().add(key, 1, timeout=None)
            value = get_cache().get(key) or 1
        return int(value)
    except Exception as exc:  # noqa: BLE001 - cache outage must not break serving
        stats["errors"] += 1
        logger.warning("reco cache unavailable (ns_version %s): %s", namespace, exc)
        return 1


def bump(namespace: str) -> int:
    """Invalidate every key built with ``ns_version(namespace)``; returns its new version."""
    return _bump([namespace])


def bump_many(namespaces: Iterable[str]) -> None:
    """``bump`` several namespaces (a batch's shoppers) at once."""
    names = list(dict.fromkeys(namespaces))
    if names:
        _bump(names)


def _bump(names: list[str]) -> int:
    """One round trip on django-redis (one script INCRs them all), else add + incr each.
    Returns the last namespace's new version (0 when the cache is down)."""
    global generation
    generation += 1
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            keys = [client.make_key(make_key("ns", name)) for name in names]
            return int(client.get_client(write=True).eval(_INCR, len(keys), *keys))
        version = 0
        for name in names:
            key = make_key("ns", name)
            cache.add(key, 1, timeout=None)
            version = int(cache.incr(key))
        return version
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (bump %s): %s", ", ".join(names)[:200], exc)
        return 0


def get(key: str, default: Any = None) -> Any:
    try:
        value = get_cache().get(key, default)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (get): %s", exc)
        return default
    return value


def set(key: str, value: Any, timeout: int | None = None) -> None:
    try:
        get_cache().set(key, value, conf.get("CACHE_TIMEOUT") if timeout is None else timeout)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set): %s", exc)


def delete(*keys: str) -> None:
    try:
        get_cache().delete_many(list(keys))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (delete): %s", exc)


_MISSING = object()


def get_or_set(key: str, compute: Callable[[], T], timeout: int | None = None) -> T:
    value = get(key, _MISSING)
    if value is not _MISSING:
        stats["hits"] += 1
        return value  # type: ignore[return-value]
    stats["misses"] += 1
    value = compute()
    set(key, value, timeout)
    return value
