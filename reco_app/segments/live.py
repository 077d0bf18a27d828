"""Live segments: rules evaluated as events arrive, with an expiry.

Rules are small classes named in ``SEGMENTS_LIVE_RULES`` (dotted path, or ``(path,
options)``). Each sees the shopper's recent consented events and returns the live
segments they belong to *now*; a rule is authoritative for its key prefix, so a
membership it no longer returns is removed (a purchase ends "high intent").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from reco_app import cache, conf
from reco_app.models import CatalogItem, Event
from reco_app.models.events import PERSONAL_BASES
from reco_app.models.segments import SegmentMembership
from reco_app.prepared import PreparedQuery
from reco_app.segments import live_store

logger = logging.getLogger(__name__)
LOOKBACK = dt.timedelta(hours=24)
#: at most this many of a shopper's newest events are read per evaluation (a bot-like shopper
#: with thousands of events a day must not make every event of theirs slower)
RECENT_LIMIT = 200
#: events no live rule needs to see: they say nothing about a shopper's intent or presence
PASSIVE_TYPES = frozenset({"rec_impression", "dwell"})
#: a membership's stored expiry is moved later only when it gains at least this much (a
#: shopper browsing a category would otherwise cost an UPDATE per product view); it may
#: therefore end up to this much earlier than ``last view + window``
EXPIRY_REFRESH = dt.timedelta(minutes=5)


@dataclass
class LiveHit:
    key: str
    name: str
    description: str
    reason: str
    expires_at: dt.datetime
    score: float = 1.0


@dataclass
class Recent:
    """One shopper's consented events of the last 24 hours, oldest first."""

    subject: str
    now: dt.datetime
    etype: np.ndarray
    ts: list[dt.datetime]
    session: np.ndarray
    category: np.ndarray
    current_session: str  # session of the newest event

    @property
    def since_last_purchase(self) -> np.ndarray:
        buys = np.flatnonzero(self.etype == "purchase")
        mask = np.ones(len(self.etype), bool)
        if len(buys):
            mask[: buys[-1] + 1] = False
        return mask


class LiveRule:
    """Base class: ``prefix`` names the keys the rule owns; ``evaluate`` returns hits.

    ``triggers`` names the event types that can change the rule's answer (None: any event).
    A rule is skipped for newly stored events of other types unless :meth:`affected`
    says otherwise; expiry and :func:`sweep` take care of time passing.
    """

    prefix = "live:"
    triggers: frozenset[str] | None = None

    def __init__(self, **options: Any) -> None:
        for name, value in options.items():
            if not hasattr(self, name):
                raise TypeError(f"{type(self).__name__} has no option {name!r}")
            setattr(self, name, value)

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        raise NotImplementedError

    def relevant(self, events: list[Event]) -> bool:
        """Can these new events matter to this rule at all? Decided from the events alone:
        when no rule finds them relevant, not even the cached state is read."""
        return self.triggers is None or any(e.event_type in self.triggers for e in events)

    def affected(self, events: list[Event], state: LiveState | None) -> bool:
        """May these new events change this rule's answer? (No query: events + cached state.)"""
        return self.relevant(events)


class HighIntent(LiveRule):
    """``min_add_to_cart`` or more add-to-carts in this session (since the last purchase)."""

    prefix = "live:high_intent"
    triggers = frozenset({"add_to_cart", "purchase"})
    min_add_to_cart = 3
    expire_minutes = 30

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        mask = recent.since_last_purchase & (recent.session == recent.current_session) & (recent.etype == "add_to_cart")
        n = int(mask.sum())
        if n < self.min_add_to_cart:
            return []
        last = recent.ts[int(np.flatnonzero(mask)[-1])]
        return [LiveHit(
            self.prefix, "High intent", f"{self.min_add_to_cart}+ add-to-carts in the current session.",
            f"{n} add-to-carts in this session", last + dt.timedelta(minutes=self.expire_minutes), float(n),
        )]


