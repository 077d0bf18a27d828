"""Importing historical data from CSV files (see docs/imports.rst)."""

from reco_app.importing.csvfile import HeaderError, RowIssue
from reco_app.importing.events import ImportAborted, ImportProgress, ImportResult, import_events

__all__ = ["HeaderError", "ImportAborted", "ImportProgress", "ImportResult", "RowIssue", "import_events"]
