"""The one package that owns reco_app's cache: key builders, versioned namespaces, fallbacks.

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
  namespace: :mod:`reco_app.serving.local_cache`). A tagged entry is moreover written only
  while the namespace is at its tag (one script on django-redis), so one computed before
  the shopper's next event or an erasure never reaches the shared cache;
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

Its parts: :mod:`.base` (plain reads and writes, keys), :mod:`.round_trip` (writes sent
together), :mod:`.namespaces` (versions, bumps) and :mod:`.entries` (a shopper's entries,
their index, erasure's purge). Everything is imported from here.
"""

from __future__ import annotations

from typing import Any

from reco_app.cache import base
from reco_app.cache.base import (
    PREFIX,
    SUBJECT_NS,
    add,
    delete,
    get,
    get_cache,
    get_many,
    is_subject_ns,
    make_key,
    set_many,
    stats,
)
from reco_app.cache.entries import (
    count_subject_entries,
    get_or_set,
    purge_subjects,
    set,
    set_indexed_many,
    subject_entries,
)
from reco_app.cache.namespaces import (
    bump,
    bump_many,
    ensure_subject_versions,
    fresh_version,
    history_keys,
    ns_version,
    stamp_key,
    subject_ns_timeout,
    suppressed_keys,
)
from reco_app.cache.round_trip import defer, one_round_trip

__all__ = [
    "PREFIX", "SUBJECT_NS", "add", "bump", "bump_many", "count_subject_entries", "defer", "delete",
    "ensure_subject_versions", "fresh_version", "get", "get_cache", "get_many", "get_or_set", "history_keys", "is_subject_ns",
    "make_key", "ns_version", "one_round_trip", "purge_subjects", "set", "set_indexed_many", "set_many", "stamp_key", "stats",
    "subject_entries", "subject_ns_timeout", "suppressed_keys",
]


def __getattr__(name: str) -> Any:
    # ``generation`` moves on every bump this process makes (a request's memo of its lists is
    # valid while it stands); read through, since the parts that bump rebind it
    if name == "generation":
        return base.generation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
