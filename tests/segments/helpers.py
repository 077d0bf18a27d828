"""Constructed histories for the segment tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from reco_app.models import CatalogItem, Event

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def event(subject: str, event_type: str, *, at: dt.datetime | None = None, days_ago: float = 0, product: str = "p1", value: float | None = None, unit_price: float | None = None, session: str = "", consent: str = "granted", base: dt.datetime = NOW) -> Event:
    """``value`` of a purchase is the quantity; ``unit_price`` goes into the context."""
    when = at or base - dt.timedelta(days=days_ago)
    context = {} if unit_price is None else {"unit_price": unit_price}
    return Event(event_id=uuid.uuid4(), subject=subject, event_type=event_type, timestamp=when, product_key=product, value=value, context=context, session_id=session or f"{subject}-{when:%Y%m%d}", consent=consent)


def add(*events: Event) -> list[Event]:
    return Event.objects.bulk_create(list(events))


def buyer(subject: str, orders: int, last_days_ago: float, spend: float, quantity: int = 1, **kw: Any) -> list[Event]:
    """``orders`` purchases on distinct days, the last ``last_days_ago`` days before NOW
    (or ``base=``), each of ``quantity`` units at the unit price that makes ``spend`` in all."""
    unit_price = spend / orders / quantity
    return add(*(event(subject, "purchase", days_ago=last_days_ago + i, value=quantity, unit_price=unit_price, **kw) for i in range(orders)))


def catalog(**categories: tuple[str, float]) -> None:
    """catalog(p1=("Shoes", 80.0), ...)"""
    CatalogItem.objects.bulk_create([CatalogItem(product_key=k, name=k, category=c, price=p) for k, (c, p) in categories.items()])


def reco_settings(**overrides: Any) -> Any:
    """override_settings(RECO_APP=...) keeping the project's other RECO_APP keys."""
    from django.conf import settings
    from django.test import override_settings

    return override_settings(RECO_APP={**settings.RECO_APP, **overrides})


def stage_of(subject: str, now: dt.datetime = NOW) -> str:
    from reco_app.segments import lifecycle
    from reco_app.segments.history import load_history
    from reco_app.segments.profile import build_profile

    h = load_history(now)
    return str(lifecycle.stages(build_profile(h))[h.subject_index()[subject]])
