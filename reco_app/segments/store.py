"""Batch recomputation: compute every batch segment and store memberships and sizes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone

from reco_app import cache, erasure
from reco_app.models.segments import (
    BATCH_KINDS,
    Segment,
    SegmentKind,
    SegmentMembership,
    SegmentSizeSnapshot,
)
from reco_app.segments import clusters, lifecycle, manual, rfm
from reco_app.segments.history import History, load_history
from reco_app.segments.profile import build_profile
from reco_app.segments.types import SegmentResult

BULK = 5000


@dataclass
class RunReport:
    shoppers: int = 0
    events: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds
    sizes: dict[str, int] = field(default_factory=dict)  # segment key → members


def recompute_all(now: dt.datetime | None = None) -> RunReport:
    """Recompute RFM, lifecycle, cluster and manual segments from consented history."""
    now = now or timezone.now()
    report = RunReport()
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        t = time.perf_counter()
        report.timings[stage] = t - clock
        clock = t

    mark = erasure.mark()  # before reading: shoppers erased from now on are not stored
    h = load_history(now)
    report.shoppers, report.events = h.n_subjects, len(h.subj)
    lap("load")
    p = build_profile(h)
    results = rfm.compute(h, p)
    lap("rfm")
    results += lifecycle.compute(h, p)
    lap("lifecycle")
    results += clusters.compute(h)
    lap("clusters")
    results += manual.compute(h, p)
    lap("manual")
    store(results, h, now, kinds=BATCH_KINDS, erased_after=mark)  # sizes then leave out the erased
    lap("store")
    report.sizes = {r.key: r.size for r in results}
    return report


def recompute_manual(segment: Segment, now: dt.datetime | None = None) -> int:
    """Recompute one manual segment (after a merchandiser edits it); returns its size."""
    now = now or timezone.now()
    mark = erasure.mark()
    h = load_history(now)
    results = manual.compute(h, segments=[segment] if segment.enabled else [])
    # its old memberships go in store()'s transaction, after the erasure lock (never before:
    # in the admin's transaction a delete here would row-lock them, and an erasure holding
    # the lock and waiting for those rows would deadlock with this one)
    store(results, h, now, kinds=(), erased_after=mark, clear=[segment])
    return results[0].size if results else 0


def store(
    results: Iterable[SegmentResult], h: History, now: dt.datetime, kinds: Iterable[str], erased_after: int | None = None,
    clear: Iterable[Segment] = (),
) -> dict[str, int]:
    """Replace the memberships of ``kinds`` (and of each result's segment, and of the
    ``clear`` segments) with ``results``.

    The erasure lock (shared) is the transaction's first statement: no reco row is written
    before it, also not by a caller's enclosing transaction (see :mod:`reco_app.erasure`).

    ``erased_after``: the :func:`reco_app.erasure.mark` taken before ``h`` was read; the
    shoppers erased since are left out (their erasure has deleted what they had). The
    results are changed in place (members, scores, reasons); returns, per segment key, how
    many members were left out that way.
    """
    results = list(results)
    skipped: dict[str, int] = {}
    with transaction.atomic():
        erasure.lock_shared()  # an erasure in progress commits first; later ones wait for this
        segments = _ensure_segments(results)
        SegmentMembership.objects.filter(segment__kind__in=list(kinds)).delete()
        SegmentMembership.objects.filter(segment__in=[*clear, *(segments[r.key] for r in results)]).delete()
        # after the first writes: on SQLite this transaction now holds the write lock
        erased = erasure.erased_since(erased_after) if erased_after is not None else set()
        if erased:
            gone = np.isin(h.subjects, list(erased))
            for r in results:
                keep = ~gone[r.members]
                if not keep.all():
                    skipped[r.key] = int((~keep).sum())
                    r.members, r.scores = r.members[keep], r.scores[keep]
                    r.reasons = [reason for reason, k in zip(r.reasons, keep.tolist()) if k]
        rows = (
            SegmentMembership(segment=segments[r.key], subject=subject, score=score, reason=reason[:300], computed_at=now)
            for r in results
            for subject, score, reason in zip(h.subjects[r.members].tolist(), r.scores.tolist(), r.reasons)
        )
        batch: list[SegmentMembership] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BULK:
                SegmentMembership.objects.bulk_create(batch)
                batch = []
        SegmentMembership.objects.bulk_create(batch)
        sizes = {r.key: r.size for r in results}
        stale = Segment.objects.filter(kind__in=list(kinds)).exclude(key__in=list(sizes))
        _snapshot({**{s.key: 0 for s in stale}, **sizes}, now.date())
        # Bump after commit too, so no reader caches the old memberships under the new version.
        transaction.on_commit(lambda: cache.bump("segments"))
    cache.bump("segments")
    return skipped


def _ensure_segments(results: list[SegmentResult]) -> dict[str, Segment]:
    existing = {s.key: s for s in Segment.objects.filter(key__in=[r.key for r in results])}
    for r in results:
        seg = existing.get(r.key)
        if seg is None:
            existing[r.key] = Segment.objects.create(key=r.key, name=r.name, kind=r.kind, description=r.description)
        elif r.kind != SegmentKind.MANUAL and (seg.name, seg.description) != (r.name, r.description):
            seg.name, seg.description = r.name, r.description
            seg.save(update_fields=["name", "description", "updated_at"])
    return existing


def _snapshot(sizes: dict[str, int], day: dt.date) -> None:
    ids = dict(Segment.objects.filter(key__in=list(sizes)).values_list("key", "id"))
    SegmentSizeSnapshot.objects.filter(segment_id__in=list(ids.values()), day=day).delete()
    SegmentSizeSnapshot.objects.bulk_create([SegmentSizeSnapshot(segment_id=ids[k], day=day, size=n) for k, n in sizes.items()])
