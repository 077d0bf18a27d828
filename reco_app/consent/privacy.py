"""Privacy rights: access (export), erasure and retention, over the holder registry.

The person is named by a user or a subject key; :func:`subjects_for_user` finds every
subject key their data may sit under (their customer key and the anonymous visitor ids
joined to it at login). Each area registers its holder with ``reco_app.privacy.register``;
this module registers events, consent records and cached recommendations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from reco_app import cache, conf, privacy
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import visitor_subject

PURGE_CHUNK = 5_000


def subjects_for_user(user: Any) -> list[str]:
    from reco_app.adapter import get_adapter

    key = get_adapter().customer_key(user)
    visitors = (
        Event.objects.filter(subject=key)
        .exclude(visitor_id="")
        .order_by()
        .values_list("visitor_id", flat=True)
        .distinct()
    )
    return [key, *sorted(visitor_subject(v) for v in visitors)]


def export(subjects: list[str]) -> dict[str, Any]:
    return {
        "subjects": subjects,
        "exported_at": timezone.now().isoformat(),
        "data": privacy.export_subjects(subjects),
    }


def erase(subjects: list[str]) -> dict[str, int]:
    with transaction.atomic():
        return privacy.erase_subjects(subjects)


# --- holders -------------------------------------------------------------------------------
EVENT_FIELDS = ("event_id", "event_type", "product_key", "value", "timestamp", "session_id", "context", "consent", "source", "subject")


def export_events(subjects: list[str]) -> list[dict[str, Any]]:
    rows = Event.objects.filter(subject__in=subjects).order_by("timestamp", "id").values(*EVENT_FIELDS)
    return [
        {**row, "event_id": str(row["event_id"]), "timestamp": row["timestamp"].isoformat()} for row in rows
    ]


def erase_events(subjects: list[str]) -> int:
    count, _ = Event.objects.filter(subject__in=subjects).delete()
    return count


def _consent_qs(subjects: list[str]) -> Any:
    from reco_app.adapter import get_adapter

    users = [u for s in subjects if not s.startswith("anon:") and (u := get_adapter().get_user_for_customer_key(s))]
    return ConsentRecord.objects.filter(subject__in=subjects) | ConsentRecord.objects.filter(user__in=users)


def export_consent(subjects: list[str]) -> list[dict[str, Any]]:
    rows = _consent_qs(subjects).order_by("created_at").values("purpose", "granted", "policy_version", "method", "created_at")
    return [{**row, "created_at": row["created_at"].isoformat()} for row in rows]


def erase_consent(subjects: list[str]) -> int:
    """Grants are deleted; refusals are kept, as they are needed to prove the refusal."""
    deleted, _ = ConsentRecord.objects.filter(pk__in=_consent_qs(subjects).filter(granted=True).values("pk")).delete()
    return deleted


def export_cached(subjects: list[str]) -> dict[str, str]:
    return {"note": "Recommendations are computed on request and cached for minutes; none are kept."}


def erase_cached(subjects: list[str]) -> int:
    cache.bump_many(f"subject:{s}" for s in subjects)
    return len(subjects)


def register_holders() -> None:
    privacy.register("events", export=export_events, erase=erase_events)
    privacy.register("consent_records", export=export_consent, erase=erase_consent)
    privacy.register("cached_recommendations", export=export_cached, erase=erase_cached)


# --- retention -----------------------------------------------------------------------------
def purge_events(days: int | None = None, *, now: dt.datetime | None = None) -> int:
    """Delete events older than ``days`` (default RETENTION_DAYS), in chunks."""
    days = conf.get("RETENTION_DAYS") if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    total = 0
    while True:
        ids = list(Event.objects.before(cutoff).order_by().values_list("id", flat=True)[:PURGE_CHUNK])
        if not ids:
            return total
        count, _ = Event.objects.filter(id__in=ids).delete()
        total += count
