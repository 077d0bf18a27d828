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
#: ``bump`` every key in one command (a 500-subject batch: one command instead of 500); like
#: ``bump``, a namespace never read starts at 1 first, so it moves past the 1 readers assume.
_INCR_ALL = "for _, key in ipairs(KEYS) do redis.call('SETNX', key, 1) redis.call('INCR', key) end return #KEYS"
_INCR_ONE = "redis.call('SETNX', KEYS[1], 1) return redis.call('INCR', KEYS[1])"

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
    """Invalidate every key built with ``ns_version(namespace)``; one round trip on django-redis."""
    global generation
    generation += 1
    key = make_key("ns", namespace)
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            return int(client.get_client(write=True).eval(_INCR_ONE, 1, client.make_key(key)))
        cache.add(key, 1, timeout=None)
        return int(cache.incr(key))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (bump %s): %s", namespace, exc)
        return 0


def bump_many(namespaces: Iterable[str]) -> None:
    """``bump`` several namespaces; one round trip on django-redis (one script INCRs them all)."""
    global generation
    names = list(dict.fromkeys(namespaces))
    if not names:
        return
    generation += 1
    cache = get_cache()
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        for name in names:
            bump(name)
        return
    try:
        keys = [client.make_key(make_key("ns", name)) for name in names]
        client.get_client(write=True).eval(_INCR_ALL, len(keys), *keys)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (bump_many): %s", exc)


def get(key: str, default: Any = None) -> Any:
    try:
        value = get_cache().get(key, default)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (get): %s", exc)
        return default
    return value


def set(key: str, value: Any, timeout: int | None = None) -> None:  # noqa: A001
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
