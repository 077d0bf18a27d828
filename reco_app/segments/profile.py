"""Per-shopper aggregates shared by RFM, lifecycle and manual segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reco_app.segments.history import DAY, History


@dataclass
class Profile:
    n_events: np.ndarray
    orders: np.ndarray  # purchase days: several lines bought on one day are one order
    spend: np.ndarray
    days_since_seen: np.ndarray  # days since the latest event of any kind
    days_since_first_seen: np.ndarray
    days_since_purchase: np.ndarray  # inf when never bought


def build_profile(h: History) -> Profile:
    buy = h.is_purchase
    purchase_day = (h.ts // DAY).astype(np.int64)
    last_seen = h.last_per_subject()
    first_seen = h.first_per_subject()
    last_purchase = h.last_per_subject(buy)
    return Profile(
        n_events=h.per_subject(),
        orders=h.distinct_per_subject(purchase_day, buy) if buy.any() else np.zeros(h.n_subjects),
        spend=h.per_subject(h.amount, buy),
        days_since_seen=(h.now - last_seen) / DAY,
        days_since_first_seen=(h.now - first_seen) / DAY,
        days_since_purchase=np.where(np.isfinite(last_purchase), (h.now - last_purchase) / DAY, np.inf),
    )
