"""``manage.py reco_sync_catalog``: rebuild the catalog snapshot from the shop's products."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reco_app.catalog import sync_all


class Command(BaseCommand):
    help = "Copy every shop product into reco_app's catalog snapshot; remove rows of vanished products."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="products per database batch (default 1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        started = time.monotonic()
        verbose = options["verbosity"] > 0

        def progress(done: int) -> None:
            if verbose:
                rate = done / max(time.monotonic() - started, 1e-9)
                self.stdout.write(f"  {done:>9,} products synced  ({rate:,.0f}/s)")

        try:
            r = sync_all(batch_size=options["batch_size"], progress=progress)
        except ImproperlyConfigured as exc:
            raise CommandError(f"{exc} (run `manage.py check` for details)") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalog synced in {time.monotonic() - started:.1f}s: {r.total:,} products "
                f"({r.created:,} new, {r.updated:,} updated, {r.unchanged:,} unchanged), "
                f"{r.removed:,} removed, {r.skipped:,} skipped (no usable key, or unreadable: see the log)."
            )
        )
