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
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from reco_app import cache, conf
from reco_app.models import CatalogItem, Event
from reco_app.models.events import PERSONAL_BASES
from reco_app.models.segments import Segment, SegmentKind, SegmentMembership

logger = logging.getLogger(__name__)
LOOKBACK = dt.timedelta(hours=24)


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
    """Base class: ``prefix`` names the keys the rule owns; ``evaluate`` returns hits."""

    prefix = "live:"

    def __init__(self, **options: Any) -> None:
        for name, value in options.items():
            if not hasattr(self, name):
                raise TypeError(f"{type(self).__name__} has no option {name!r}")
            setattr(self, name, value)

    def evaluate(self, recent: Recent) -> list[LiveHit]:
        raise NotImplementedError


class HighIntent(LiveRule):
    """``min_add_to_cart`` or more add-to-carts in this session (since the last purchase)."""

    prefix = "live:high_intent"
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
    window_hours = 24
    idle_minutes = 30

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
    min_views = 2
    window_minutes = 30

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


def rules() -> list[LiveRule]:
    out = []
    for entry in conf.get("SEGMENTS_LIVE_RULES"):
        path, options = (entry, {}) if isinstance(entry, str) else entry
        out.append(import_string(path)(**options))
    return out


def load_recent(subject: str, now: dt.datetime) -> Recent:
    rows = list(
        Event.objects.consented().for_subject(subject).since(now - LOOKBACK).filter(timestamp__lte=now)
        .order_by("timestamp", "id").values_list("event_type", "product_key", "session_id", "timestamp")
    )
    keys = {r[1] for r in rows if r[1]}
    cats = dict(CatalogItem.objects.filter(product_key__in=keys).values_list("product_key", "category")) if keys else {}
    return Recent(
        subject=subject,
        now=now,
        etype=np.array([r[0] for r in rows], dtype=object),
        ts=[r[3] for r in rows],
        session=np.array([r[2] for r in rows], dtype=object),
        category=np.array([cats.get(r[1], "") for r in rows], dtype=object),
        current_session=rows[-1][2] if rows else "",
    )


def evaluate_subject(subject: str, now: dt.datetime | None = None) -> list[LiveHit]:
    """Re-evaluate every live rule for one shopper and store the result.

    Three queries when nothing changes (recent events, their categories, current live
    memberships); writes only what changed.
    """
    now = now or timezone.now()
    recent = load_recent(subject, now)
    active = rules()
    hits = [hit for rule in active for hit in (rule.evaluate(recent) if len(recent.etype) else [])]
    wanted = {hit.key: hit for hit in hits}
    existing = {
        key: (pk, expires)
        for key, pk, expires in SegmentMembership.objects.filter(subject=subject, segment__kind=SegmentKind.LIVE)
        .values_list("segment__key", "pk", "expires_at").order_by()
    }
    owned = tuple(rule.prefix for rule in active)
    stale = [pk for key, (pk, _) in existing.items() if key.startswith(owned) and key not in wanted]
    if stale:
        SegmentMembership.objects.filter(pk__in=stale).delete()  # nothing cascades: one DELETE
    created = False
    for key, hit in wanted.items():
        fields = {"score": hit.score, "reason": hit.reason[:300], "computed_at": now, "expires_at": hit.expires_at}
        if key in existing:
            if existing[key][1] != hit.expires_at:
                SegmentMembership.objects.filter(pk=existing[key][0]).update(**fields)
        else:
            SegmentMembership.objects.update_or_create(segment=_segment(hit), subject=subject, defaults=fields)
            created = True
    if stale or created:
        cache.bump(f"subject:{subject}")
    return hits


def _segment(hit: LiveHit) -> Segment:
    segment, _ = Segment.objects.get_or_create(key=hit.key, defaults={"name": hit.name, "kind": SegmentKind.LIVE, "description": hit.description})
    return segment


def on_events(events: Iterable[Event]) -> None:
    """Evaluate live rules for the shoppers of newly stored events (recent, consented only)."""
    now = timezone.now()
    latest: dict[str, dt.datetime] = defaultdict(lambda: dt.datetime.min.replace(tzinfo=dt.UTC))
    for event in events:
        if event.consent in PERSONAL_BASES and event.subject and now - event.timestamp < LOOKBACK:
            latest[event.subject] = max(latest[event.subject], event.timestamp)
    if latest and conf.get("SEGMENTS_LIVE_ASYNC"):
        from reco_app.segments.tasks import evaluate_live_segments

        evaluate_live_segments.delay(sorted(latest))
        return
    for subject, newest in latest.items():
        evaluate_subject(subject, max(now, newest))


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
    for subject in subjects:
        cache.bump(f"subject:{subject}")
    return count
