from __future__ import annotations

import time
from pathlib import Path

import pytest

from reco_app.models import ModelVersion
from tests.training.synthetic import UNTIL


@pytest.mark.services
@pytest.mark.celery
def test_a_celery_worker_trains_and_activates_a_model(celery_worker_process, stored_shop) -> None:  # type: ignore[no-untyped-def]
    from reco_app.tasks import train_full

    _app, log = celery_worker_process
    train_full.delay(until=UNTIL.isoformat())
    deadline = time.monotonic() + 120
    version = None
    while time.monotonic() < deadline:
        # "ready" comes first: the version is saved, then activated in a transaction of its own
        version = ModelVersion.objects.first()
        if version is not None and version.status not in (ModelVersion.Status.TRAINING, ModelVersion.Status.READY):
            break
        time.sleep(0.5)
    assert version is not None, Path(log).read_text()[-3000:]
    assert version.status == ModelVersion.Status.ACTIVE, version.error
    assert version.metrics["ndcg@10"] is not None and version.data_until == UNTIL
    assert version.params["task_id"]  # the worker ran it as a task
