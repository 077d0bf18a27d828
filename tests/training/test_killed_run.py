from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from reco_app.models import ModelVersion
from reco_app.training import registry
from reco_app.training.artifact import ArtifactError, load_artifact
from reco_app.training.lock import fail_stale
from tests.helpers import ROOT, service_env
from tests.training.synthetic import UNTIL

Status = ModelVersion.Status


@pytest.mark.services
def test_a_killed_training_never_becomes_ready_and_leaves_the_active_version(
    postgres_db, transactional_db, stored_shop, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    active = registry.train(until=UNTIL)
    assert active.status == Status.ACTIVE
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("killable_run.py")), str(marker)],
        env=service_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the training never reached the artifact write"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = ModelVersion.objects.exclude(pk=active.pk).get()
    assert killed.status == Status.TRAINING and killed.sha256 == ""
    half_written = marker.read_text().rsplit("/", 1)[-1].removesuffix(".npz")
    assert (tmp_path / "media" / marker.read_text()).exists()
    with pytest.raises(ArtifactError):
        load_artifact(half_written)  # arrays without a manifest are not loadable
    assert ModelVersion.objects.active().pk == active.pk
    with pytest.raises(registry.TrainingBusy):
        registry.train(until=UNTIL)  # the dead run still holds the lock until it is stale
    later = timezone.now() + dt.timedelta(seconds=django_settings.RECO_APP.get("TRAINING_TIME_LIMIT", 3 * 3600) + 1)
    assert fail_stale(now=later) == 1
    killed.refresh_from_db()
    assert killed.status == Status.FAILED and ModelVersion.objects.active().pk == active.pk
