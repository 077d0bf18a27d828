"""Lifecycle stages: where each shopper is in their relationship with the shop.

Thresholds come from ``SEGMENTS_LIFECYCLE``; the first matching stage wins:

1. churned — no event at all for more than ``churned_days``;
2. never bought: new visitor (first seen at most ``new_visitor_days`` ago) or returning visitor;
3. at risk — last purchase more than ``at_risk_days`` ago;
4. VIP — at least ``vip_min_orders`` orders or ``vip_min_spend`` spent;
5. first-time buyer — exactly one order;
6. active — the rest (repeat buyers who bought recently).
"""

from __future__ import annotations

import numpy as np

from reco_app import conf
from reco_app.models.segments import SegmentKind
from reco_app.segments.history import History
from reco_app.segments.profile import Profile, build_profile
from reco_app.segments.types import SegmentResult

STAGES: list[tuple[str, str, str]] = [
    ("new_visitor", "New visitors", "Visitors first seen at most {new_visitor_days} days ago who have not bought yet."),
    ("returning_visitor", "Returning visitors", "Visitors known for more than {new_visitor_days} days who have never bought."),
    ("first_time_buyer", "First-time buyers", "Shoppers with exactly one order, the last within {at_risk_days} days."),
    ("active", "Active customers", "Repeat buyers whose last purchase is at most {at_risk_days} days old."),
    ("vip", "VIP", "At least {vip_min_orders} orders or {vip_min_spend:g} spent, and bought within {at_risk_days} days."),
    ("at_risk", "At risk", "Buyers whose last purchase is more than {at_risk_days} days old, still visiting within {churned_days} days."),
    ("churned", "Churned", "No visit at all for more than {churned_days} days."),
]


def stages(p: Profile) -> np.ndarray:
    """Stage key per subject."""
    t = conf.get("SEGMENTS_LIFECYCLE")
    buyer = p.orders > 0
    conditions = [
        p.days_since_seen > t["churned_days"],
        ~buyer & (p.days_since_first_seen <= t["new_visitor_days"]),
        ~buyer,
        p.days_since_purchase > t["at_risk_days"],
        (p.orders >= t["vip_min_orders"]) | (p.spend >= t["vip_min_spend"]),
        p.orders == 1,
    ]
    choices = ["churned", "new_visitor", "returning_visitor", "at_risk", "vip", "first_time_buyer"]
    return np.select(conditions, choices, default="active").astype(object)


def compute(h: History, profile: Profile | None = None) -> list[SegmentResult]:
    p = profile or build_profile(h)
    t = conf.get("SEGMENTS_LIFECYCLE")
    stage = stages(p)
    results = []
    for key, name, description in STAGES:
        ids = np.flatnonzero(stage == key)
        reasons = [
            f"{o:.0f} orders, {sp:.2f} spent, last seen {d:.0f} days ago"
            + ("" if np.isinf(dp) else f", last purchase {dp:.0f} days ago")
            for o, sp, d, dp in zip(p.orders[ids].tolist(), p.spend[ids].tolist(), p.days_since_seen[ids].tolist(), p.days_since_purchase[ids].tolist())
        ]
        results.append(SegmentResult(f"lifecycle:{key}", name, SegmentKind.LIFECYCLE, description.format(**t), ids, p.orders[ids], reasons))
    return results
