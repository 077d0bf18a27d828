"""Deferred live rules (``SEGMENTS_LIVE_ASYNC``): a shared queue of pending shoppers and one
Celery task that drains it every ``SEGMENTS_LIVE_DELAY`` seconds.

Publishing a Celery task per stored event costs the request more than running the rules
(about 0.6 ms). Instead the request adds ``"<subject>\\x1f<rule prefix>"`` members to one
Redis set and, only when no drain is due yet, schedules one drain task (a flag with
``SET NX`` says one is due). So a busy shop publishes one task every few seconds however
many events arrive, and a shopper with many events in that time is evaluated once.

The drain first clears the flag, then takes the whole set in one step, so an event stored
meanwhile either is in what it took or schedules the next drain: none is left waiting.
A drain killed half-way loses what it took; that shopper's next event, and the sweep for
carts, catch up. Without Redis (another cache backend) each batch of events is queued as
its own ``evaluate_live`` task, as before.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from reco_app import cache, conf
from reco_app.segments.live.rules import LOOKBACK, LiveRule

logger = logging.getLogger(__name__)
SEP = "\x1f"
#: queues members (ARGV[3:]) in the set KEYS[1] (expiring after ARGV[1] s) and sets the
#: drain flag KEYS[2] if unset (expiring after ARGV[2] s); true if the flag was set: one
#: command (a pipeline of SADD, EXPIRE and SET costs the client more); members are added
#: 1,000 at a time (Lua's unpack has a limit)
_ENQUEUE = (
    "for i = 3, #ARGV, 1000 do redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end "
    "redis.call('EXPIRE', KEYS[1], ARGV[1]) "
    "return redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[2])"
)
#: takes the whole set at once (SMEMBERS then DEL, atomic in Redis)
_TAKE = "local m = redis.call('SMEMBERS', KEYS[1]) redis.call('DEL', KEYS[1]) return m"


def enabled() -> bool:
    """Are live rules queued (``SEGMENTS_LIVE_ASYNC``)? Unset (None): when Celery tasks go to
    a worker (a broker is configured and tasks are not ``task_always_eager``) and the cache
    is Redis, where queuing costs the request one round trip; otherwise the rules run where
    the events are stored."""
    value = conf.get("SEGMENTS_LIVE_ASYNC")
    if value is not None:
        return bool(value)
    from celery import current_app

    conf_ = current_app.conf  # no broker configured: Celery's default app, nothing runs tasks
    return not conf_.task_always_eager and bool(conf_.broker_url) and _redis()[1] is not None


def _redis() -> tuple[Any, Any]:
    """(django-redis client, raw redis connection), or (None, None) for another backend."""
    client = getattr(cache.get_cache(), "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None, None
    return client, client.get_client(write=True)


def _keys(client: Any) -> tuple[str, str]:
    return client.make_key(cache.make_key("live", "pending")), client.make_key(cache.make_key("live", "drain-due"))


def delay_seconds() -> float:
    return max(float(conf.get("SEGMENTS_LIVE_DELAY")), 0.0)


def _task_per_batch(todo: dict[str, list[LiveRule]], countdown: float | None) -> None:
    """Without the Redis queue: these shoppers' rules as one ``evaluate_live`` task."""
    from reco_app.segments.tasks import evaluate_live_segments

    prefixes = sorted({rule.prefix for active in todo.values() for rule in active})
    evaluate_live_segments.apply_async((sorted(todo), prefixes), countdown=countdown)


def enqueue(todo: dict[str, list[LiveRule]], *, retry: bool = False) -> None:
    """Queue these shoppers' rules (called after the events' commit). ``retry``: evaluations
    put off because an erasure held the lock; without the Redis queue their task waits
    ``SEGMENTS_LIVE_DELAY`` seconds (at least one) instead of running, and finding the lock
    busy, again at once."""
    from reco_app.segments.tasks import drain_live_segments

    countdown = max(delay_seconds(), 1.0) if retry else None

    client, redis = _redis()
    if redis is not None:
        members = sorted({f"{subject}{SEP}{rule.prefix}" for subject, active in todo.items() for rule in active})
        pending, due = _keys(client)
        wait = delay_seconds()

        def fill(pipe: Any) -> None:
            # the flag outlives a lost drain task by a minute at most, then the next event schedules one
            pipe.eval(_ENQUEUE, 2, pending, due, int(LOOKBACK.total_seconds()), int(2 * wait) + 60, *members)

        def done(result: Any) -> None:
            if isinstance(result, Exception):  # Redis down: one task per batch, as without Redis
                logger.warning("reco cache unavailable (live queue): %s", result)
                _task_per_batch(todo, countdown)
            elif result[-1]:
                drain_live_segments.apply_async(countdown=wait)

        # after an event's commit: in the same round trip as the namespace bump
        if cache.defer(fill, 1, done):
            return
        try:
            pipe = redis.pipeline(transaction=False)
            fill(pipe)
            result = pipe.execute()
        except Exception as exc:  # noqa: BLE001
            cache.stats["errors"] += 1
            result = exc
        done(result)
        return
    _task_per_batch(todo, countdown)


def forget(subjects: list[str]) -> None:
    """Take these shoppers out of the queue (erasure: no evaluation runs for them later)."""
    from reco_app.segments.live.engine import rules

    client, redis = _redis()
    if redis is None or not subjects:
        return
    members = [f"{subject}{SEP}{rule.prefix}" for subject in subjects for rule in rules()]
    if not members:
        return
    try:
        redis.srem(_keys(client)[0], *members)
    except Exception as exc:  # noqa: BLE001 - Redis down: an erasure or withdrawal must go on
        # (the queue is down with it; what it held expires, and a drain finds no events)
        cache.stats["errors"] += 1
        logger.warning("reco cache unavailable (live queue forget): %s", exc)


def take() -> dict[str, set[str]]:
    """Empty the queue: pending shoppers and the prefixes of their rules to run."""
    client, redis = _redis()
    if redis is None:
        return {}
    pending, due = _keys(client)
    redis.delete(due)  # first: an event stored from now on schedules the next drain
    found: dict[str, set[str]] = defaultdict(set)
    for member in redis.eval(_TAKE, 1, pending):
        text = member.decode() if isinstance(member, bytes) else str(member)
        subject, _, prefix = text.rpartition(SEP)
        if subject:
            found[subject].add(prefix)
    return dict(found)


def drain() -> int:
    """Run the queued rules (all queued shoppers evaluated together: :func:`evaluate_many`);
    returns the number of shoppers evaluated."""
    from reco_app.segments.live.drain import evaluate_many
    from reco_app.segments.live.engine import rules

    return evaluate_many({subject: rules(prefixes) for subject, prefixes in take().items()})
