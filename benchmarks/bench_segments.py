"""Segments for every shopper of a realistic synthetic history, with time per stage.

Run: ``python benchmarks/bench_segments.py [--shoppers 5000]``. Uses a throwaway test
database (SQLite in memory, or ``test_<name>`` on PostgreSQL when DATABASE_URL is set).
Baselines from the same run: reading the events alone (the floor), and a per-shopper
ORM loop computing RFM inputs for a sample of shoppers (the naive way), extrapolated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=5000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Max, Sum
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        import synthetic_history

        from reco_app.models import Event, SegmentMembership
        from reco_app.models.purchases import line_total
        from reco_app.segments.history import load_history
        from reco_app.segments.service import recompute_all, segments_for, user_features

        now = timezone.now()
        t = time.perf_counter()
        n_events = synthetic_history.load(args.shoppers, now)
        print(f"generated {n_events} events for {args.shoppers} shoppers in {time.perf_counter() - t:.1f} s ({connection.vendor})")

        t = time.perf_counter()
        load_history(now)
        floor = time.perf_counter() - t

        report = recompute_all(now)
        total = sum(report.timings.values())
        print(f"\n{report.shoppers} shoppers, {report.events} consented events")
        print(f"{'stage':<12} {'seconds':>8}")
        for stage, seconds in report.timings.items():
            print(f"{stage:<12} {seconds:8.3f}")
        print(f"{'total':<12} {total:8.3f}")
        print(f"memberships stored: {SegmentMembership.objects.count()}")

        sample = list(Event.objects.values_list("subject", flat=True).distinct().order_by("subject")[:200])
        t = time.perf_counter()
        for subject in sample:  # the naive way: one aggregate query per shopper
            Event.objects.consented().for_subject(subject).filter(event_type="purchase").aggregate(Max("timestamp"), spend=Sum(line_total()))
        naive = (time.perf_counter() - t) / len(sample) * report.shoppers
        print("\nbaselines (same run)")
        print(f"read events only        {floor:8.3f} s   segments total = {total / floor:.1f}x the read")
        print(f"per-shopper ORM RFM     {naive:8.3f} s   (extrapolated from {len(sample)}; RFM stage is {naive / max(report.timings['rfm'] + report.timings['load'], 1e-9):.1f}x faster incl. load)")

        t = time.perf_counter()
        subjects = list(Event.objects.values_list("subject", flat=True).distinct().order_by())
        feats = user_features(subjects)
        print(f"\nuser_features for {len(subjects)} shoppers: {time.perf_counter() - t:.3f} s ({sum(map(len, feats.values()))} features)")
        # 100 shoppers: the embedded locmem cache keeps only 300 entries (Redis has no such cap).
        few = subjects[:100]
        t = time.perf_counter()
        for s in few:
            segments_for(s)
        cold = (time.perf_counter() - t) / len(few) * 1000
        t = time.perf_counter()
        for s in few:
            segments_for(s)
        warm = (time.perf_counter() - t) / len(few) * 1000
        print(f"segments_for: {cold:.2f} ms uncached, {warm:.3f} ms cached ({cold / max(warm, 1e-9):.0f}x)")

        # Live rules as the tracking service triggers them: one new event per shopper.
        import uuid

        from reco_app.signals import event_stored

        picked = subjects[:200]
        fresh = Event.objects.bulk_create([
            Event(event_id=uuid.uuid4(), subject=s, event_type="add_to_cart", product_key="P00001", session_id=f"{s}-now", timestamp=timezone.now())
            for s in picked
        ])
        t = time.perf_counter()
        for e in fresh:
            event_stored.send(sender=None, events=[e])
        per_event = (time.perf_counter() - t) / len(fresh) * 1000
        print(f"live rules on event arrival: {per_event:.2f} ms per event ({len(fresh)} shoppers)")

        print("\nlargest segments")
        for key, size in sorted(report.sizes.items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {key:<34} {size:>6}")
        from reco_app.models import Segment

        print("\nclusters")
        for seg in Segment.objects.filter(kind="cluster").order_by("key"):
            print(f"  {seg.key:<12} {report.sizes.get(seg.key, 0):>6}  {seg.name}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
