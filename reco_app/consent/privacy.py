"""Privacy rights: access (export), erasure and retention, over the holder registry.

The person is named by a user or a subject key (:mod:`reco_app.consent.people` finds every
subject key their data may sit under). Each area registers its holder with
``reco_app.privacy.register``; this app's own holders (events, consent records, cached
recommendations and cached state) are in :mod:`reco_app.consent.holders`, retention in
:mod:`reco_app.consent.retention`. Everything is imported from here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from reco_app import privacy
from reco_app.consent.holders import (
    CONSENT_FIELDS,
    EVENT_FIELDS,
    count_events,
    erase_cached,
    erase_cached_state,
    erase_consent,
    erase_events,
    export_cached,
    export_cached_state,
    export_consent,
    export_events,
    register_holders,
)
from reco_app.consent.people import expand_subjects, subjects_for_user
from reco_app.consent.retention import PURGE_CHUNK, purge_events

__all__ = [
    "CONSENT_FIELDS", "EVENT_FIELDS", "PURGE_CHUNK", "count_events", "erase", "erase_cached", "erase_cached_state",
    "erase_consent", "erase_events", "expand_subjects", "export", "export_cached", "export_cached_state",
    "export_consent", "export_events", "purge_events", "register_holders", "subjects_for_user",
]


def export(subjects: list[str]) -> dict[str, Any]:
    return {
        "subjects": subjects,
        "exported_at": timezone.now().isoformat(),
        "data": privacy.export_subjects(subjects),
    }


def erase(subjects: list[str]) -> dict[str, int]:
    """Erase everything of these subjects, in one transaction; their cached entries and
    cache namespaces go once it has committed (see :func:`erase_cached`)."""
    with transaction.atomic():
        return privacy.erase_subjects(subjects)
