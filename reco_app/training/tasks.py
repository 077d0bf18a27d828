"""Celery tasks of the training area: thin, idempotent wrappers around the services.

Each run takes a lock (two trainings never overlap); a redelivered message (``acks_late``)
finds the version its task id already produced and does nothing twice. The time limits are
longer than the default ``TRAINING_TIME_LIMIT`` (3 h), after which a stuck run's row is
marked failed by the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task

from reco_app.schedule import TRAINING
from reco_app.training.lock import TrainingBusy

logger = logging.getLogger(__name__)
SOFT_TIME_LIMIT = 3 * 3600 + 300
TIME_LIMIT = 3 * 3600 + 600
OPTIONS: dict[str, Any] = {"acks_late": True, "soft_time_limit": SOFT_TIME_LIMIT, "time_limit": TIME_LIMIT, "ignore_result": False}


def _summary(version: Any) -> dict[str, Any]:
    if version is None:
        return {"status": "skipped"}
    return {"status": version.status, "version": version.pk, "metrics": version.metrics, "error": version.error[-500:]}


@shared_task(bind=True, name="reco_app.train_full", **OPTIONS)
def train_full(self: Any, until: str | None = None) -> dict[str, Any]:
    """Full retrain on the events before ``until`` (ISO datetime, default now); activated
    if it passes the guardrail."""
    from reco_app.training import registry

    try:
        return _summary(registry.train(until=_when(until), task_id=self.request.id or ""))
    except TrainingBusy as exc:
        logger.info("full retrain skipped: %s", exc)
        return {"status": "busy"}


@shared_task(bind=True, name="reco_app.train_incremental", **OPTIONS)
def train_incremental(self: Any, until: str | None = None) -> dict[str, Any]:
    """Continue the active model on the events since it was trained."""
    from reco_app.training.incremental import train_incremental as run

    try:
        return _summary(run(until=_when(until), task_id=self.request.id or ""))
    except TrainingBusy as exc:
        logger.info("incremental update skipped: %s", exc)
        return {"status": "busy"}


@shared_task(name="reco_app.evaluate", **OPTIONS)
def evaluate(until: str | None = None) -> dict[str, Any]:
    """Time-based evaluation of the current settings against the baselines (nothing stored)."""
    from reco_app.training.evaluation import evaluate_current

    return evaluate_current(until=_when(until))


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


#: The training part of :data:`reco_app.schedule.BEAT_SCHEDULE` (import that one in settings)
BEAT_SCHEDULE = TRAINING
