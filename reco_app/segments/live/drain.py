"""The queue's drain: many shoppers' live rules evaluated together, with the plan of a
single evaluation (:func:`.engine._plan`) but shared reads and one locked write."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from reco_app import cache, erasure
from reco_app.models import Event
from reco_app.segments.live import store
from reco_app.segments.live.engine import (
    MEMBERSHIP_CHANGE,
    _Busy,
    _commit_one,
    _Erased,
    _later,
    _Plan,
    _plan,
    _write,
)
from reco_app.segments.live.recent import load_recent_many
from reco_app.segments.live.rules import LOOKBACK, LiveRule
from reco_app.segments.live.state import forget_state, load_states

logger = logging.getLogger(__name__)
#: shoppers evaluated together by :func:`evaluate_many` (one query for each part of their data)
BATCH = 200


def evaluate_many(todo: dict[str, list[LiveRule]], now: dt.datetime | None = None) -> int:
    """:func:`evaluate_subject` for many shoppers (the queue's drain), ``BATCH`` at a time:
    their recent events, memberships and cached states are read with one query, one query
    and one cache round trip; the shoppers whose memberships or state changed are written
    in one locked transaction with one check for erasures; the cache namespaces of those
    whose memberships changed are bumped in one round trip. Returns the number evaluated."""
    now = now or timezone.now()
    subjects = sorted(todo)
    done = 0
    for start in range(0, len(subjects), BATCH):
        chunk = subjects[start:start + BATCH]
        try:
            done += _evaluate_batch({subject: todo[subject] for subject in chunk}, now)
        except SoftTimeLimitExceeded:  # the task's time is up: stop here (the rest waits for the sweep)
            raise
        except Exception:  # e.g. the database gone: the next batches still try
            logger.exception("live segment evaluation failed for a batch of %d queued shoppers", len(chunk))
    return done


def _evaluate_batch(todo: dict[str, list[LiveRule]], now: dt.datetime) -> int:
    subjects = list(todo)
    recents = load_recent_many(subjects, now)
    members = store.memberships_many(subjects)
    states = load_states(subjects)
    plans = []
    for subject in subjects:
        try:
            plans.append(_plan(subject, recents[subject], todo[subject], members.get(subject, {}), states.get(subject), cached=False))
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # a faulty rule: the other shoppers go on
            logger.exception("live segment evaluation failed for a queued shopper")
    writes = [plan for plan in plans if plan.writes]
    try:
        changed = _store_together(writes)
    except SoftTimeLimitExceeded:
        forget_state([plan.subject for plan in writes])  # states of the undone transaction
        raise
    except Exception:
        # One shopper's write failed (say, their segment deleted meanwhile) and took the
        # batch's transaction with it: the states it cached go, and each shopper is written
        # on their own, so only the failing one is lost.
        logger.exception("live segment batch write failed: writing its %d shoppers one by one", len(writes))
        forget_state([plan.subject for plan in writes])
        changed = []
        for plan in writes:
            plan.reset()
            plan.current = None  # its state was just dropped
            try:
                _commit_one(plan)
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                logger.exception("live segment evaluation failed for a queued shopper")
    forget = [plan.subject for plan in plans if plan.forget]
    if forget:
        forget_state(forget)
    cache.bump_many((f"subject:{subject}" for subject in changed), keeps=MEMBERSHIP_CHANGE)
    return len(plans)


def _store_together(plans: list[_Plan]) -> list[str]:
    """Write these plans in one transaction under the erasure lock (shared, without waiting);
    a shopper erased since their events were read is left out (their writes are undone and
    the transaction runs again without them). Returns the shoppers whose memberships changed."""
    pending = plans
    while pending:
        for plan in pending:
            plan.reset()
        try:
            with transaction.atomic():
                if not erasure.try_lock_shared():
                    raise _Busy
                changed = _write_together(pending)
                there = _still_there(pending)
                gone = [plan for plan in pending if plan.subject not in there]
                if gone:
                    raise _Erased([plan.subject for plan in gone])
            return changed
        except _Busy:
            _later({plan.subject: plan.active for plan in pending})
            return []
        except _Erased as exc:
            erased = list(exc.args[0])
            # the undone attempt cached every pending shopper's state: all go (the others'
            # are written again), so none names a membership that was rolled back
            forget_state([plan.subject for plan in pending])
            cache.bump_many(f"subject:{subject}" for subject in erased)
            pending = [plan for plan in pending if plan.subject not in erased]
            for plan in pending:
                plan.current = None
    return []


def _write_together(plans: list[_Plan]) -> list[str]:
    """:meth:`_Plan.store` for many, inside the caller's locked transaction: one ``DELETE``
    for their stale memberships, one upsert for their new ones (refreshes stay one
    ``UPDATE`` each), one round trip for their states. Returns who changed."""
    store.remove([pk for plan in plans for pk in plan.stale])
    new: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {}  # subject -> (key, hit, fields)
    changed = [
        plan.subject for plan in plans
        if _write(plan.subject, plan.todo, plan.members, plan.recent.now, new.setdefault(plan.subject, [])) or plan.stale
    ]
    pks = store.upsert_many([
        (key, subject, fields, hit.name, hit.description) for subject, rows in new.items() for key, hit, fields in rows
    ])
    for plan in plans:
        for key, hit, _ in new[plan.subject]:
            plan.members[key] = (pks[(key, plan.subject)], hit.expires_at)
    states: dict[str, Any] = {}
    for plan in plans:
        if not plan.empty:
            plan.write_state(states)
    cache.set_many(states, int(LOOKBACK.total_seconds()))  # before the check, as for one shopper
    return changed


def _still_there(plans: list[_Plan]) -> set[str]:
    """Which of these shoppers still have events (an erasure deletes every one): looked up
    among their events since the oldest one read, where a queued shopper has some, then,
    for those without, among all."""
    since = min((plan.recent.ts[0] for plan in plans if plan.recent.ts), default=None)
    subjects = [plan.subject for plan in plans]
    found: set[str] = set()
    if since is not None:
        found = set(
            Event.objects.filter(subject__in=subjects, timestamp__gte=since)
            .values_list("subject", flat=True).distinct().order_by()
        )
    rest = [subject for subject in subjects if subject not in found]
    if rest:
        found |= set(Event.objects.filter(subject__in=rest).values_list("subject", flat=True).distinct().order_by())
    return found
