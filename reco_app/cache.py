"""The one module that owns reco_app's cache: key builders, versioned namespaces, fallbacks.

Keys embed namespace versions (``ns_version("model")``, ``ns_version("rules")``…), so
invalidating a whole namespace is one ``bump(ns)``: old keys are simply never read again
and expire. Every call survives a cache outage (Redis down → compute, don't fail).

Shoppers' namespaces (``subject:<key>``) name a person, so unlike the global ones they
expire and erasure deletes them (:func:`purge_subjects`). Why that is safe:

* a namespace key that is missing is *created* by whoever reads or bumps it first, at a
  fresh version: the current time in microseconds (:func:`fresh_version`), then counting
  up by one per bump. No reader keys anything with a missing subject namespace (there is
  no "version 1 when unknown" for them). So a version never comes back: an old version
  would recur only if a namespace were re-created within fewer microseconds than it had
  bumps, before its previous life began (clocks of the web servers, which write the fresh
  value, are assumed to agree within far more than a shopper's bump count in µs);
* hence an entry keyed with an expired or deleted namespace version (a list in another
  process's memory, a list written by a request that raced an erasure) is never served
  again, however long it lives; nor is a shopper's list *tagged* with one (kept under a key
  without the version, with the version in its value, and read together with the
  namespace: :mod:`reco_app.serving.local_cache`);
* the expiry itself, :func:`subject_ns_timeout`, is ``2 × CACHE_TIMEOUT + 60`` seconds,
  set when the namespace is created or bumped (not refreshed by reads). Lists and segment
  keys live at most ``CACHE_TIMEOUT`` (the process-local copies as long, see
  :mod:`reco_app.serving.local_cache`), so most expire before their namespace does; a list
  cached more than ``CACHE_TIMEOUT + 60`` seconds after the shopper's last bump can outlive
  it, and is then recomputed once after the namespace expires — a cache miss, never a
  stale hit. The fresh-version rule above is what keeps expiry (and deletion) safe; the
  TTL only keeps the keys from piling up.

Entries that hold a shopper's data are written with ``set(..., subject=…)`` so they are
also listed in the shopper's index (a Redis set ``reco:keys:subject:<key>`` with the same
expiry), which erasure reads to delete them without scanning the key space.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches
from django.core.cache.backends.dummy import DummyCache

from reco_app import conf

logger = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "reco"
_SPACE = re.compile(r"\s")
SUBJECT_NS = "subject:"
#: bump every key in one command (a 500-subject batch: one command instead of 500). ARGV[1]
#: is the fresh version a missing key starts from (global namespaces: 1, as their readers
#: assume 1 when missing); ARGV[2] the expiry of the key, in seconds (0: none, global ones)
_INCR = (
    "local v for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'NX') v = redis.call('INCR', key) "
    "if ARGV[2] ~= '0' then redis.call('EXPIRE', key, ARGV[2]) end end return v"
)
#: create missing subject namespaces at a fresh version (with their expiry) and read them all
_ENSURE = (
    "local out = {} for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) "
    "out[i] = redis.call('GET', key) end return out"
)

#: a shopper's entry and its listing in their index in one command: KEYS entry, index;
#: ARGV value, its expiry (0: none), the entry's name in the index, the index's expiry
_SET_INDEXED = (
    "if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end "
    "redis.call('SADD', KEYS[2], ARGV[3]) redis.call('EXPIRE', KEYS[2], ARGV[4]) return 1"
)
_SET_INDEXED_SHA = hashlib.sha1(_SET_INDEXED.encode()).hexdigest()

# Process-local hit/miss counters (the dashboard reads the shared ones in the cache).
stats = {"hits": 0, "misses": 0, "errors": 0}
#: moves on every bump made by this process: what a request remembers is valid while it stands
generation = 0


#: writes waiting for the end of :func:`one_round_trip`: (add commands to a pipeline, how
#: many results they take, what to do with those results or with the error)
_Deferred = tuple[Callable[[Any], None], int, Callable[[Any], None]]
_deferred: ContextVar[list[_Deferred] | None] = ContextVar("reco_cache_deferred", default=None)


@contextmanager
def one_round_trip() -> Iterator[None]:
    """Writes made inside that allow it (:func:`bump_many`, the live-segment queue) are sent
    together when the block ends, in one pipeline (django-redis; elsewhere they run at once).
    What they change is therefore visible only after the block: for writes whose results
    nobody inside reads, such as the work after an event's commit."""
    client = getattr(get_cache(), "client", None)
    if client is None or not hasattr(client, "get_client") or _deferred.get() is not None:
        yield  # another backend, or already inside a block (its end sends everything)
        return
    pending: list[_Deferred] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
        if pending:
            _send(client, pending)