class CartAbandoned(LiveRule):
    """Added to cart in the last ``window_hours``, no purchase since, and left: idle for
    ``idle_minutes`` or back in a later session."""

    prefix = "live:cart_abandoned"
    triggers = frozenset({"add_to_cart", "purchase"})
    window_hours = 24
    idle_minutes = 30

    def relevant(self, events: list[Event]) -> bool:
        # Any activity can mean "back in a later session"; impressions and dwell times
        # cannot (they follow a page the shopper opened, whose own events count).
        return any(e.event_type not in PASSIVE_TYPES for e in events)

    def affected(self, events: list[Event], state: LiveState | None) -> bool:
        # Only when a cart is pending in another session (unknown state: evaluate).
        if not self.relevant(events):
            return False
        if state is None or LiveRule.relevant(self, events):  # no state, or a cart add / purchase
            return True
        return bool(state.cart_session) and any(
            e.session_id != state.cart_session for e in events if e.event_type not in PASSIVE_TYPES
        )

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        carts = np.flatnonzero(recent.since_last_purchase & (recent.etype == "add_to_cart"))
        if not len(carts):
            return []
        i = int(carts[-1])
        added = recent.ts[i]
        if recent.now - added > dt.timedelta(hours=self.window_hours):
            return []
        idle = recent.now - recent.ts[-1] >= dt.timedelta(minutes=self.idle_minutes)
        if not idle and recent.session[i] == recent.current_session:
            return []
        return [LiveHit(
            self.prefix, "Cart abandoned", f"Added to cart in the last {self.window_hours} h and left without buying.",
            f"cart left at {added:%Y-%m-%d %H:%M} UTC", added + dt.timedelta(hours=self.window_hours),
        )]


class BrowsingCategory(LiveRule):
    """``min_views`` or more product views of one category in this session, the last one
    less than ``window_minutes`` ago."""

    prefix = "live:browsing:"
    triggers = frozenset({"product_view"})
    min_views = 2
    window_minutes = 30

    def affected(self, events: list[Event], state: LiveState | None) -> bool:
        """Product views, except those that cannot change anything: in the session of the
        cached state, of a category the shopper is already browsing, not moving the stored
        expiry by ``EXPIRY_REFRESH`` — a shopper looking through one category costs no query."""
        if not self.relevant(events):
            return False
        if state is None or not state.session:
            return True
        return any(self._may_change(e, state) for e in events if e.event_type in (self.triggers or ()))

    def _may_change(self, event: Event, state: LiveState) -> bool:
        if event.session_id != state.session:
            return True
        category = _category_of(event.product_key)
        if category is None:  # not known to this process: evaluate
            return True
        if not category:  # a product without a category counts for no segment
            return False
        member = state.members.get(f"{self.prefix}{slugify(category)}")
        if member is None or member[1] is None:
            return True
        return event.timestamp + dt.timedelta(minutes=self.window_minutes) - member[1] >= EXPIRY_REFRESH

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        window = dt.timedelta(minutes=self.window_minutes)
        mask = (recent.session == recent.current_session) & (recent.etype == "product_view") & (recent.category != "")
        hits = []
        for category in sorted(set(recent.category[mask].tolist())):
            idx = np.flatnonzero(mask & (recent.category == category))
            last = recent.ts[int(idx[-1])]
            if len(idx) >= self.min_views and recent.now - last < window:
                hits.append(LiveHit(
                    f"{self.prefix}{slugify(category)}", f"Browsing {category} now",
                    f"Viewed {self.min_views}+ {category} products in the current session.",
                    f"{len(idx)} {category} views this session", last + window, float(len(idx)),
                ))
        return hits


def _category_of(product_key: str) -> str | None:
    """The product's category from the catalog index this process has loaded for serving
    ("" without one); None when no index is loaded or the product is not in it."""
    from reco_app.serving.catalog_index import loaded

    catalog = loaded()
    row = catalog.key_to_idx.get(product_key) if catalog is not None else None
    return None if row is None else catalog.category_name(row)  # type: ignore[union-attr]


@dataclass
class LiveState:
    """What the last evaluation saw, cached per shopper so most events need no query:
    the session of a pending cart ("" if none), the live memberships (key → (pk, expiry))
    and the session of the newest event ("" when cached by an older version)."""

    cart_session: str
    members: dict[str, tuple[int, dt.datetime | None]]
    session: str = ""


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


def _state_key(subject: str) -> str:
    return cache.make_key("live", "state", subject)


def load_state(subject: str) -> LiveState | None:
    found = cache.get(_state_key(subject))
    return LiveState(*found) if isinstance(found, tuple) and len(found) in (2, 3) else None


def forget_state(subjects: Iterable[str]) -> None:
    cache.delete(*(_state_key(s) for s in subjects))


def _recent(subject: str, since: dt.datetime, until: dt.datetime, limit: int) -> Any:
    category = CatalogItem.objects.filter(product_key=OuterRef("product_key")).values("category")[:1]
    return (
        Event.objects.consented().for_subject(subject).since(since).filter(timestamp__lte=until)
        .annotate(category=Subquery(category))
        .order_by("-timestamp", "-id").values_list("event_type", "category", "session_id", "timestamp")[:limit]
    )


