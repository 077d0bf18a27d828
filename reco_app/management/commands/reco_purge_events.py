from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reco_app.consent.privacy import purge_events


class Command(BaseCommand):
    help = "Delete events older than RECO_APP['RETENTION_DAYS'] (or --days)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Override the retention period.")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        count = purge_events(days)
        self.stdout.write(f"Purged {count} event(s).")
