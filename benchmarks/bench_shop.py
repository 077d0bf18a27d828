"""How fast ``shop_seed`` builds the demo data, against the ORM's own bulk insert.

Seeds the default size (2,000 products, 5,000 shoppers, 200,000+ events) into a fresh
SQLite database (or the one DATABASE_URL names) and prints the time of each phase; the
baseline is ``Event.objects.bulk_create`` of 20,000 events measured in the same run.
Run: ``python benchmarks/bench_shop.py`` (``make bench`` runs it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RECO_VAR_DIR", tempfile.mkdtemp(prefix="bench-shop-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_shop.settings")

import django

django.setup()

from django.core.management import call_command
from django.db import transaction

from example_shop.shop.seeding import SeedParams, seed_shop
from reco_app.models import Event


def baseline_rate(n: int = 20_000) -> float:
    now = dt.datetime.now(dt.UTC)
    rows = [
        Event(event_id=uuid.uuid4(), subject=f"c{i % 500:05d}", product_key=f"P{i % 2000:05d}",
              event_type="product_view", session_id=f"b{i // 8}", consent="imported", source="bench",
              timestamp=now)
        for i in range(n)
    ]
    began = time.perf_counter()
    with transaction.atomic():
        Event.objects.bulk_create(rows, batch_size=5000)
    took = time.perf_counter() - began
    Event.objects.filter(source="bench").delete()
    return n / took


def main() -> None:
    call_command("migrate", verbosity=0)
    base = baseline_rate()
    marks: list[tuple[str, float]] = []
    cpu = time.process_time()
    began = time.perf_counter()
    result = seed_shop(SeedParams(), flush=True, progress=lambda m: marks.append((m, time.perf_counter())))
    total = time.perf_counter() - began
    cpu = time.process_time() - cpu
    print(f"shop_seed default size: {result.products} products, {result.shoppers} shoppers, {result.events:,} events")
    marks.append(("done", began + total))
    for (msg, at), (_, until) in itertools.pairwise(marks):
        print(f"  {until - at:6.1f}s  {msg.strip()}")
    print(f"total {total:.1f}s wall, {cpu:.1f}s CPU in this process (wall includes waiting on a busy machine/DB)")
    print(f"{result.events / total:,.0f} events/s end to end")
    print(f"baseline Event.bulk_create: {base:,.0f} events/s (insert only)")
    print(f"ratio seed end-to-end / ORM insert-only: {result.events / total / base:.2f}x")


if __name__ == "__main__":
    main()
