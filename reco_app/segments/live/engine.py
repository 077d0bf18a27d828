"""Running the live rules for one shopper and in the sweep; reads the shopper's recent
events in one query (:mod:`.recent`) and writes only what changed. Newly stored events
reach it through :mod:`.events`; the queue's drain evaluates many shoppers at once with the
same plan (:mod:`.drain`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from reco_app import cache, conf, erasure
from reco_app.models import Event
from reco_app.models.segments import SegmentMembership
from reco_app.prepared import PreparedQuery
from reco_app.segments.live import store
from reco_app.segments.live.recent import load_recent
from reco_app.segments.live.rules import EXPIRY_REFRESH, LOOKBACK, LiveHit, LiveRule, Recent

#: what a change of a shopper's memberships leaves as it was, for their namespace's bump
#: (:func:`reco_app.cache.bump_many`): their events and whether their vector was erased
MEMBERSHIP_CHANGE = ("history", "suppressed")
from reco_app.segments.live.state import LiveState, _state_key, forget_state, load_state

logger = logging.getLogger(__name__)
_built: list[Any] = [None, []]  # (the SEGMENTS_LIVE_RULES list they were built from, rules)


def rules(prefixes: Iterable[str] | None = None) -> list[LiveRule]:
    """The configured rules (those owning one of ``prefixes`` if given), built once per
    configuration (conf's cached dict is replaced when settings change)."""
    entries = conf.get("SEGMENTS_LIVE_RULES")
    if _built[0] is not entries:
        out = []
        for entry in entries:
            path, options = (entry, {}) if isinstance(entry, str) else entry
            out.append(import_string(path)(**options))
        _built[:] = [entries, out]
    if prefixes is None:
        return list(_built[1])
    wanted = set(prefixes)
    return [rule for rule in _built[1] if rule.prefix in wanted]



def _cart_session(recent: Recent) -> str:
    carts = np.flatnonzero(recent.since_last_purchase & (recent.etype == "add_to_cart"))
    return str(recent.session[int(carts[-1])]) if len(carts) else ""


_UNREAD: Any = object()
# compiled once: asked before a live evaluation's writes (an erased shopper has no events)
_STILL_THERE = PreparedQuery(
    lambda subject: Event.objects.filter(subject=subject).order_by().values_list("pk")[:1],
    subject=("reco_app.Event", "subject"),
)


class _Erased(Exception):
    """The shopper was erased while their evaluation ran: its writes are rolled back."""


class _Busy(Exception):
    """An erasure holds the erasure lock or waits for it: the evaluation writes nothing now."""


def _later(todo: dict[str, list[LiveRule]]) -> None:
    """Leave evaluations that found the erasure lock busy for later: with the live queue
    (``SEGMENTS_LIVE_ASYNC``) queue them again (the next drain runs them); without, drop
    the cached states, so that each shopper's next event evaluates the rules it may affect
    from the stored memberships (and the sweep re-evaluates every shopper with a recent cart)."""
    from reco_app.segments.live import queue

    if queue.enabled():
        queue.enqueue(todo, retry=True)
    else:
        forget_state(list(todo))


def _needs_write(stored: tuple[int, dt.datetime | None] | None, hit: LiveHit) -> bool:
    if stored is None:
        return True
    expires = stored[1]
    return not (
        expires == hit.expires_at
        or (expires is not None and hit.expires_at is not None and dt.timedelta(0) <= hit.expires_at - expires < EXPIRY_REFRESH)
    )


def _write(
    subject: str, todo: list[tuple[str, LiveHit]], members: dict[str, tuple[int, dt.datetime | None]], now: dt.datetime,
    later: list[tuple[str, LiveHit, dict[str, Any]]] | None = None,
) -> bool:
    """Refresh or add these memberships (``members`` updated); True if one was added.
    With ``later``, new ones are appended there as (key, hit, fields) instead, for the
    caller to write several shoppers' at once (:mod:`.drain`)."""
    added = False
    for key, hit in todo:
        fields = {"score": hit.score, "reason": hit.reason[:300], "computed_at": now, "expires_at": hit.expires_at}
        if key in members and store.refresh(members[key][0], fields):
            members[key] = (members[key][0], hit.expires_at)
            continue
        if later is not None:
            later.append((key, hit, fields))
        else:
            members[key] = (store.upsert(key, subject, fields, name=hit.name, description=hit.description), hit.expires_at)
        added = True
    return added


def _write_state(
    subject: str, state: LiveState | None, cart_session: str, members: dict[str, tuple[int, dt.datetime | None]], session: str,
    into: dict[str, Any] | None = None,
) -> None:
    """Cache the shopper's state if it differs from ``state``; with ``into``, add it there
    instead, for the caller to write several at once."""
    if state is None or (state.cart_session, state.members, state.session) != (cart_session, members, session):
        if into is not None:
            into[_state_key(subject)] = (cart_session, members, session)
        else:
            cache.set(_state_key(subject), (cart_session, members, session), int(LOOKBACK.total_seconds()))


def evaluate_subject(
    subject: str, now: dt.datetime | None = None, only: list[LiveRule] | None = None, *, cached: bool = False,
    state: LiveState | None = _UNREAD,
) -> list[LiveHit]:
    """Re-evaluate the live rules (``only`` these, default all) for one shopper and store the result.

    Two queries when nothing changes (recent events joined with their categories, current
    live memberships); with ``cached`` (the request path) the memberships come from the
    cached :class:`LiveState` (``state``, when the caller has just read it): one query.
    Writes only what changed, and the state only when it changed.
    """
    now = now or timezone.now()
    recent = load_recent(subject, now)
    if not cached:
        state = _UNREAD
    elif state is _UNREAD:
        state = load_state(subject)
    members = store.memberships(subject) if not isinstance(state, LiveState) else dict(state.members)
    return _apply(subject, recent, rules() if only is None else only, members, state, cached=cached)


@dataclass
class _Plan:
    """What one evaluation found, and what it has to write."""

    subject: str
    active: list[LiveRule]
    hits: list[LiveHit]
    stale: list[int]  # memberships to delete
    todo: list[tuple[str, LiveHit]]  # memberships to add or refresh
    members: dict[str, tuple[int, dt.datetime | None]]  # as they will be once written
    current: LiveState | None  # the cached state read (None: none, or not read)
    recent: Recent
    empty: bool  # nothing to remember: no state either
    new_state: bool  # a state to write in the locked transaction
    forget: bool  # a cached state to delete

    def __post_init__(self) -> None:
        self._members = dict(self.members)  # as read: an undone write must not leave its pks

    def reset(self) -> None:
        """Forget what an undone attempt wrote (the primary keys of rolled-back rows, which
        SQLite may hand out again)."""
        self.members = dict(self._members)

    @property
    def writes(self) -> bool:
        return bool(self.stale or self.todo or self.new_state)

    def store(self) -> bool:
        """Write, inside the caller's locked transaction; True if a membership changed."""
        changed = False
        if self.stale:
            store.remove(self.stale)  # nothing cascades: one DELETE
            changed = True
        changed = _write(self.subject, self.todo, self.members, self.recent.now) or changed
        if not self.empty:
            self.write_state()
        return changed

    def write_state(self, into: dict[str, Any] | None = None) -> None:
        """Cache the shopper's state (into ``into`` when given, for the caller to write)."""
        _write_state(self.subject, self.current, _cart_session(self.recent), self.members, self.recent.current_session, into)


def _plan(
    subject: str, recent: Recent, active: list[LiveRule], members: dict[str, tuple[int, dt.datetime | None]],
    state: Any, *, cached: bool,
) -> _Plan:
    """Run ``active`` on ``recent`` and work out what to store, against the shopper's live
    ``members`` (as stored, or as cached in ``state`` when ``cached``) and their cached
    ``state``: a :class:`LiveState`, None (read: there is none) or ``_UNREAD``."""
    current = state if isinstance(state, LiveState) else None
    hits = [hit for rule in active for hit in (rule.evaluate(recent) if len(recent.etype) else [])]
    wanted = {hit.key: hit for hit in hits}
    owned = tuple(rule.prefix for rule in active)
    # memberships of rules that no longer hold: deleted in the locked transaction
    # (a membership already gone, expired or erased, deletes nothing)
    stale = [members.pop(key)[0] for key in list(members) if key.startswith(owned) and key not in wanted]
    todo = [(key, hit) for key, hit in wanted.items() if _needs_write(members.get(key), hit)]
    cart_session = _cart_session(recent)
    # nothing to remember: no cached state either (a shopper erased while an evaluation was
    # queued keeps no key, and a state naming memberships just removed is dropped)
    empty = not todo and not members and not len(recent.etype)
    # with the memberships as stored (not cached), a state that differs from them, or that
    # was not read, is written in the locked transaction, never outside it
    new_state = not empty and not cached and (
        current is None
        or (current.cart_session, current.members, current.session) != (cart_session, members, recent.current_session)
    )
    return _Plan(
        subject, active, hits, stale, todo, members, current, recent, empty, new_state,
        forget=empty and (current is not None or state is _UNREAD),
    )


def _apply(
    subject: str, recent: Recent, active: list[LiveRule], members: dict[str, tuple[int, dt.datetime | None]],
    state: Any, *, cached: bool,
) -> list[LiveHit]:
    """Evaluate one shopper (:func:`_plan`) and store what changed."""
    return _commit_one(_plan(subject, recent, active, members, state, cached=cached), cached=cached)


def _commit_one(plan: _Plan, *, cached: bool = False) -> list[LiveHit]:
    """Store one shopper's plan: its own transaction under the erasure lock, when it writes."""
    subject = plan.subject
    changed = False
    if plan.writes:
        # Writes that may follow an erasure of this shopper (their events were read before
        # it): the erasure lock, shared, first — without waiting: an erasure holding it or
        # waiting for it (behind a segment job) must not hold up a product page, so the
        # writes are left for later (_later). Then write, and check that the shopper still
        # has events — an erasure deletes every one — and undo if not. The state is written
        # before the check, so an erasure committing after it deletes it (on commit).
        try:
            with transaction.atomic():
                if not erasure.try_lock_shared():
                    raise _Busy
                changed = plan.store()
                if not _STILL_THERE.rows(subject=subject):
                    raise _Erased
        except _Busy:
            _later({subject: plan.active})
            return plan.hits
        except _Erased:
            forget_state([subject])
            cache.bump(f"subject:{subject}")
            return []
        except BaseException:
            # undone otherwise (the check or the COMMIT failed, the task's time ran out): the
            # state cached before the check may name rolled-back rows — it goes too
            forget_state([subject])
            raise
    elif not plan.empty and cached:  # the request path with nothing but a new state to cache: no query (see docs)
        plan.write_state()
    if plan.forget:
        forget_state([subject])
    if changed:  # (their memberships: a copy of their history stays usable)
        cache.bump_many([f"subject:{subject}"], keeps=MEMBERSHIP_CHANGE)
    return plan.hits


def sweep(now: dt.datetime | None = None) -> int:
    """Re-evaluate shoppers with recent carts (finds carts abandoned since) and drop expired
    memberships. Returns the number of expired memberships removed."""
    now = now or timezone.now()
    subjects = set(
        Event.objects.consented().since(now - LOOKBACK).filter(event_type="add_to_cart")
        .values_list("subject", flat=True).distinct().order_by()
    )
    for subject in sorted(subjects):
        evaluate_subject(subject, now)
    return clean_expired(now)


def clean_expired(now: dt.datetime | None = None) -> int:
    expired = SegmentMembership.objects.expired(now or timezone.now())
    subjects = set(expired.values_list("subject", flat=True))
    count, _ = expired.delete()
    forget_state(subjects)
    cache.bump_many((f"subject:{subject}" for subject in sorted(subjects)), keeps=MEMBERSHIP_CHANGE)
    return count
