"""Shopper segments for the rest of reco_app.

* ``segments_for(subject)`` → segment keys the shopper belongs to now, live and batch
  (serving and the merchandising rules read it; cached per subject);
* ``user_features(subjects)`` → per subject, the batch segment keys used as LightFM user
  features (training; kinds in ``SEGMENTS_USER_FEATURE_KINDS``);
* ``recompute_all()`` → the batch job (see :mod:`reco_app.segments.store`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from reco_app import cache, conf, privacy
from reco_app.models.segments import Segment, SegmentMembership
from reco_app.prepared import PreparedQuery
from reco_app.segments.store import RunReport, recompute_all, recompute_manual

__all__ = ["RunReport", "recompute_all", "recompute_manual", "segment_choices", "segments_for", "user_features"]
CHUNK = 900  # subjects per IN (...) query, under SQLite's parameter limit
# compiled once: serving asks this for every shopper whose segments are not cached yet
_CURRENT = PreparedQuery(
    lambda subject, now: SegmentMembership.objects.current(now).filter(subject=subject).values_list("segment__key", "expires_at").order_by("segment__key"),
    subject=("reco_app.SegmentMembership", "subject"), now=("reco_app.SegmentMembership", "expires_at"),
)


def _cache_key(subject: str) -> str:
    from reco_app.serving.local_cache import ns_versions  # both versions in one round trip

    versions = ns_versions(["segments", f"subject:{subject}"])
    return cache.make_key("segments", versions["segments"], versions[f"subject:{subject}"], subject)


def segments_for(subject: str | None) -> list[str]:
    if not subject:
        return []
    key = _cache_key(subject)
    found = cache.get(key)
    if found is not None:
        return list(found)
    now = timezone.now()
    rows = _CURRENT.rows(subject=subject, now=now)
    keys = [k for k, _ in rows]
    # Live memberships expire on their own: never cache past the earliest expiry.
    expiries = [e for _, e in rows if e is not None]
    timeout = int(conf.get("CACHE_TIMEOUT"))
    if expiries:
        timeout = max(1, min(timeout, int((min(expiries) - now).total_seconds())))
    cache.set(key, keys, timeout, subject=subject)  # indexed: erasure deletes it
    return keys


def segment_choices(kinds: list[str] | None = None) -> list[tuple[str, str]]:
    """(key, name) of enabled segments, for choice fields (e.g. a rule's segment scope).

    Live browsing segments exist once someone browsed the category; batch segments once
    the batch job has run.
    """
    qs = Segment.objects.filter(enabled=True)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return list(qs.order_by("kind", "key").values_list("key", "name"))


def user_features(subjects: list[str]) -> dict[str, list[str]]:
    kinds = list(conf.get("SEGMENTS_USER_FEATURE_KINDS"))
    out: dict[str, list[str]] = defaultdict(list)
    if not kinds:
        return {}
    base = SegmentMembership.objects.current().filter(segment__kind__in=kinds)
    wanted = list(dict.fromkeys(subjects))
    for i in range(0, len(wanted), CHUNK):
        for subject, key in base.filter(subject__in=wanted[i : i + CHUNK]).values_list("subject", "segment__key").order_by("subject", "segment__key"):
            out[subject].append(key)
    return dict(out)


def export_memberships(subjects: list[str]) -> list[dict[str, Any]]:
    rows = SegmentMembership.objects.filter(subject__in=subjects).select_related("segment").order_by("subject", "segment__key")
    return [
        {
            "subject": m.subject,
            "segment": m.segment.key,
            "segment_name": m.segment.name,
            "score": m.score,
            "reason": m.reason,
            "computed_at": m.computed_at.isoformat(),
            "expires_at": m.expires_at.isoformat() if m.expires_at else None,
        }
        for m in rows
    ]


def erase_memberships(subjects: list[str]) -> int:
    from reco_app.segments.live import forget_state, queue

    count, _ = SegmentMembership.objects.filter(subject__in=subjects).delete()
    subjects = list(subjects)

    def forget() -> None:
        forget_state(subjects)
        queue.forget(subjects)

    # Now, and again once the erasure has committed: until then a live evaluation still sees
    # the shopper's events and may queue them or cache a state again (its membership writes
    # wait for the erasure lock, then find no events: reco_app.segments.live.engine). The
    # namespace is bumped now only: after commit the erasure deletes it (consent.privacy).
    forget()
    transaction.on_commit(forget)
    cache.bump_many(f"subject:{subject}" for subject in subjects)  # one round trip, under the lock
    return count


def connect() -> None:
    """Called from ``AppConfig.ready()``: system checks, privacy holder, live-segment receiver."""
    from reco_app.segments import checks  # noqa: F401  (registers the segments checks)
    from reco_app.segments.live import receive_event_stored
    from reco_app.signals import event_stored

    privacy.register("segments", export=export_memberships, erase=erase_memberships)
    event_stored.connect(receive_event_stored, dispatch_uid="reco_app_segments_live")


