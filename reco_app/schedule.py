"""reco_app's default celery beat schedule, to import in ``settings.py``.

Nothing here needs Django's app registry (the tasks' own modules import models, which
``settings.py`` cannot), so::

    from reco_app.schedule import BEAT_SCHEDULE

    CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

schedules every periodic task of reco_app. The parts are here too, for a shop that wants
only some of them or other times (``{**SEGMENTS, **RETENTION}``). With django-celery-beat,
the entries are copied into its database when beat starts (``beat -S django``) and can be
changed in the admin.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

#: batch segments nightly at 02:30 (before the nightly retrain, so the shoppers' segment
#: features are fresh), and the live sweep (abandoned carts, expiry) every 10 minutes
SEGMENTS: dict[str, dict[str, Any]] = {
    "reco-segments-nightly": {"task": "reco_app.segments.recompute", "schedule": crontab(hour=2, minute=30)},
    "reco-segments-live-sweep": {"task": "reco_app.segments.sweep_live", "schedule": 600.0},
}

#: a full retrain every night at 03:15 and an incremental update every hour at :40
TRAINING: dict[str, dict[str, Any]] = {
    "reco-nightly-retrain": {"task": "reco_app.train_full", "schedule": crontab(hour=3, minute=15)},
    "reco-hourly-incremental": {"task": "reco_app.train_incremental", "schedule": crontab(minute=40)},
}

#: retention every night at 04:30, after the retrain: events older than ``RETENTION_DAYS``,
#: the files of model versions no longer kept, old erasure markers
RETENTION: dict[str, dict[str, Any]] = {
    "reco-purge-events": {"task": "reco_app.purge_events", "schedule": crontab(hour=4, minute=30)},
}

#: every periodic task of reco_app
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {**SEGMENTS, **TRAINING, **RETENTION}
