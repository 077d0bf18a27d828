"""Retention of model artefacts and suppression rows of erased shoppers."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from reco_app.consent import privacy
from reco_app.models import Event, ModelVersion, SuppressedSubject
from reco_app.training import registry
from reco_app.training.artifact import get_storage, load_artifact
from reco_app.training.incremental import train_incremental
from reco_app.training.state import load_state, state_name
from reco_app.training.suppression import is_suppressed
from tests.training.synthetic import UNTIL

Status = ModelVersion.Status
pytestmark = pytest.mark.django_db


def keep(settings, versions: int, hours: int = 0) -> None:  # type: ignore[no-untyped-def]
    settings.RECO_APP = {**settings.RECO_APP, "TRAINING_KEEP_VERSIONS": versions, "TRAINING_KEEP_HOURS": hours}


def files_exist(version: ModelVersion) -> bool:
    storage = get_storage()
    return storage.exists(state_name(version.artifact_name)) or storage.exists(f"reco_app/models/{version.artifact_name}.npz")


def test_old_versions_lose_their_files_but_keep_their_rows(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    first = registry.train(until=UNTIL)  # active
    held = [registry.train(until=UNTIL, activate_policy="never") for _ in range(3)]  # e.g. failed the guardrail
    assert all(files_exist(v) for v in [first, *held])  # young: nothing pruned by default
    keep(settings, versions=1)
    call_command("reco_purge_events", stdout=(out := StringIO()))
    assert "Pruned the files of 2 model version(s)." in out.getvalue()
    for version in [first, *held]:
        version.refresh_from_db()
    assert first.pruned_at is None and files_exist(first)  # the active version
    assert held[-1].pruned_at is None and files_exist(held[-1])  # the newest
    for version in held[:2]:
        assert version.pruned_at is not None and not files_exist(version)
        assert version.metrics["ndcg@10"] is not None  # the admin history keeps the metrics
        with pytest.raises(registry.RegistryError, match="pruned"):
            registry.activate(version)


def test_the_rollback_target_is_kept(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.training.retention import prune_artifacts

    keep(settings, versions=1)
    first = registry.train(until=UNTIL)
    second = registry.train(until=UNTIL, activate_policy="always")  # first: retired, the rollback target
    third = registry.train(until=UNTIL, activate_policy="never")
    assert prune_artifacts() == []  # active, rollback target, newest
    fourth = registry.train(until=UNTIL, activate_policy="never")  # prunes the third on its own
    third.refresh_from_db()
    assert third.pruned_at is not None and not files_exist(third)
    assert all(files_exist(v) for v in (first, second, fourth))
    assert registry.rollback().pk == first.pk


def test_suppression_applies_to_versions_trained_before_the_erasure_only(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    keep(settings, versions=1)
    first = registry.train(until=UNTIL)
    assert "c00001" in set(load_artifact(first.artifact_name).user_keys)
    counts = privacy.erase(["c00001", "anon:typo"])
    assert counts["model vectors"] == 1  # no row for a subject no kept artefact holds
    assert list(SuppressedSubject.objects.values_list("subject", "last_version")) == [("c00001", first.pk)]
    assert is_suppressed("c00001", first.pk)

    # the shopper consents again and shops: the next training learns them from those events
    later = UNTIL + dt.timedelta(hours=1)
    Event.objects.bulk_create([
        Event(subject="c00001", product_key=f"P0000{i}", event_type="purchase", timestamp=later - dt.timedelta(minutes=i), consent="granted")
        for i in range(1, 4)
    ])
    second = registry.train(until=later + dt.timedelta(minutes=1), activate_policy="always")
    assert "c00001" in set(load_artifact(second.artifact_name).user_keys)
    assert not is_suppressed("c00001", second.pk) and is_suppressed("c00001", first.pk)
    assert SuppressedSubject.objects.exists()  # the first version is kept for a rollback
    registry.train(until=later + dt.timedelta(minutes=1), activate_policy="always")  # first: pruned
    assert not SuppressedSubject.objects.exists()  # no kept artefact predates the erasure


def test_an_incremental_update_does_not_carry_erased_shoppers_over(stored_shop) -> None:  # type: ignore[no-untyped-def]
    parent = registry.train(until=UNTIL)
    privacy.erase(["c00001"])
    later = UNTIL + dt.timedelta(minutes=30)
    Event.objects.create(subject="c00002", product_key="P00003", event_type="purchase", timestamp=later, consent="granted")
    version = train_incremental(until=UNTIL + dt.timedelta(hours=1))
    assert version is not None and version.status == Status.ACTIVE, version and version.error
    old, new = load_artifact(parent.artifact_name), load_artifact(version.artifact_name)
    assert "c00001" not in set(new.user_keys)
    assert list(new.user_keys) == [k for k in old.user_keys if k != "c00001"]
    state = load_state(version.artifact_name, new.manifest["state_sha256"])
    assert state["user_embeddings"].shape[0] == len(new.user_keys) == version.n_users
    kept = np.flatnonzero(old.user_keys != "c00001")
    assert new.user_embeddings.shape == old.user_embeddings[kept].shape


def test_system_checks_reject_bad_retention_settings(settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.training.checks import check_training_settings

    keep(settings, versions=-1, hours=24)
    assert [e.id for e in check_training_settings()] == ["reco_app.E404"]
    keep(settings, versions=3, hours=1.5)  # type: ignore[arg-type]
    assert [e.id for e in check_training_settings()] == ["reco_app.E404"]
    keep(settings, versions=0, hours=0)
    assert check_training_settings() == []


def test_user_keys_read_are_kept_for_kept_versions_only(stored_shop, settings) -> None:  # type: ignore[no-untyped-def]
    from reco_app.training import suppression
    from reco_app.training.retention import prune_artifacts

    suppression._user_keys_read.clear()
    first = registry.train(until=UNTIL)
    second = registry.train(until=UNTIL, activate_policy="always")
    third = registry.train(until=UNTIL, activate_policy="never")
    privacy.erase(["c00001"])  # reads the user keys of every kept artefact
    assert set(suppression._user_keys_read) == {(v.artifact_name, v.sha256) for v in (first, second, third)}
    keep(settings, versions=0)
    registry.activate(third)  # second: the rollback target; first: pruned
    assert prune_artifacts() == [first.pk]
    assert set(suppression._user_keys_read) == {(v.artifact_name, v.sha256) for v in (second, third)}


def test_user_keys_are_read_before_the_erasure_lock(stored_shop, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reco_app import erasure
    from reco_app.training import suppression

    version = registry.train(until=UNTIL)
    suppression._user_keys_read.clear()
    read_at_lock = []
    real = erasure.lock_exclusive

    def lock() -> None:
        read_at_lock.append(set(suppression._user_keys_read))
        real()

    monkeypatch.setattr(erasure, "lock_exclusive", lock)
    assert privacy.erase(["c00001"])["model vectors"] == 1
    assert read_at_lock == [{(version.artifact_name, version.sha256)}]  # no artefact read under the lock


def test_user_keys_are_held_compactly() -> None:
    from reco_app.training.suppression import UserKeys

    keys = UserKeys(f"c{i:06d}" for i in range(1000))
    assert keys.hashes.nbytes == 8 * 1000 == 8 * len(keys)  # a 64-bit hash per key, no strings
    assert "c000999" in keys and "c000000" in keys
    assert "c001000" not in keys and "anon:typo" not in keys and None not in keys
    assert "x" not in UserKeys([])
