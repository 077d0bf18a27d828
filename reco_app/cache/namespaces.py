"""Versioned namespaces: global ones (``model``, ``rules``, ``catalog``…) and shoppers'
(``subject:<key>``), read, bumped and created (see :mod:`reco_app.cache`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.cache.backends.dummy import DummyCache

from reco_app import conf
from reco_app.cache import base
from reco_app.cache.base import SUBJECT_NS, get_cache, is_subject_ns, logger, make_key, stats
from reco_app.cache.round_trip import defer

#: bump every key in one command (a 500-subject batch: one command instead of 500). ARGV[1]
#: is the fresh version a missing key starts from (global namespaces: 1, as their readers
#: assume 1 when missing); ARGV[2] the expiry of the key, in seconds (0: none, global ones)
_INCR = (
    "local v for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'NX') v = redis.call('INCR', key) "
    "if ARGV[2] ~= '0' then redis.call('EXPIRE', key, ARGV[2]) end end return v"
)
#: the same for shoppers' namespaces bumped for a change that leaves some of what is derived
#: from them as it was (:func:`bump_many` with ``keeps``): KEYS come in groups of ARGV[3],
#: the namespace, then the keys holding the versions such entries stand at (:func:`stamp_key`);
#: one that stood at the old version stands at the new one. ARGV[1], ARGV[2] as for _INCR
_INCR_CARRY = (
    "local v local n = tonumber(ARGV[3]) for i = 1, #KEYS, n do local old = redis.call('GET', KEYS[i]) "
    "redis.call('SET', KEYS[i], ARGV[1], 'NX') v = redis.call('INCR', KEYS[i]) "
    "if ARGV[2] ~= '0' then redis.call('EXPIRE', KEYS[i], ARGV[2]) end "
    "if old then for j = i + 1, i + n - 1 do if redis.call('GET', KEYS[j]) == old then "
    "redis.call('SET', KEYS[j], string.format('%d', v), 'KEEPTTL') end end end end return v"
)
#: entries derived from a shopper that stand at a version of their namespace, by what they
#: are derived from; each has a key holding that version (:func:`stamp_key`)
STAMPED = {
    "history": "hist",  # the view writer's copy of their history: their events
    "suppressed": "suppressed",  # whether their trained vector was erased: suppression rows
}
#: create missing subject namespaces at a fresh version (with their expiry) and read them all
_ENSURE = (
    "local out = {} for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) "
    "out[i] = redis.call('GET', key) end return out"
)


def subject_ns_timeout() -> int:
    """Expiry of a shopper's namespace key and of their index of cached entries: longer than
    anything keyed with it lives (``CACHE_TIMEOUT``), see the module docstring."""
    return 2 * int(conf.get("CACHE_TIMEOUT")) + 60


def fresh_version() -> int:
    """The version a (re)created subject namespace starts from: now, in microseconds."""
    return time.time_ns() // 1000


def _start(namespace: str) -> tuple[int, int | None]:
    """(first version, expiry) of a namespace created now."""
    if is_subject_ns(namespace):
        return fresh_version(), subject_ns_timeout()
    return 1, None


def ns_version(namespace: str) -> int:
    """Current version of a namespace, created if missing (1 when the cache is down).
    Global namespaces start at 1; shoppers' ones at a fresh version (module docstring)."""
    key = make_key("ns", namespace)
    try:
        value = get_cache().get(key)
        if value is None:
            first, timeout = _start(namespace)
            get_cache().add(key, first, timeout=timeout)
            value = get_cache().get(key) or first
        return int(value)
    except Exception as exc:  # noqa: BLE001 - cache outage must not break serving
        stats["errors"] += 1
        logger.warning("reco cache unavailable (ns_version %s): %s", namespace, exc)
        return 1


def bump(namespace: str) -> int:
    """Invalidate every key built with ``ns_version(namespace)``; returns its new version."""
    return _bump([namespace])


def stamp_key(kind: str, subject: str) -> str:
    """The key holding the namespace version a shopper's ``kind`` entry (:data:`STAMPED`)
    stands at."""
    return make_key(f"{STAMPED[kind]}-at", subject)


def history_keys(subject: str) -> tuple[str, str]:
    """The keys of the copy of a shopper's history the view writer keeps: the copy, and the
    namespace version it stands at (:mod:`reco_app.serving.histories`)."""
    return make_key(STAMPED["history"], subject), stamp_key("history", subject)


