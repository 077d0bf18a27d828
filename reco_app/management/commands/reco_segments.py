"""``manage.py reco_segments``: recompute batch segments, print sizes and timings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Recompute shopper segments (RFM, lifecycle, clusters, manual); --live evaluates the "
        "queued live rules and sweeps live segments."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--live", action="store_true",
            help="Only live segments: the queued evaluations (SEGMENTS_LIVE_ASYNC), abandoned carts, expiry.",
        )

    def handle(self, *args: Any, live: bool = False, **options: Any) -> None:
        if live:
            from reco_app.segments.live import queue, sweep

            self.stdout.write(f"queued shoppers evaluated: {queue.drain()}")
            self.stdout.write(f"expired live memberships removed: {sweep()}")
            return
        from reco_app.segments.service import recompute_all

        report = recompute_all()
        self.stdout.write(f"{report.shoppers} shoppers, {report.events} consented events")
        for key, size in sorted(report.sizes.items()):
            self.stdout.write(f"  {key:<40} {size:>8}")
        for stage, seconds in report.timings.items():
            self.stdout.write(f"  {stage:<12} {seconds:8.3f} s")
        self.stdout.write(f"total {sum(report.timings.values()):.3f} s")