# compiled once: every product view of a consenting shopper runs this query
_RECENT = PreparedQuery(
    _recent, subject=("reco_app.Event", "subject"), since=("reco_app.Event", "timestamp"),
    until=("reco_app.Event", "timestamp"),
)


def load_recent(subject: str, now: dt.datetime) -> Recent:
    """One query: the shopper's ``RECENT_LIMIT`` newest consented events of the last 24 hours,
    with their products' categories."""
    newest = _RECENT.rows(subject=subject, since=now - LOOKBACK, until=now, shape={"limit": RECENT_LIMIT})
    rows = newest[::-1]
    return Recent(
        subject=subject,
        now=now,
        etype=np.array([r[0] for r in rows], dtype=object),
        ts=[r[3] for r in rows],
        session=np.array([r[2] for r in rows], dtype=object),
        category=np.array([r[1] or "" for r in rows], dtype=object),
        current_session=rows[-1][2] if rows else "",
    )


def _cart_session(recent: Recent) -> str:
    carts = np.flatnonzero(recent.since_last_purchase & (recent.etype == "add_to_cart"))
    return str(recent.session[int(carts[-1])]) if len(carts) else ""


_UNREAD: Any = object()


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
    active = rules() if only is None else only
    hits = [hit for rule in active for hit in (rule.evaluate(recent) if len(recent.etype) else [])]
    wanted = {hit.key: hit for hit in hits}
    if not cached:
        state = None
    elif state is _UNREAD:
        state = load_state(subject)
    if state is None:
        members = live_store.memberships(subject)
    else:
        members = dict(state.members)
    owned = tuple(rule.prefix for rule in active)
    stale = [key for key in members if key.startswith(owned) and key not in wanted]
    changed = False
    if stale:
        # nothing cascades: one DELETE; a membership already gone (expired, erased) deletes nothing
        live_store.remove([members.pop(key)[0] for key in stale])
        changed = True
    for key, hit in wanted.items():
        fields = {"score": hit.score, "reason": hit.reason[:300], "computed_at": now, "expires_at": hit.expires_at}
        if key in members:
            stored = members[key][1]
            if stored == hit.expires_at or (
                stored is not None and hit.expires_at is not None
                and dt.timedelta(0) <= hit.expires_at - stored < EXPIRY_REFRESH
            ):
                continue
            if live_store.refresh(members[key][0], fields):
                members[key] = (members[key][0], hit.expires_at)
                continue
        members[key] = (live_store.upsert(key, subject, fields, name=hit.name, description=hit.description), hit.expires_at)
        changed = True
    cart_session = _cart_session(recent)
    if state is None or (state.cart_session, state.members, state.session) != (cart_session, members, recent.current_session):
        cache.set(_state_key(subject), (cart_session, members, recent.current_session), int(LOOKBACK.total_seconds()))
    if changed:
        cache.bump(f"subject:{subject}")
    return hits


def on_events(events: Iterable[Event]) -> None:
    """Evaluate live rules for the shoppers of newly stored events (recent, consented only).

    Per shopper only the rules the new events can affect run (no query decides that);
    with ``SEGMENTS_LIVE_ASYNC`` they run in a Celery task instead of the request.
    """
    now = timezone.now()
    by_subject: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.consent in PERSONAL_BASES and event.subject and now - event.timestamp < LOOKBACK:
            by_subject[event.subject].append(event)
    if not by_subject:
        return
    active = rules()
    todo: dict[str, list[LiveRule]] = {}
    states: dict[str, LiveState | None] = {}
    for subject, new in by_subject.items():
        if not any(rule.relevant(new) for rule in active):
            continue  # e.g. impressions: no rule looks at them, not even the cached state is read
        state = states[subject] = load_state(subject)
        affected = [rule for rule in active if rule.affected(new, state)]
        if affected:
            todo[subject] = affected
    if not todo:
        return
    if conf.get("SEGMENTS_LIVE_ASYNC"):
        from reco_app.segments.tasks import evaluate_live_segments

        prefixes = sorted({rule.prefix for affected in todo.values() for rule in affected})
        evaluate_live_segments.delay(sorted(todo), prefixes)  # event_stored comes after commit
        return
    for subject, affected in todo.items():
        newest = max(e.timestamp for e in by_subject[subject])
        evaluate_subject(subject, max(now, newest), only=affected, cached=True, state=states[subject])


def receive_event_stored(sender: Any, events: Iterable[Event] = (), **kwargs: Any) -> None:
    try:
        on_events(events)
    except Exception:
        logger.exception("live segment evaluation failed")


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
    for subject in subjects:
        cache.bump(f"subject:{subject}")
    return count
