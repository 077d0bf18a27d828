"""Entries that hold a shopper's data: listed in their index so erasure finds them, and
deleted with their namespace (see :mod:`reco_app.cache`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from reco_app import conf
from reco_app.cache import base
from reco_app.cache.base import SUBJECT_NS, T, get, get_cache, logger, make_key, stats
from reco_app.cache.namespaces import subject_ns_timeout

#: a shopper's entry and its listing in their index: KEYS entry, index; ARGV value, its
#: expiry (0: none), the entry's name in the index, the index's expiry
_WRITE = (
    "if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end "
    "redis.call('SADD', KEYS[2], ARGV[3]) redis.call('EXPIRE', KEYS[2], ARGV[4]) "
)
#: a *tagged* entry is written only while the shopper's namespace (KEYS[3]) is at its tag
#: (ARGV[5]): one computed before an erasure (which deletes the namespace) or before the
#: shopper's next event (which bumps it) is not written at all
_IF_CURRENT = "if redis.call('GET', KEYS[3]) ~= ARGV[5] then return 0 end "
#: the tag written at a key of its own too (KEYS[4], listed in the index as ARGV[6], same
#: expiry): the version a copy stands at, which a bump may move along
#: (:func:`reco_app.cache.bump_many` with ``keeps``)
_STAMP = (
    "if ARGV[2] ~= '0' then redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2]) else redis.call('SET', KEYS[4], ARGV[5]) end "
    "redis.call('SADD', KEYS[2], ARGV[6]) "
)
_SET_INDEXED = _WRITE + "return 1"
_SET_TAGGED = _IF_CURRENT + _WRITE + "return 1"
_SET_STAMPED = _IF_CURRENT + _WRITE + _STAMP + "return 1"
_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_SET_INDEXED, _SET_TAGGED, _SET_STAMPED)}

#: a shopper's entry to write: (key, value, shopper, tag or None), or with a fifth item, the
#: key that gets the tag too (in the same script)
Entry = tuple[Any, ...]


def _index_key(subject: str) -> str:
    return make_key("keys", SUBJECT_NS + subject)


def set(key: str, value: Any, timeout: int | None = None, *, subject: str | None = None, tag: int | None = None) -> None:
    """Cache ``value``; with ``subject``, the entry holds that shopper's data and is listed in
    their index so erasure finds it (the same command on django-redis: one script). With
    ``tag`` too (a tagged entry, :mod:`reco_app.serving.local_cache`), it is written only
    while the shopper's namespace is at that version."""
    timeout = conf.get("CACHE_TIMEOUT") if timeout is None else timeout
    if subject:
        _set_indexed([(key, value, subject, tag)], timeout)
        return
    try:
        get_cache().set(key, value, timeout)
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set): %s", exc)


def set_indexed_many(entries: list[Entry], timeout: int | None = None) -> None:
    """:func:`set` for several shoppers' ``(key, value, shopper, tag or None)`` entries, in
    one round trip on django-redis."""
    _set_indexed(entries, conf.get("CACHE_TIMEOUT") if timeout is None else timeout)


def _set_indexed(entries: list[Entry], timeout: int | None) -> None:
    """Shoppers' entries, each listed in its shopper's index (a tagged one only while its
    tag is current): on django-redis one script per entry (by its digest, sent again in full
    where Redis has forgotten it, after a restart), in one round trip."""
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is None or not hasattr(client, "get_client"):
            for key, value, subject, tag, *stamp in entries:
                if tag is not None and cache.get(make_key("ns", SUBJECT_NS + subject)) != tag:
                    continue
                cache.set(key, value, timeout)
                if stamp:
                    cache.set(stamp[0], tag, timeout)
                listed = cache.get(_index_key(subject)) or frozenset()
                cache.set(_index_key(subject), frozenset(listed) | {key, *stamp}, subject_ns_timeout())
            return
        from redis.exceptions import NoScriptError

        redis = client.get_client(write=True)
        calls = []
        for key, value, subject, tag, *stamp in entries:
            keys = [client.make_key(key), client.make_key(_index_key(subject))]
            args: list[Any] = [client.encode(value), int(timeout or 0), key, subject_ns_timeout()]
            script = _SET_INDEXED
            if tag is not None:
                keys.append(client.make_key(make_key("ns", SUBJECT_NS + subject)))
                args.append(int(tag))
                script = _SET_TAGGED
                if stamp:
                    keys.append(client.make_key(stamp[0]))
                    args.append(stamp[0])
                    script = _SET_STAMPED
            calls.append((script, len(keys), *keys, *args))
        if len(calls) == 1:  # (a page's one list: no pipeline)
            script, *args = calls[0]
            try:
                redis.evalsha(_SHA[script], *args)
            except NoScriptError:
                redis.eval(script, *args)
            return
        pipe = redis.pipeline(transaction=False)
        for script, *args in calls:
            pipe.evalsha(_SHA[script], *args)
        try:
            pipe.execute()
        except NoScriptError:  # the entries whose script was found are written again: harmless
            pipe = redis.pipeline(transaction=False)
            for call in calls:
                pipe.eval(*call)
            pipe.execute()
    except Exception as exc:  # noqa: BLE001
        stats["errors"] += 1
        logger.warning("reco cache unavailable (set %d entries): %s", len(entries), exc)


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
    """Delete these shoppers' namespace keys and indexes, then every entry the indexes
    listed and ``extra_keys`` (entries at keys known without an index). A namespace
    re-created later starts at a fresh version, so nothing keyed or tagged with the old one
    is read again. On django-redis the indexes are read and deleted with the namespaces in
    one transaction: a tagged entry (:func:`set` with ``tag``) is written only while its
    namespace stands, so none can be written, and listed in an index read too early, in
    between. Returns the number of entries deleted (index and namespace keys not counted)."""
    names = list(dict.fromkeys(s for s in subjects if s))
    extra = list(dict.fromkeys(extra_keys))
    base.generation += 1
    try:
        cache = get_cache()
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            redis = client.get_client(write=True)
            listed = []
            if names:
                indexes = [client.make_key(_index_key(s)) for s in names]
                pipe = redis.pipeline(transaction=True)
                for index in indexes:
                    pipe.smembers(index)
                pipe.delete(*indexes, *(client.make_key(make_key("ns", SUBJECT_NS + s)) for s in names))
                listed = sorted({_text(k) for members in pipe.execute()[:-1] for k in members})
            entries = [client.make_key(k) for k in [*listed, *extra]]
            deleted = int(redis.delete(*entries)) if entries else 0
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

