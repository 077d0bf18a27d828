"""What serving knows about one shopper: their recent consented events, as catalog rows."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from django.utils import timezone

from reco_app import conf
from reco_app.serving.types import CatalogIndex

# Events that say something about taste (impressions and searches do not).
TASTE_EVENTS = ("product_view", "add_to_cart", "wishlist_add", "purchase", "rating", "rec_click")


@dataclass
class Profile:
    subject: str | None = None
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # newest first, unique
    recent_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    viewed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # newest first, unique
    purchased: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    purchase_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def empty(self) -> bool:
        return not len(self.recent) and not len(self.purchased)


def load_profile(subject: str | None, catalog: CatalogIndex, now: dt.datetime | None = None) -> Profile:
    """The shopper's consented history (two indexed queries), mapped to catalog rows."""
    if not subject:
        return Profile()
    from reco_app.models import Event

    now = now or timezone.now()
    since = now - dt.timedelta(days=conf.get("HISTORY_DAYS"))
    events = (
        Event.objects.consented().for_subject(subject).since(since).of_types(TASTE_EVENTS)
        .order_by("-timestamp").values_list("product_key", "event_type", "timestamp", "value")[: conf.get("HISTORY_LIMIT")]
    )
    weights_cfg: dict[str, float] = conf.get("EVENT_WEIGHTS")
    half_life = 3 * 86400.0
    score: dict[int, float] = {}
    order: list[int] = []
    viewed: list[int] = []
    for key, etype, ts, value in events:
        row = catalog.key_to_idx.get(key)
        if row is None:
            continue
        w = float(weights_cfg.get(etype, 0.0))
        if etype == "rating":
            w *= (value or 2.5) - 2.5
        age = max((now - ts).total_seconds(), 0.0)
        score[row] = score.get(row, 0.0) + w * math.exp(-age * math.log(2) / half_life)
        if row not in order:
            order.append(row)
        if etype == "product_view" and row not in viewed:
            viewed.append(row)
    liked = [r for r in order if score[r] > 0]
    purchases: dict[int, int] = {}
    # the time bound lets every database use the (subject, timestamp) index
    bought_since = now - dt.timedelta(days=max(conf.get("HISTORY_DAYS"), 730))
    for key in Event.objects.consented().for_subject(subject).since(bought_since).of_types(["purchase"]).values_list("product_key", flat=True)[:500]:
        row = catalog.key_to_idx.get(key)
        if row is not None:
            purchases[row] = purchases.get(row, 0) + 1
    return Profile(
        subject=subject,
        recent=np.array(liked, np.int64),
        recent_weights=np.array([score[r] for r in liked], np.float64),
        viewed=np.array(viewed, np.int64),
        purchased=np.array(list(purchases), np.int64),
        purchase_counts=np.array(list(purchases.values()), np.int64),
    )
