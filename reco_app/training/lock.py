"""One training at a time: a cache lock (shared by every worker through Redis), backed by
the database (a fresh row in status "training" also means busy)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

from reco_app import cache, conf
from reco_app.models import ModelVersion

LOCK_KEY = "training-lock"


class TrainingBusy(Exception):
    """Another training is running."""


def fail_stale(now: dt.datetime | None = None) -> int:
    """Mark "training" rows older than ``TRAINING_TIME_LIMIT`` failed (their process died)."""
    now = now or timezone.now()
    limit = now - dt.timedelta(seconds=int(conf.get("TRAINING_TIME_LIMIT")))
    return ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING, created_at__lt=limit).update(
        status=ModelVersion.Status.FAILED,
        error="The training process stopped before finishing (killed or timed out).",
        finished_at=now,
    )


def running() -> bool:
    return ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING).exists()


@contextmanager
def training_lock() -> Iterator[None]:
    """Raise :class:`TrainingBusy` if another training holds the lock or is still running."""
    key = cache.make_key(LOCK_KEY)
    token = uuid.uuid4().hex
    timeout = int(conf.get("TRAINING_TIME_LIMIT"))
    try:
        acquired = cache.get_cache().add(key, token, timeout)
    except Exception:  # noqa: BLE001 - cache down: the database check below still holds
        acquired = None
    if acquired is False:
        raise TrainingBusy("another training holds the lock")
    try:
        fail_stale()
        if running():
            raise TrainingBusy("another training is still running")
        yield
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