def _send(client: Any, pending: list[_Deferred]) -> None:
    try:
        pipe = client.get_client(write=True).pipeline(transaction=False)
        for fill, _, _ in pending:
            fill(pipe)
        results = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - each writer says what a failure means to it
        stats["errors"] += 1
        for _, _, done in pending:
            _call(done, exc)
        return
    at = 0
    for _, count, done in pending:
        _call(done, results[at:at + count])
        at += count


def _call(done: Callable[[Any], None], result: Any) -> None:
    # the block ends after an event's commit, in the request: a failing follow-up (a broker
    # down when the drain task is published) is logged, and the other writers' still run
    try:
        done(result)
    except Exception:
        logger.exception("reco cache: a deferred write's follow-up failed")


def defer(fill: Callable[[Any], None], count: int, done: Callable[[Any], None]) -> bool:
    """Inside :func:`one_round_trip`: add ``fill(pipe)`` (``count`` commands) to the round trip
    at its end, then call ``done`` with their results, or with the exception if it failed.
    False outside one (the caller writes at once)."""
    pending = _deferred.get()
    if pending is None:
        return False
    pending.append((fill, count, done))
    return True


def get_cache() -> BaseCache:
    return caches[conf.get("CACHE_ALIAS")]


def make_key(*parts: Any) -> str:
    raw = ":".join(map(str, parts))  # (a 500-event batch makes a thousand: no generator)
    if len(raw) > 200 or _SPACE.search(raw):
        raw = hashlib.sha1(raw.encode()).hexdigest()
    return f"{PREFIX}:{raw}"


def is_subject_ns(namespace: str) -> bool:
    return namespace.startswith(SUBJECT_NS)


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


def bump_many(namespaces: Iterable[str], *, deferred: bool = False, strict: bool = False) -> None:
    """``bump`` several namespaces (a batch's shoppers) at once; with ``deferred``, inside
    :func:`one_round_trip`, at the end of that block. ``strict``: a cache that cannot be
    reached raises :class:`reco_app.erasure.CacheUnavailable` instead of being logged."""
    names = list(dict.fromkeys(namespaces))
    if names:
        _bump(names, deferrable=deferred and not strict, strict=strict)


def _eval_into(args: tuple[Any, ...], pipe: Any) -> None:
    pipe.eval(*args)


def _bumped(names: list[str], result: Any) -> None:
    if isinstance(result, Exception):
        logger.warning("reco cache unavailable (bump %s): %s", ", ".join(names)[:200], result)


def _bump(names: list[str], deferrable: bool = False, strict: bool = False) -> int:
    """One round trip on django-redis (one script INCRs them all; a second when global and
    subject namespaces are mixed), else add + incr each. Returns the new version of the last
    namespace bumped — for :func:`bump`, its one namespace's (0 when the cache is down)."""
    global generation
    generation += 1
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
                    args = (_INCR, len(keys), *keys, first, timeout or 0)
                    if deferrable and defer(partial(_eval_into, args), 1, partial(_bumped, group)):
                        continue
                    version = int(client.get_client(write=True).eval(*args))
            return version
        version = 0
        for name in names:
            key = make_key("ns", name)
            first, timeout = _start(name)
            cache.add(key, first, timeout=timeout)
            version = int(cache.incr(key))
            if timeout:
                cache.touch(key, timeout)
        return version
    except Exception as exc:
        stats["errors"] += 1
        logger.warning("reco cache unavailable (bump %s): %s", ", ".join(names)[:200], exc)
        if strict and not isinstance(get_cache(), DummyCache):  # (a dummy cache keeps nothing to invalidate)
            from reco_app.erasure import CacheUnavailable

            raise CacheUnavailable(f"the cache could not be reached ({exc}); nothing was erased, try again later") from exc
        return 0


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


def _index_key(subject: str) -> str:
    return make_key("keys", SUBJECT_NS + subject)


def set(key: str, value: Any, timeout: int | None = None, *, subject: str | None = None) -> None:
    """Cache ``value``; with ``subject``, the entry holds that shopper's data and is listed in
    their index so erasure finds it (the same command on django-redis: one script)."""
    timeout = conf.get("CACHE_TIMEOUT") if timeout is None else timeout
    try:
        cache = get_cache()
        if not subject:
            cache.set(key, value, timeout)
            return
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            from redis.exceptions import NoScriptError

            redis = client.get_client(write=True)
            args = (2, client.make_key(key), client.make_key(_index_key(subject)), client.encode(value),
                    int(timeout or 0), key, subject_ns_timeout())
            try:  # (the script by its digest: a Redis that restarted has forgotten it)
                redis.evalsha(_SET_INDEXED_SHA, *args)
            except NoScriptError:
                redis.eval(_SET_INDEXED, *args)
            return
        cache.set(key, value, timeout)
        listed = cache.get(_index_key(subject)) or frozenset()
        cache.set(_index_key(subject), frozenset(listed) | {key}, subject_ns_timeout())
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set): %s", exc)