def suppressed_keys(subject: str) -> tuple[str, str]:
    """The keys of the cached flag saying whether a shopper's trained vector was erased
    (:func:`reco_app.training.suppression.is_suppressed`), and of the version it stands at."""
    return make_key(STAMPED["suppressed"], subject), stamp_key("suppressed", subject)


def bump_many(namespaces: Iterable[str], *, deferred: bool = False, strict: bool = False, keeps: Iterable[str] = ()) -> None:
    """``bump`` several namespaces (a batch's shoppers) at once; with ``deferred``, inside
    :func:`one_round_trip`, at the end of that block. ``strict``: a cache that cannot be
    reached raises :class:`reco_app.erasure.CacheUnavailable` instead of being logged.
    ``keeps``: kinds of :data:`STAMPED` entries the change leaves as they were (a new event
    leaves the suppression flag; a segment change also the events): an entry of a shopper
    that stood at the old version stands at the new one (in the same script)."""
    names = list(dict.fromkeys(namespaces))
    if names:
        _bump(names, deferrable=deferred and not strict, strict=strict, keeps=tuple(dict.fromkeys(keeps)))


def _eval_into(args: tuple[Any, ...], pipe: Any) -> None:
    pipe.eval(*args)


def _bumped(names: list[str], result: Any) -> None:
    if isinstance(result, Exception):
        logger.warning("reco cache unavailable (bump %s): %s", ", ".join(names)[:200], result)


def _bump(names: list[str], deferrable: bool = False, strict: bool = False, keeps: tuple[str, ...] = ()) -> int:
    """One round trip on django-redis (one script INCRs them all; a second when global and
    subject namespaces are mixed), else add + incr each. Returns the new version of the last
    namespace bumped — for :func:`bump`, its one namespace's (0 when the cache is down)."""
    base.generation += 1
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            version = 0
            # one script per kind (a batch's shoppers are all subject namespaces: one command)
            for subject in (True, False):
                group = [n for n in names if is_subject_ns(n) == subject]
                if group:
                    first, timeout = _start(group[0])
                    keys = [client.make_key(make_key("ns", name)) for name in group]
                    extra: tuple[Any, ...] = ()
                    script = _INCR
                    if keeps and subject:
                        keys = [k for name, ns in zip(group, keys, strict=True) for k in (
                            ns, *(client.make_key(stamp_key(kind, name[len(SUBJECT_NS):])) for kind in keeps))]
                        script, extra = _INCR_CARRY, (1 + len(keeps),)
                    args = (script, len(keys), *keys, first, timeout or 0, *extra)
                    if deferrable and defer(partial(_eval_into, args), 1, partial(_bumped, group)):
                        continue
                    version = int(client.get_client(write=True).eval(*args))
            return version
        version = 0
        for name in names:
            key = make_key("ns", name)
            first, timeout = _start(name)
            old = cache.get(key) if keeps else None
            cache.add(key, first, timeout=timeout)
            version = int(cache.incr(key))
            if timeout:
                cache.touch(key, timeout)
            if old is not None and is_subject_ns(name):
                for kind in keeps:
                    at = stamp_key(kind, name[len(SUBJECT_NS):])
                    if cache.get(at) == old:
                        cache.set(at, version, int(conf.get("CACHE_TIMEOUT")))
        return version
    except Exception as exc:
        stats["errors"] += 1
        logger.warning("reco cache unavailable (bump %s): %s", ", ".join(names)[:200], exc)
        if strict and not isinstance(get_cache(), DummyCache):  # (a dummy cache keeps nothing to invalidate)
            from reco_app.erasure import CacheUnavailable

            raise CacheUnavailable(f"the cache could not be reached ({exc}); nothing was erased, try again later") from exc
        return 0


def ensure_subject_versions(names: list[str]) -> dict[str, int]:
    """Versions of these subject namespaces, creating the missing ones at a fresh version
    (one round trip on django-redis). Raises when the cache is down."""
    cache = get_cache()
    client = getattr(cache, "client", None)
    first, timeout = fresh_version(), subject_ns_timeout()
    if client is not None and hasattr(client, "get_client"):
        keys = [client.make_key(make_key("ns", name)) for name in names]
        found = client.get_client(write=True).eval(_ENSURE, len(keys), *keys, first, timeout)
        return {name: int(value) for name, value in zip(names, found, strict=True)}
    out = {}
    for name in names:
        key = make_key("ns", name)
        cache.add(key, first, timeout=timeout)
        out[name] = int(cache.get(key) or first)
    return out

