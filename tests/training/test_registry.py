from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from reco_app import cache, privacy
from reco_app.models import Event, ModelVersion, SuppressedSubject
from reco_app.signals import model_activated
from reco_app.training import registry
from reco_app.training.artifact import load_artifact
from reco_app.training.incremental import train_incremental
from reco_app.training.lock import TrainingBusy
from reco_app.training.suppression import is_suppressed
from tests.training.synthetic import UNTIL

Status = ModelVersion.Status
pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def activations():  # type: ignore[no-untyped-def]
    seen: list[ModelVersion] = []

    def receiver(sender, version, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(version)

    model_activated.connect(receiver)
    yield seen
    model_activated.disconnect(receiver)


def test_first_training_becomes_active_with_a_verified_artifact(stored_shop, activations, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    before = cache.ns_version("model")
    with django_capture_on_commit_callbacks(execute=True):
        version = registry.train(until=UNTIL)
    assert version.status == Status.ACTIVE and version.error == ""
    assert version.metrics["ndcg@10"] is not None and "popularity" in version.evaluation["rows"]
    assert version.n_users == 80 and version.n_items == 60 and version.n_interactions > 0
    assert version.data_until == UNTIL
    artifact = load_artifact(version.artifact_name, expected_sha256=version.sha256)
    assert artifact.manifest["version"] == version.pk and artifact.item_embeddings.shape == (60, 16)
    assert [v.pk for v in activations] == [version.pk]
    assert cache.ns_version("model") > before  # cached lists of the old model are invalidated


def test_guardrail_keeps_a_worse_model_ready_until_an_admin_activates_it(stored_shop, activations, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    first = registry.train(until=UNTIL)
    ModelVersion.objects.filter(pk=first.pk).update(metrics={**first.metrics, "ndcg@10": 0.99})
    second = registry.train(until=UNTIL)
    assert second.status == Status.READY
    assert "<" in second.params["guardrail"]
    first.refresh_from_db()
    assert first.status == Status.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        registry.activate(second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.RETIRED, Status.ACTIVE)
    assert activations[-1].pk == second.pk

    with django_capture_on_commit_callbacks(execute=True):
        back = registry.rollback()
    first.refresh_from_db()
    second.refresh_from_db()
    assert back.pk == first.pk and (first.status, second.status) == (Status.ACTIVE, Status.READY)
    assert ModelVersion.objects.filter(status=Status.ACTIVE).count() == 1
    with pytest.raises(registry.RegistryError):
        registry.rollback()  # nothing earlier than the first version


def test_guardrail_passes_a_better_or_equal_model(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    first = registry.train(until=UNTIL)
    ModelVersion.objects.filter(pk=first.pk).update(metrics={**first.metrics, "ndcg@10": 0.0})
    second = registry.train(until=UNTIL)
    assert second.status == Status.ACTIVE
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_AUTO_ACTIVATE": False}
    assert registry.train(until=UNTIL).status == Status.READY


def test_a_failed_training_records_its_error_and_leaves_the_active_version(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    active = registry.train(until=UNTIL)
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_LOSS": "no-such-loss"}
    failed = registry.train(until=UNTIL)
    assert failed.status == Status.FAILED and "no-such-loss" in failed.error
    assert ModelVersion.objects.active().pk == active.pk
    with pytest.raises(registry.RegistryError):
        registry.activate(failed)


def test_stale_training_rows_are_failed_and_fresh_ones_block_a_second_run(stored_shop) -> None:  # type: ignore[no-untyped-def]
    stale = ModelVersion.objects.create(status=Status.TRAINING)
    ModelVersion.objects.filter(pk=stale.pk).update(created_at=timezone.now() - dt.timedelta(hours=4))
    fresh = ModelVersion.objects.create(status=Status.TRAINING)
    with pytest.raises(TrainingBusy):
        registry.train(until=UNTIL)
    stale.refresh_from_db()
    assert stale.status == Status.FAILED and "stopped before finishing" in stale.error
    fresh.delete()
    assert registry.train(until=UNTIL).status == Status.ACTIVE


def test_a_redelivered_task_does_not_train_twice(stored_shop) -> None:  # type: ignore[no-untyped-def]
    first = registry.train(until=UNTIL, task_id="task-1")
    again = registry.train(until=UNTIL, task_id="task-1")
    assert again.pk == first.pk and ModelVersion.objects.count() == 1


def test_incremental_update_continues_the_active_model(stored_shop) -> None:  # type: ignore[no-untyped-def]
    assert train_incremental(until=UNTIL) is None  # no active model yet
    parent = registry.train(until=UNTIL)
    assert train_incremental(until=UNTIL + dt.timedelta(hours=1)) is None  # nothing new
    later = UNTIL + dt.timedelta(minutes=30)
    Event.objects.create(subject="c00001", product_key="P00003", event_type="purchase", timestamp=later)
    Event.objects.create(subject="newcomer", product_key="P00003", event_type="purchase", timestamp=later)
    version = train_incremental(until=UNTIL + dt.timedelta(hours=1))
    assert version is not None and version.status == Status.ACTIVE, version.error
    assert (version.kind, version.parent_id, version.n_users) == ("incremental", parent.pk, parent.n_users)
    old = load_artifact(parent.artifact_name)
    new = load_artifact(version.artifact_name)
    assert list(new.user_keys) == list(old.user_keys)
    assert not (new.user_embeddings == old.user_embeddings).all()
    parent.refresh_from_db()
    assert parent.status == Status.RETIRED


def test_model_vectors_privacy_holder_exports_and_suppresses(stored_shop) -> None:  # type: ignore[no-untyped-def]
    version = registry.train(until=UNTIL)
    exported = privacy.export_subjects(["c00001", "stranger"])["model vectors"]
    assert exported["active_model_version"] == version.pk
    assert exported["subjects_with_vector"] == ["c00001"]
    assert not is_suppressed("c00001")
    assert privacy.erase_subjects(["c00001"])["model vectors"] == 1
    assert is_suppressed("c00001") and not is_suppressed("c00002")
    assert SuppressedSubject.objects.filter(subject="c00001").exists()
    retrained = registry.train(until=UNTIL)
    assert "c00001" not in set(load_artifact(retrained.artifact_name).user_keys)


def test_reco_train_prints_the_evaluation_table(stored_shop, capsys, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_HOLDOUT_DAYS": 14}
    call_command("reco_train", "--no-progress", "--epochs", "3")
    out = capsys.readouterr().out
    assert "lightfm" in out and "popularity" in out and "cooccurrence" in out
    assert "is active" in out


def test_reco_train_if_no_active_trains_once(stored_shop, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("reco_train", "--no-progress", "--epochs", "2", "--if-no-active")
    first = ModelVersion.objects.active()
    assert first is not None
    call_command("reco_train", "--no-progress", "--epochs", "2", "--if-no-active")
    assert f"Model v{first.pk} is already active; not training." in capsys.readouterr().out
    assert ModelVersion.objects.count() == 1


def test_system_checks_reject_bad_training_settings(settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.training.checks import check_training_settings

    assert check_training_settings() == []
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_LOSS": "mse", "TRAINING_GUARDRAIL_METRIC": "ndcg@5", "TRAINING_EPOCHS": 0}
    assert sorted(e.id for e in check_training_settings()) == ["reco_app.E401", "reco_app.E402", "reco_app.E403"]


def test_reco_tune_reports_every_trial_and_the_best(stored_shop, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("reco_tune", "--trials", "2", "--epochs", "2", "--space", '{"no_components": [8, 16]}')
    out = capsys.readouterr().out
    assert "trial  1:" in out and "trial  2:" in out and '"no_components": 8' in out
    assert "best: ndcg@10=" in out
    assert not ModelVersion.objects.exists()  # tuning registers nothing
