"""Command-line reporting shared by the import commands."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.management.base import BaseCommand

from reco_app.importing.csvfile import RowIssue


def report_issues(command: BaseCommand, issues: Sequence[RowIssue], bad: int, errors_file: str | None) -> None:
    """Print the kept bad rows, and how many more there were and where they went."""
    for issue in issues:
        command.stdout.write(command.style.WARNING(f"line {issue.line}: {issue.reason}"))
    if bad > len(issues):
        where = f"all are in {errors_file}" if errors_file else "use --errors-file to keep them all"
        command.stdout.write(command.style.WARNING(f"... and {bad - len(issues):,} more bad rows ({where})"))


def add_issue_arguments(parser: object) -> None:
    add = parser.add_argument  # type: ignore[attr-defined]
    add("--errors-file", default=None, help="write every bad row (line, reason) to this CSV file")
    add("--show-errors", type=int, default=20, help="how many bad rows to print (default 20)")
