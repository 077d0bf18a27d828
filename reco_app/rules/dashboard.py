"""Figures of the merchandising dashboard, from aggregate queries on the event store.

Attribution: an ``add_to_cart`` or ``purchase`` of product P counts for a placement when
a ``rec_click`` on P in the same session came first (the latest such click names the
placement), or when the event itself carries the ``rec_token`` of a recommendation
(the click with that token, else the event's own ``context["placement"]``, names it).
Revenue is the sum of the line totals of attributed purchase events: quantity (``value``,
1 when absent) × unit price (``context["unit_price"]``, else the catalog price, else 0),
summed by :func:`reco_app.models.purchases.line_total` in the same query. All queries group by day and
placement in the database (JSON key lookups work on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from reco_app import conf
from reco_app.models import DroppedEventCount, Event, EventType, ModelVersion
from reco_app.models.purchases import line_total
from reco_app.rules import cache_stats

UNKNOWN = "(unknown)"


def _placement() -> KeyTextTransform:
    return KeyTextTransform("placement", "context")


def _days(since: dt.date, until: dt.date) -> list[str]:
    return [(since + dt.timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]


def _day(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def rec_traffic(since: dt.datetime) -> dict[tuple[str, str], dict[str, int]]:
    """{(day, placement): {"impressions": n, "clicks": n}}."""
    rows = (
        Event.objects.filter(timestamp__gte=since, event_type__in=[EventType.REC_IMPRESSION, EventType.REC_CLICK])
        .annotate(day=TruncDate("timestamp"), placement=Coalesce(_placement(), Value(UNKNOWN), output_field=TextField()))
        .values("day", "placement", "event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"impressions": 0, "clicks": 0})
    for row in rows:
        name = "impressions" if row["event_type"] == EventType.REC_IMPRESSION else "clicks"
        out[(_day(row["day"]), row["placement"])][name] += row["n"]
    return out


def attributed(since: dt.datetime) -> dict[tuple[str, str], dict[str, float]]:
    """{(day, placement): {"add_to_carts": n, "purchases": n, "revenue": x}}."""
    clicks = Event.objects.filter(event_type=EventType.REC_CLICK).exclude(session_id="")
    click_in_session = clicks.filter(
        session_id=OuterRef("session_id"), product_key=OuterRef("product_key"), timestamp__lte=OuterRef("timestamp")
    )
    click_by_token = (
        Event.objects.filter(event_type=EventType.REC_CLICK)
        .annotate(token=KeyTextTransform("rec_token", "context"))
        .filter(token=OuterRef("token"))
    )
    rows = (
        Event.objects.filter(timestamp__gte=since, event_type__in=[EventType.ADD_TO_CART, EventType.PURCHASE])
        .annotate(token=KeyTextTransform("rec_token", "context"), in_session=Exists(click_in_session))
        .filter(Q(in_session=True) | Q(context__has_key="rec_token"))
        .annotate(
            day=TruncDate("timestamp"),
            placement=Coalesce(
                Subquery(click_in_session.order_by("-timestamp").values(p=_placement())[:1]),
                Subquery(click_by_token.values(p=_placement())[:1]),
                _placement(),
                Value(UNKNOWN),
                output_field=TextField(),
            ),
        )
        .values("day", "placement", "event_type")
        .annotate(n=Count("id"), revenue=Sum(line_total(), filter=Q(event_type=EventType.PURCHASE)))
        .order_by()
    )
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"add_to_carts": 0, "purchases": 0, "revenue": 0.0}
    )
    for row in rows:
        cell = out[(_day(row["day"]), row["placement"])]
        if row["event_type"] == EventType.ADD_TO_CART:
            cell["add_to_carts"] += row["n"]
        else:
            cell["purchases"] += row["n"]
            cell["revenue"] += float(row["revenue"] or 0.0)
    return out


def ingestion(since: dt.datetime) -> dict[str, dict[str, int]]:
    """Per day: events stored, and events dropped for lack of consent (by reason)."""
    reasons = list(conf.get("DASHBOARD_CONSENT_REASONS"))
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"stored": 0, "dropped_no_consent": 0})
    stored = (
        Event.objects.filter(timestamp__gte=since)
        .annotate(day=TruncDate("timestamp"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in stored:
        out[_day(row["day"])]["stored"] += row["n"]
    dropped = (
        DroppedEventCount.objects.filter(day__gte=since.date(), reason__in=reasons)
        .values("day")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for row in dropped:
        out[_day(row["day"])]["dropped_no_consent"] += int(row["n"] or 0)
    return out


def model_status(now: dt.datetime) -> dict[str, Any]:
    active = ModelVersion.objects.active()
    recent = list(ModelVersion.objects.order_by("-id")[:5])
    age = None
    if active is not None:
        ref = active.activated_at or active.finished_at or active.created_at
        age = (now - ref).total_seconds() / 3600.0 if ref else None
    return {
        "active": active,
        "age_hours": age,
        "recent": [{"version": v, "metrics": sorted((v.metrics or {}).items())} for v in recent],
    }


def cache_status() -> dict[str, Any]:
    counts = cache_stats.shared()
    hits, misses = counts["hits"], counts["misses"]
    total = hits + misses
    return {"hits": hits, "misses": misses, "errors": counts["errors"], "hit_rate": hits / total if total else None}


def dashboard(days: int | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows; ``series`` is ready for the charts."""
    now = now or timezone.now()
    days = int(days or conf.get("DASHBOARD_DAYS"))
    start_day = (now - dt.timedelta(days=days - 1)).date()
    since = dt.datetime.combine(start_day, dt.time.min, tzinfo=dt.UTC)
    axis = _days(start_day, now.date())
    traffic, conversions, ingest = rec_traffic(since), attributed(since), ingestion(since)
    placements = sorted({p for _, p in traffic} | {p for _, p in conversions})
    per_placement = []
    for p in placements:
        imp = sum(v["impressions"] for (d, q), v in traffic.items() if q == p)
        clk = sum(v["clicks"] for (d, q), v in traffic.items() if q == p)
        conv = [v for (d, q), v in conversions.items() if q == p]
        per_placement.append(
            {
                "placement": p,
                "impressions": imp,
                "clicks": clk,
                "ctr": clk / imp if imp else None,
                "add_to_carts": sum(int(v["add_to_carts"]) for v in conv),
                "purchases": sum(int(v["purchases"]) for v in conv),
                "revenue": round(sum(v["revenue"] for v in conv), 2),
            }
        )

    def series(source: dict[tuple[str, str], dict[str, Any]], field: str) -> list[dict[str, Any]]:
        return [
            {"name": p, "values": [source[(d, p)][field] if (d, p) in source else 0 for d in axis]} for p in placements
        ]

    ctr = []
    for p in placements:
        vals = []
        for d in axis:
            cell = traffic.get((d, p))
            vals.append(round(cell["clicks"] / cell["impressions"], 4) if cell and cell["impressions"] else 0)
        ctr.append({"name": p, "values": vals})
    return {
        "since": start_day,
        "days": axis,
        "placements": per_placement,
        "charts": {
            "impressions": series(traffic, "impressions"),
            "clicks": series(traffic, "clicks"),
            "ctr": ctr,
            "add_to_carts": series(conversions, "add_to_carts"),
            "revenue": series(conversions, "revenue"),
            "ingestion": [
                {"name": "stored", "values": [ingest[d]["stored"] if d in ingest else 0 for d in axis]},
                {
                    "name": "dropped (no consent)",
                    "values": [ingest[d]["dropped_no_consent"] if d in ingest else 0 for d in axis],
                },
            ],
        },
        "ingestion_totals": {
            "stored": sum(v["stored"] for v in ingest.values()),
            "dropped_no_consent": sum(v["dropped_no_consent"] for v in ingest.values()),
        },
        "model": model_status(now),
        "cache": cache_status(),
    }
