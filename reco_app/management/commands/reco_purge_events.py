from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reco_app.consent.privacy import purge_events


class Command(BaseCommand):
    help = (
        "Delete events older than RECO_APP['RETENTION_DAYS'] (or --days), the files of model versions "
        "beyond TRAINING_KEEP_VERSIONS / TRAINING_KEEP_HOURS, and erasure markers older than a day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Override the retention period.")

    def handle(self, *args: Any, days: int | None = None, **options: Any) -> None:
        from reco_app.erasure import prune_markers
        from reco_app.training.retention import prune_artifacts

        try:
            count = purge_events(days)
        except ValueError as exc:  # (fewer than 1 day: it would delete every event)
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Purged {count} event(s).")
        pruned = prune_artifacts()
        self.stdout.write(f"Pruned the files of {len(pruned)} model version(s).")
        prune_markers()
