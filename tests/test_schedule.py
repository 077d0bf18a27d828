"""reco_app.schedule: the default celery beat schedule a shop imports in its settings."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import beat
from django.conf import settings
from django.utils import timezone

from reco_app.models import Event
from reco_app.schedule import BEAT_SCHEDULE, RETENTION

ROOT = Path(__file__).resolve().parent.parent


def test_settings_can_import_the_schedule_before_django_is_set_up() -> None:
    # settings.py runs before the app registry exists: importing a tasks module there fails
    # (they import models); the schedule module must not
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = "import reco_app.schedule as s; print(len(s.BEAT_SCHEDULE))"
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(BEAT_SCHEDULE))


def test_every_entry_names_a_registered_task() -> None:
    from example_shop.celery import app

    app.loader.import_default_modules()  # autodiscovery, as a worker and beat do at start
    missing = {name: entry["task"] for name, entry in BEAT_SCHEDULE.items() if entry["task"] not in app.tasks}
    assert not missing, f"scheduled tasks that no worker knows: {missing}"
    # the example shop schedules all of them
    assert settings.CELERY_BEAT_SCHEDULE == BEAT_SCHEDULE


def test_beat_loads_every_entry_and_the_purge_falls_due_once_a_day() -> None:
    from example_shop.celery import app

    scheduler = beat.Scheduler(app=app, lazy=True)
    scheduler.merge_inplace(BEAT_SCHEDULE)
    assert set(scheduler.schedule) == set(BEAT_SCHEDULE)
    purge = scheduler.schedule["reco-purge-events"]
    now = purge.schedule.now()
    # last run 25 hours ago: due now; last run just now: not due for a day at most
    assert purge.schedule.is_due(now - dt.timedelta(hours=25)).is_due
    due, wait = purge.schedule.is_due(now)
    assert not due and 0 < wait <= 24 * 3600


@pytest.mark.django_db
def test_the_scheduled_purge_deletes_events_past_retention() -> None:
    from example_shop.celery import app

    app.loader.import_default_modules()
    now = timezone.now()
    for days in (3, 400):
        Event.objects.create(subject="s", event_type="product_view", product_key="P", timestamp=now - dt.timedelta(days=days))
    task = app.tasks[RETENTION["reco-purge-events"]["task"]]
    assert task.apply().get() == 1  # RETENTION_DAYS: 395 by default
    assert list(Event.objects.values_list("timestamp", flat=True)) == [now - dt.timedelta(days=3)]
