"""``manage.py reco_import_events PATH.csv``: load historical events (docs/imports.rst)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reco_app.importing import (
    HeaderError,
    ImportAborted,
    ImportProgress,
    ImportResult,
    import_events,
)
from reco_app.importing.csvfile import write_issues
from reco_app.importing.report import add_issue_arguments, report_issues


class Command(BaseCommand):
    help = "Import historical events from a CSV file (user_id, product_id, event_type, timestamp, value)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file with a header row")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction (default: RECO_APP['IMPORT_BATCH_SIZE'])")
        parser.add_argument("--workers", type=int, default=2, help="PostgreSQL connections storing batches in parallel (default 2)")
        add_issue_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        sink, close = write_issues(options["errors_file"]) if options["errors_file"] else (None, None)
        try:
            result = import_events(
                options["path"],
                batch_size=options["batch_size"],
                workers=options["workers"],
                progress=self._progress,
                on_issue=sink,
                keep_issues=max(options["show_errors"], 0),
            )
        except FileNotFoundError as exc:
            raise CommandError(f"cannot open {options['path']}: {exc.strerror}") from None
        except HeaderError as exc:
            raise CommandError(f"{options['path']}: {exc}; nothing was imported") from None
        except ImportAborted as exc:
            self._summary(exc.result, options)
            raise CommandError(str(exc)) from None
        finally:
            if close:
                close()
        self._summary(result, options)

    def _progress(self, p: ImportProgress) -> None:
        self.stdout.write(
            f"  {p.read:>10,} rows read  {p.stored:>10,} stored  {p.duplicates:>8,} duplicates  "
            f"{p.bad:>6,} bad  {p.rows_per_second:>9,.0f} rows/s"
        )

    def _summary(self, r: ImportResult, options: dict[str, Any]) -> None:
        report_issues(self, r.issues, r.bad, options["errors_file"])
        style = self.style.SUCCESS if not r.bad else self.style.WARNING
        self.stdout.write(
            style(
                f"Read {r.read:,} rows in {r.seconds:.1f}s ({r.rows_per_second:,.0f} rows/s, {r.method}): "
                f"{r.stored:,} events stored, {r.duplicates:,} duplicates skipped, {r.bad:,} bad rows skipped."
            )
        )
