"""One training at a time: a fresh ``ModelVersion`` row in status "training" is the lock,
claimed under a short cache lock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from reco_app import cache, conf, erasure
from reco_app.models import ModelVersion

LOCK_KEY = "training-lock"
CLAIM_SECONDS = 60
T = TypeVar("T")


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


def claim(create: Callable[[], T]) -> T:
    """Create the "training" row of a new run unless another run is going on.

    A short cache lock (shared by every worker through Redis) makes check-and-create
    atomic; from then on the row itself is the lock: while a fresh "training" row exists,
    no other run starts. A killed run's row blocks until ``TRAINING_TIME_LIMIT`` has passed,
    then the next run marks it failed. Raises :class:`TrainingBusy`.
    """
    key = cache.make_key(LOCK_KEY)
    token = uuid.uuid4().hex
    try:
        acquired = cache.get_cache().add(key, token, CLAIM_SECONDS)
    except Exception:  # noqa: BLE001 - cache down: the database check below still holds
        acquired = None
    if acquired is False:
        raise TrainingBusy("another training is starting")
    try:
        fail_stale()
        if running():
            raise TrainingBusy("another training is still running")
        with transaction.atomic():
            # ordered with erasures: one in progress commits before this run exists (and
            # reads its data), a later one sees this run and suppresses it (reco_app.erasure)
            erasure.lock_shared()
            return create()
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
