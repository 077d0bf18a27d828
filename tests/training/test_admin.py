from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from reco_app.models import ModelVersion
from reco_app.training import registry
from tests.training.synthetic import UNTIL

Status = ModelVersion.Status


@pytest.fixture
def admin_client(client, db):  # type: ignore[no-untyped-def]
    user = User.objects.create_superuser("boss", "boss@example.com", "pw-12345678")
    client.force_login(user)
    return client


def test_versions_list_shows_metrics_and_failures(admin_client, stored_shop) -> None:  # type: ignore[no-untyped-def]
    good = registry.train(until=UNTIL)
    ModelVersion.objects.create(status=Status.FAILED, error="Traceback ...\nValueError: broken data")
    page = admin_client.get(reverse("admin:reco_app_modelversion_changelist")).content.decode()
    assert f"{good.metrics['ndcg@10']:.4f}" in page
    assert "ValueError: broken data" in page
    assert "Retrain now" in page and "Roll back" in page
    detail = admin_client.get(reverse("admin:reco_app_modelversion_change", args=[good.pk])).content.decode()
    assert "<table>" in detail and "cooccurrence" in detail and "cold recall@10" in detail


def test_activate_and_roll_back_buttons(admin_client, stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    first = registry.train(until=UNTIL)
    second = registry.train(until=UNTIL, activate_policy="never")
    page = admin_client.get(reverse("admin:reco_app_modelversion_change", args=[second.pk])).content.decode()
    assert "Activate this version" in page
    admin_client.post(reverse("admin:reco_app_modelversion_activate", args=[second.pk]))
    second.refresh_from_db()
    assert second.status == Status.ACTIVE
    admin_client.post(reverse("admin:reco_app_modelversion_rollback"))
    first.refresh_from_db()
    assert first.status == Status.ACTIVE
    failed = ModelVersion.objects.create(status=Status.FAILED, error="boom")
    response = admin_client.post(reverse("admin:reco_app_modelversion_activate", args=[failed.pk]), follow=True)
    assert "only ready or retired versions" in response.content.decode()
    assert admin_client.get(reverse("admin:reco_app_modelversion_rollback")).status_code == 405


def test_retrain_button_runs_a_training(admin_client, stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(reverse("admin:reco_app_modelversion_retrain"), follow=True)
    assert "retrain was queued" in response.content.decode()
    if settings.CELERY_TASK_ALWAYS_EAGER:  # embedded mode: the task ran in-process
        assert ModelVersion.objects.filter(status__in=[Status.ACTIVE, Status.READY]).count() == 1
    else:  # a worker will pick it up; don't leave it for the next test run
        from example_shop.celery import app

        assert app.control.purge() >= 1
