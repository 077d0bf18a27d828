"""The live-segment rules: what a rule sees (:class:`Recent`), what it answers
(:class:`LiveHit`), the base class shops derive from (:class:`LiveRule`) and the three rules
reco_app ships. Name rules in ``SEGMENTS_LIVE_RULES``; :mod:`.engine` runs them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.text import slugify

from reco_app.models import Event
from reco_app.segments.live.state import LiveState

#: how far back a rule sees a shopper's events
LOOKBACK = dt.timedelta(hours=24)
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

