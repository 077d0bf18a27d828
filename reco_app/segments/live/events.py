"""What newly stored events trigger (``event_stored``): the rules relevant to them, decided
from the events alone, then queued for the drain (``SEGMENTS_LIVE_ASYNC``) or evaluated
where the events were stored (:mod:`.engine`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from reco_app.models import Event
from reco_app.models.events import PERSONAL_BASES
from reco_app.segments.live.engine import evaluate_subject, rules
from reco_app.segments.live.rules import LOOKBACK, LiveRule
from reco_app.segments.live.state import LiveState, load_state

logger = logging.getLogger(__name__)


def _recent_by_subject(events: Iterable[Event], now: dt.datetime) -> dict[str, list[Event]]:
    """The events live rules look at (consented, of the last 24 hours), by shopper."""
    by_subject: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.consent in PERSONAL_BASES and event.subject and now - event.timestamp < LOOKBACK:
            by_subject[event.subject].append(event)
    return by_subject


def _relevant(events: list[Event], now: dt.datetime) -> tuple[dict[str, list[Event]], dict[str, list[LiveRule]]]:
    """The new events live rules look at, by shopper, and the rules relevant to each
    shopper's (shoppers no rule is relevant to are left out). Decided from the events alone."""
    by_subject = _recent_by_subject(events, now)
    active = rules() if by_subject else []
    todo: dict[str, list[LiveRule]] = {}
    for subject, new in by_subject.items():
        relevant = [rule for rule in active if rule.relevant(new)]
        if relevant:
            todo[subject] = relevant
    return by_subject, todo


def _enqueue(todo: dict[str, list[LiveRule]]) -> None:
    from reco_app.segments.live import queue

    try:
        queue.enqueue(todo)  # after the events' commit
    except Exception:  # attempted: not again from the receiver (a broker down twice in one request)
        logger.exception("queuing the live segment rules failed")


#: what :func:`queue_events` did with a store's events
QUEUED, IRRELEVANT, LEFT = "queued", "irrelevant", "left"


def queue_events(events: Iterable[Event]) -> str:
    """With the live queue on (:func:`.queue.enabled`): queue the rules these newly stored
    events are relevant to, without reading any cached state (the drain reads every state
    of its batch in one round trip), and return :data:`QUEUED`. Inside
    :func:`reco_app.cache.one_round_trip` the queue joins that block's round trip: the
    tracking service sends it with the namespace bump, before ``event_stored``.
    :data:`IRRELEVANT` when no rule is relevant to the events (impressions, say: the
    queue's setting is not even read, and the receiver has nothing to do either);
    :data:`LEFT` when the rules run where the events are stored (:func:`on_events`). Also
    :data:`QUEUED` once attempted: a failure (the broker, the rules' configuration) is
    logged here, once, and not met again by the receiver."""
    try:
        _, todo = _relevant(list(events), timezone.now())
        if not todo:
            return IRRELEVANT
        from reco_app.segments.live import queue

        if not queue.enabled():
            return LEFT
    except Exception:
        logger.exception("live segment rules failed for newly stored events")
        return QUEUED
    _enqueue(todo)
    return QUEUED


def on_events(events: Iterable[Event]) -> None:
    """Evaluate live rules for the shoppers of newly stored events (recent, consented only).

    Per shopper only the rules the new events can affect run (no query decides that);
    with ``SEGMENTS_LIVE_ASYNC`` they are queued for a Celery task instead (:func:`queue_events`).
    """
    from reco_app.segments.live import queue

    now = timezone.now()
    by_subject, relevant = _relevant(list(events), now)
    if not relevant:
        return  # e.g. impressions: no rule looks at them, not even the cached state is read
    if queue.enabled():
        _enqueue(relevant)
        return
    active = rules()
    todo: dict[str, list[LiveRule]] = {}
    states: dict[str, LiveState | None] = {}
    for subject in relevant:
        new = by_subject[subject]
        state = states[subject] = load_state(subject)
        affected = [rule for rule in active if rule.affected(new, state)]
        if affected:
            todo[subject] = affected
    for subject, affected in todo.items():
        newest = max(e.timestamp for e in by_subject[subject])
        evaluate_subject(subject, max(now, newest), only=affected, cached=True, state=states[subject])


def receive_event_stored(
    sender: Any, events: Iterable[Event] = (), live_queued: bool = False, live_relevant: bool = True, **kwargs: Any,
) -> None:
    # the tracking service has queued them already, or found no rule they matter to (queue_events)
    if live_queued or not live_relevant:
        return
    try:
        on_events(events)
    except Exception:
        logger.exception("live segment evaluation failed")