def set_indexed_many(entries: list[tuple[str, Any, str | None]]) -> None:
    """:func:`set` for several ``(key, value, subject)`` entries (those with a subject
    listed in that shopper's index), in one round trip on django-redis."""
    cache = get_cache()
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        for key, value, subject in entries:
            set(key, value, subject=subject)
        return
    timeout = int(conf.get("CACHE_TIMEOUT") or 0)
    try:
        from redis.exceptions import NoScriptError

        redis = client.get_client(write=True)
        scripts = [(2, client.make_key(key), client.make_key(_index_key(subject)), client.encode(value), timeout, key, subject_ns_timeout())
                   for key, value, subject in entries if subject]
        pipe = redis.pipeline(transaction=False)
        for key, value, subject in entries:
            if not subject:
                pipe.set(client.make_key(key), client.encode(value), ex=timeout or None)
        for args in scripts:
            pipe.evalsha(_SET_INDEXED_SHA, *args)
        try:
            pipe.execute()
        except NoScriptError:  # a Redis that restarted has forgotten the script: once more with it
            pipe = redis.pipeline(transaction=False)
            for args in scripts:
                pipe.eval(_SET_INDEXED, *args)
            pipe.execute()
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set %d entries): %s", len(entries), exc)


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


def count_subject_entries(subjects: Iterable[str]) -> int:
    """How many cached entries these shoppers' indexes list that still exist: two round
    trips on django-redis whatever the number of shoppers (erasure counts them under its
    lock)."""
    names = list(dict.fromkeys(s for s in subjects if s))
    if not names:
        return 0
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            redis = client.get_client(write=True)
            pipe = redis.pipeline(transaction=False)
            for s in names:
                pipe.smembers(client.make_key(_index_key(s)))
            listed = {_text(k) for members in pipe.execute() for k in members}
            return int(redis.exists(*(client.make_key(k) for k in listed))) if listed else 0
        return sum(len(subject_entries(s)) for s in names)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (count subject entries): %s", exc)
        return 0


def subject_entries(subject: str) -> dict[str, Any]:
    """The cached entries listed in a shopper's index that still exist: key → value."""
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            redis = client.get_client(write=True)
            listed = sorted(_text(k) for k in redis.smembers(client.make_key(_index_key(subject))))
            values = redis.mget([client.make_key(k) for k in listed]) if listed else []
            return {k: client.decode(v) for k, v in zip(listed, values, strict=True) if v is not None}
        listed = sorted(cache.get(_index_key(subject)) or ())
        found = cache.get_many(listed)
        return {k: found[k] for k in listed if k in found}
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (subject entries): %s", exc)
        return {}


def purge_subjects(subjects: Iterable[str], extra_keys: Iterable[str] = ()) -> int:
    """Delete every indexed entry of these shoppers, ``extra_keys`` (entries at keys known
    without an index), their indexes, and then their namespace keys: a namespace re-created
    later starts at a fresh version, so nothing keyed with the old one is read again.
    Returns the number of entries deleted (index and namespace keys not counted)."""
    global generation
    names = list(dict.fromkeys(s for s in subjects if s))
    extra = list(dict.fromkeys(extra_keys))
    generation += 1
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            redis = client.get_client(write=True)
            indexes = [client.make_key(_index_key(s)) for s in names]
            pipe = redis.pipeline(transaction=False)
            for index in indexes:
                pipe.smembers(index)
            listed = sorted({_text(k) for members in pipe.execute() for k in members})
            entries = [client.make_key(k) for k in [*listed, *extra]]
            deleted = int(redis.delete(*entries)) if entries else 0
            # the namespaces last: once nothing keyed with their versions is left
            if names:
                redis.delete(*indexes, *(client.make_key(make_key("ns", SUBJECT_NS + s)) for s in names))
            _forget_local(listed)
            return deleted
        listed_local: list[str] = []
        for s in names:
            listed_local.extend(cache.get(_index_key(s)) or ())
        keys = [*listed_local, *extra]
        deleted = sum(1 for k in keys if cache.has_key(k))
        cache.delete_many(keys)
        cache.delete_many([_index_key(s) for s in names] + [make_key("ns", SUBJECT_NS + s) for s in names])
        _forget_local(listed_local)
        return deleted
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (purge): %s", exc)
        # which lists are theirs is unknown: this process keeps none (while the shared cache
        # is down, no process keeps a list it computes)
        from reco_app.serving import local_cache

        local_cache.forget_lists()
        return 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _forget_local(keys: list[str]) -> None:
    from reco_app.serving import local_cache

    local_cache.forget(keys)


def delete(*keys: str) -> None:
    try:
        get_cache().delete_many(list(keys))
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (delete): %s", exc)


_MISSING = object()


def get_or_set(key: str, compute: Callable[[], T], timeout: int | None = None, *, subject: str | None = None) -> T:
    value = get(key, _MISSING)
    if value is not _MISSING:
        stats["hits"] += 1
        return value  # type: ignore[return-value]
    stats["misses"] += 1
    value = compute()
    set(key, value, timeout, subject=subject)
    return value
