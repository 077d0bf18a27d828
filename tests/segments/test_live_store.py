"""The live-membership writes: the one-statement upsert against the ORM's, on each database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from reco_app.models import Segment, SegmentMembership
from reco_app.segments.live import store as live_store

pytestmark = pytest.mark.django_db


def _fields(minutes: int, reason: str = "3 views") -> dict[str, object]:
    now = timezone.now().replace(microsecond=0)
    return {"score": 0.5, "reason": reason, "computed_at": now, "expires_at": now + dt.timedelta(minutes=minutes)}


@pytest.fixture(params=["one statement", "orm"])
def upsert(request):  # type: ignore[no-untyped-def]
    if request.param == "one statement":
        if live_store._upsert_sql(connection.vendor) is None:
            pytest.skip(f"{connection.vendor} uses the ORM's upsert")
        return live_store.upsert
    return live_store._orm_upsert


def test_a_new_segment_is_created_then_memberships_are_updated_in_place(upsert) -> None:  # type: ignore[no-untyped-def]
    first = upsert("live:browsing:shoes", "C1", _fields(30), name="Browsing shoes", description="Now.")
    segment = Segment.objects.get(key="live:browsing:shoes")
    assert (segment.name, segment.kind, segment.description) == ("Browsing shoes", "live", "Now.")
    later = _fields(45, "4 views")
    again = upsert("live:browsing:shoes", "C1", later, name="ignored", description="ignored")
    other = upsert("live:browsing:shoes", "C2", _fields(30), name="ignored", description="ignored")
    assert again == first and other != first
    row = SegmentMembership.objects.get(pk=first)
    assert (row.subject, row.score, row.reason, row.computed_at, row.expires_at) == (
        "C1", 0.5, "4 views", later["computed_at"], later["expires_at"])
    assert Segment.objects.get(key="live:browsing:shoes").name == "Browsing shoes"
    assert live_store.memberships("C1") == {"live:browsing:shoes": (first, later["expires_at"])}


def test_refresh_and_reads_see_only_live_memberships() -> None:
    pk = live_store.upsert("live:high_intent", "C1", _fields(30), name="High intent", description="")
    rfm = Segment.objects.create(key="rfm:champions", name="Champions", kind="rfm")
    SegmentMembership.objects.create(segment=rfm, subject="C1")
    fields = {**_fields(60), "expires_at": None}
    assert live_store.refresh(pk, fields)
    assert live_store.memberships("C1") == {"live:high_intent": (pk, None)}
    SegmentMembership.objects.filter(pk=pk).delete()
    assert not live_store.refresh(pk, fields)  # erased meanwhile: nothing to update
    assert live_store.memberships("C1") == {}


def test_remove_deletes_only_the_named_memberships() -> None:
    keep = live_store.upsert("live:high_intent", "C1", _fields(30), name="High intent", description="")
    gone = [live_store.upsert(f"live:browsing:{c}", "C1", _fields(30), name=c, description="") for c in ("a", "b")]
    live_store.remove([*gone, 999_999])  # an id already gone deletes nothing
    live_store.remove([])
    assert list(SegmentMembership.objects.values_list("pk", flat=True)) == [keep]
