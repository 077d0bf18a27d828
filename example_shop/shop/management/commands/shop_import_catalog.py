"""``manage.py shop_import_catalog PATH.csv``: create or update products (docs/imports.rst)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_shop.shop.importing import CatalogImportResult, import_catalog
from reco_app.importing import HeaderError
from reco_app.importing.csvfile import write_issues
from reco_app.importing.report import add_issue_arguments, report_issues


class Command(BaseCommand):
    help = "Import products from a CSV file (product_id, name, category, brand, price, tags, description, created_at, stock)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file with a header row")
        add_issue_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        sink, close = write_issues(options["errors_file"]) if options["errors_file"] else (None, None)
        try:
            r = import_catalog(
                options["path"], progress=self._progress, on_issue=sink, keep_issues=max(options["show_errors"], 0)
            )
        except FileNotFoundError as exc:
            raise CommandError(f"cannot open {options['path']}: {exc.strerror}") from None
        except HeaderError as exc:
            raise CommandError(f"{options['path']}: {exc}; nothing was imported") from None
        finally:
            if close:
                close()
        report_issues(self, r.issues, r.bad, options["errors_file"])
        style = self.style.SUCCESS if not r.bad else self.style.WARNING
        self.stdout.write(
            style(
                f"Read {r.read:,} rows in {r.seconds:.1f}s: {r.created:,} products created, {r.updated:,} updated, "
                f"{r.unchanged:,} unchanged, {r.bad:,} bad rows skipped; "
                f"{r.categories_created:,} new categories, {r.brands_created:,} new brands."
            )
        )

    def _progress(self, r: CatalogImportResult) -> None:
        self.stdout.write(f"  {r.read:>8,} rows read  {r.created:>8,} created  {r.updated:>8,} updated  {r.bad:>6,} bad")
