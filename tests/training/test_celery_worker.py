from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from reco_app.models import ModelVersion
from tests.conftest import _skip_or_fail
from tests.training.synthetic import UNTIL
from tests.training.test_killed_run import ROOT, service_env


@pytest.fixture
def celery_worker_process(postgres_db, transactional_db, tmp_path):  # type: ignore[no-untyped-def]
    """A real Celery worker (subprocess) on CELERY_BROKER_URL, seeing this test's database."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker or django_settings.CELERY_TASK_ALWAYS_EAGER:
        _skip_or_fail("needs a Celery broker: set CELERY_BROKER_URL=redis://...")
    from example_shop.celery import app

    try:
        app.control.purge()
    except Exception as exc:  # noqa: BLE001
        _skip_or_fail(f"Celery broker at CELERY_BROKER_URL is not reachable: {exc}")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "example_shop", "worker", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            env=service_env(tmp_path), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield app, log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.services
@pytest.mark.celery
def test_a_celery_worker_trains_and_activates_a_model(celery_worker_process, stored_shop) -> None:  # type: ignore[no-untyped-def]
    from reco_app.tasks import train_full

    _app, log = celery_worker_process
    train_full.delay(until=UNTIL.isoformat())
    deadline = time.monotonic() + 120
    version = None
    while time.monotonic() < deadline:
        version = ModelVersion.objects.exclude(status=ModelVersion.Status.TRAINING).first()
        if version is not None:
            break
        time.sleep(0.5)
    assert version is not None, Path(log).read_text()[-3000:]
    assert version.status == ModelVersion.Status.ACTIVE, version.error
    assert version.metrics["ndcg@10"] is not None and version.data_until == UNTIL
    assert version.params["task_id"]  # the worker ran it as a task
