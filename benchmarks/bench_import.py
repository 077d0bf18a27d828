"""Benchmark ``reco_import_events`` on PostgreSQL: 1M rows, then a re-run that adds nothing.

Baseline (same run, same file): a raw ``COPY ... FROM STDIN (FORMAT csv)`` of the file into
a bare unindexed table — the floor for moving these bytes into PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reco python benchmarks/bench_import.py [ROWS] [WORKERS]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_shop.settings")

import django

django.setup()

from django.core.management import call_command
from django.db import connection

from reco_app.importing import import_events
from reco_app.models import Event

TYPES = ["product_view"] * 12 + ["add_to_cart"] * 3 + ["purchase"] * 2 + ["wishlist_add", "rating", "remove_from_cart"]
PREFIX = "bench-"


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    start = 1_672_531_200  # 2023-01-01
    with open(path, "w", encoding="utf-8") as f:
        f.write("user_id,product_id,event_type,timestamp,value\n")
        for i in range(rows):
            etype = rnd.choice(TYPES)
            ts = start + rnd.randrange(60 * 86400 * 6) + i  # distinct timestamps: no accidental duplicates
            stamp = str(ts) if i % 2 else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
            value = f"{rnd.randint(1, 5)}" if etype == "rating" else (f"{rnd.randint(1, 3)}" if etype == "purchase" else "")
            f.write(f"{PREFIX}{rnd.randrange(50_000)},SKU-{rnd.randrange(2_000):05d},{etype},{stamp},{value}\n")


def raw_copy(path: Path) -> float:
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cur.execute("CREATE UNLOGGED TABLE bench_raw_copy (user_id text, product_id text, event_type text, ts text, value text)")
        started = time.perf_counter()
        with cur.cursor.copy("COPY bench_raw_copy FROM STDIN (FORMAT csv, HEADER true)") as copy, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_raw_copy")
    return elapsed


def clean_up() -> int:
    deleted, _ = Event.objects.filter(subject__startswith=PREFIX).delete()
    with connection.cursor() as cur:  # leave no dead rows behind to slow the next run
        cur.execute(f"VACUUM ANALYZE {Event._meta.db_table}")
    return deleted


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if connection.vendor != "postgresql":
        print("bench_import: needs PostgreSQL (set DATABASE_URL=postgres://...); skipped")
        return
    call_command("migrate", verbosity=0)
    clean_up()
    print(f"events already in the table: {Event.objects.count():,}; workers: {workers}; load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        t = time.perf_counter()
        write_csv(path, rows)
        print(f"generated {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
        baseline = raw_copy(path)
        print(f"baseline  raw COPY into a bare table: {baseline:6.2f}s  {rows / baseline:>10,.0f} rows/s")
        first = import_events(path, workers=workers)
        print(
            f"import    reco_import_events:         {first.seconds:6.2f}s  {first.rows_per_second:>10,.0f} rows/s"
            f"  stored {first.stored:,}, duplicates {first.duplicates:,}, bad {first.bad:,}  ({first.method})"
        )
        again = import_events(path, workers=workers)
        print(
            f"re-run    same file again:            {again.seconds:6.2f}s  {again.rows_per_second:>10,.0f} rows/s"
            f"  stored {again.stored:,} (expected 0), duplicates {again.duplicates:,}"
        )
        print(f"ratio     import / raw COPY: {first.seconds / baseline:.1f}x   re-run / raw COPY: {again.seconds / baseline:.1f}x")
    print(f"cleaned up {clean_up():,} benchmark events")


if __name__ == "__main__":
    main()
