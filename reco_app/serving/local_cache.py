"""A small per-process layer in front of the shared cache, for the hot path.

* the versions of the global namespaces (``model``, ``rules``, ``catalog``) are kept for
  ``LOCAL_NS_SECONDS`` — so other processes see a bump within that delay, and this process
  at once (serving's signal receivers call :func:`forget_namespaces`);
* finished lists are kept in an LRU of ``LOCAL_CACHE_SIZE`` entries, each at most
  ``CACHE_TIMEOUT`` seconds (as long as its copy in the shared cache). Their keys carry every
  namespace version, so an entry is never stale, only unused: a shopper's namespace that
  expired or was erased comes back at a fresh version (:mod:`reco_app.cache`), so a list
  another process still holds for them is never served again.

A cached list then costs no cache round trip at all; shoppers' own namespaces
(``subject:<key>``) are always read from the shared cache.

A shopper's own lists are *tagged*: one key per list, without their namespace's version,
holding ``(version, list)``; the version is the tag. The request reads the namespace and
the list in one round trip (:func:`ns_versions` with ``prefetch``) and uses the list only
when its tag is the namespace's current version, here and in the shared cache. A
namespace's versions never recur (:mod:`reco_app.cache`), so a list tagged with an
earlier one is never served again, exactly as if the version were part of its key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from reco_app import cache as reco_cache
from reco_app import conf

GLOBAL_NAMESPACES = ("model", "rules", "catalog")
_lock = threading.Lock()
_ns: dict[str, tuple[int, float]] = {}
_lists: OrderedDict[str, Any] = OrderedDict()
_MISSING = object()


class Versions(dict[str, int]):
    """Namespace versions; ``read`` is False when the shared cache could not be read (every
    namespace then reads as 1: nothing keyed with them may be kept, see :mod:`.pipeline`).
    ``prefetched``: the entries of :func:`ns_versions`'s ``prefetch`` keys that the shared
    cache holds, read in the same round trip."""

    read = True

    def __init__(self) -> None:
        super().__init__()
        self.prefetched: dict[str, Any] = {}


def ns_versions(names: list[str], prefetch: tuple[str, ...] = ()) -> Versions:
    """Namespace versions: global ones from the local memo, the rest in one round trip,
    with the entries at the ``prefetch`` keys (a shopper's list, see :func:`get_or_set`).

    A missing global namespace is version 1, as ``reco_cache.ns_version`` would make it
    (not writing it saves a round trip; ``bump`` starts a missing one at 1 before
    incrementing, so it moves to 2). A missing shopper namespace is created at a fresh
    version instead (``reco_cache.ensure_subject_versions``).
    """
    now = time.monotonic()
    out = Versions()
    wanted = []
    for name in names:
        hit = _ns.get(name)
        if hit is not None and hit[1] > now:
            out[name] = hit[0]
        else:
            wanted.append(name)
    if wanted or prefetch:
        keys = {n: reco_cache.make_key("ns", n) for n in wanted}
        try:
            found = reco_cache.get_cache().get_many([*keys.values(), *prefetch])
            out.prefetched = {k: found[k] for k in prefetch if k in found}
            # a shopper's missing namespace is created at a fresh version (one more round
            # trip, only then): nothing is ever keyed with a version it could return to
            missing = [n for n, k in keys.items() if found.get(k) is None and reco_cache.is_subject_ns(n)]
            if missing:
                created = reco_cache.ensure_subject_versions(missing)
                found.update({keys[n]: v for n, v in created.items()})
        except Exception:  # noqa: BLE001 - cache down: every namespace reads as 1, like ns_version
            reco_cache.stats["errors"] += 1
            found = {}
            out.read = False
        expires = now + float(conf.get("LOCAL_NS_SECONDS"))
        for name, key in keys.items():
            out[name] = int(found.get(key) or 1)
            if name in GLOBAL_NAMESPACES:
                _ns[name] = (out[name], expires)
    return out


def forget_namespaces() -> None:
    _ns.clear()


def get_or_set(key: str, compute: Any, *, subject: str | None = None, tag: int | None = None, prefetched: Any = None) -> Any:
    """The list under ``key``: from this process, else the shared cache, else ``compute()``.
    ``subject``: the list is that shopper's (indexed for erasure in the shared cache).
    ``tag``: a tagged list (module docstring), kept as ``(tag, list)`` and used only under
    the same tag; ``prefetched``, the shared cache's entry at ``key`` already read with the
    tag (None: nothing there), so the shared cache is only written, never read, here."""
    size = int(conf.get("LOCAL_CACHE_SIZE"))
    now = time.monotonic()
    if size:
        found = _lists.get(key, _MISSING)
        if found is not _MISSING and found[0] > now and (tag is None or found[1][0] == tag):  # type: ignore[index]
            reco_cache.stats["hits"] += 1
            return found[1] if tag is None else found[1][1]  # type: ignore[index]
    if tag is None:
        value = kept = reco_cache.get_or_set(key, compute, subject=subject)
    elif isinstance(prefetched, tuple) and len(prefetched) == 2 and prefetched[0] == tag:
        reco_cache.stats["hits"] += 1
        kept, value = prefetched, prefetched[1]
    else:
        reco_cache.stats["misses"] += 1
        value = compute()
        kept = (tag, value)
        from reco_app.tracking import buffer

        # where views are written behind the page, the shared copy goes with them (one round
        # trip for every list the writer's interval computed), else now
        if not (subject and buffer.add_list(key, kept, subject=subject, tag=tag)):
            reco_cache.set(key, kept, subject=subject, tag=tag)
    if size:
        expires = now + float(conf.get("CACHE_TIMEOUT"))
        with _lock:
            _lists.pop(key, None)
            _lists[key] = (expires, kept)  # insertion order = expiry order
            while _lists and (len(_lists) > size or next(iter(_lists.values()))[0] <= now):
                _lists.popitem(last=False)
    return value


def forget(keys: list[str]) -> None:
    """Drop these lists from this process (erasure; other processes never read them again
    and drop them once ``CACHE_TIMEOUT`` has passed, at the next list they keep)."""
    with _lock:
        for key in keys:
            _lists.pop(key, None)


def forget_lists() -> None:
    """Drop every list this process keeps (an erasure could not read its shoppers' index in
    the shared cache, so which of them are theirs is unknown)."""
    with _lock:
        _lists.clear()


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _ns.clear()
        _lists.clear()


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("RECO_APP", "CACHES"):
        clear()
