"""Writes sent together at the end of a block (:func:`one_round_trip`): one pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from reco_app.cache.base import get_cache, stats

logger = logging.getLogger("reco_app.cache")

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

