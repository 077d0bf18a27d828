"""The model registry: training runs become ``ModelVersion`` rows with verified artifacts.

Status moves ``training → ready`` only after the artifact, its training state and its
manifest are written *and read back and verified*; anything that goes wrong before that
marks the row ``failed`` with the error. A process killed mid-way leaves a ``training`` row
(never ready or active), which the next run marks failed after ``TRAINING_TIME_LIMIT``.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from typing import Any

from django.db import transaction
from django.utils import timezone

from reco_app import conf, signals
from reco_app.datasets.features import identity_mask
from reco_app.models import ModelVersion
from reco_app.training import artifact as artifacts
from reco_app.training.data import Progress, TrainingData, load_training_data, no_progress
from reco_app.training.lock import TrainingBusy, claim, fail_stale
from reco_app.training.params import TrainParams
from reco_app.training.pipeline import RunResult, run, to_artifact
from reco_app.training.state import delete_state, save_state
from reco_app.training.trainer import model_state

logger = logging.getLogger(__name__)
Status = ModelVersion.Status
AT_K = ("precision", "recall", "ndcg", "map", "cold_recall")


class RegistryError(Exception):
    """An activation or rollback that cannot be done."""


def flat_metrics(row: dict[str, Any], k: int) -> dict[str, Any]:
    """{"ndcg": 0.1} → {"ndcg@10": 0.1} (the names the guardrail setting uses)."""
    return {f"{m}@{k}" if m in AT_K else m: v for m, v in row.items()}


def artifact_name(version: ModelVersion, now: dt.datetime) -> str:
    return f"v{version.pk:06d}-{now:%Y%m%d%H%M%S}"


def train(
    *,
    until: dt.datetime | None = None,
    params: TrainParams | None = None,
    progress: Progress = no_progress,
    activate_policy: str = "guardrail",
    task_id: str = "",
) -> ModelVersion:
    """Run a full training and register it; returns the version (ready, active or failed).

    ``activate_policy``: "guardrail" (activate if it beats the active version on
    ``TRAINING_GUARDRAIL_METRIC``, when ``TRAINING_AUTO_ACTIVATE``), "always" or "never".
    Raises :class:`~reco_app.training.lock.TrainingBusy` when a training is running.
    """
    if task_id:
        done = ModelVersion.objects.filter(params__task_id=task_id).exclude(status=Status.FAILED).first()
        if done is not None:  # a redelivered task message: nothing to do again
            return done
    version = claim(lambda: ModelVersion.objects.create(
        kind=ModelVersion.Kind.FULL, status=Status.TRAINING, started_at=timezone.now(),
        params={**(params.as_dict() if params else {}), "task_id": task_id},
    ))
    try:
        params = params or TrainParams.from_settings()
        version.params = {**params.as_dict(), "task_id": task_id}
        version.save(update_fields=["params"])
        data = load_training_data(until, progress)
        result = run(data, params, progress=progress)
        _publish(version, data, result, progress)
    except BaseException as exc:
        _fail(version, exc)
        if not isinstance(exc, Exception):
            raise
        return version
    version.refresh_from_db()
    if version.status == Status.READY:
        _maybe_activate(version, activate_policy)
    from reco_app.training.retention import prune_quietly

    prune_quietly()
    return version


def _publish(version: ModelVersion, data: TrainingData, result: RunResult, progress: Progress) -> None:
    now = timezone.now()
    name = artifact_name(version, now)
    k = int(result.evaluation.get("k", conf.get("TRAINING_EVAL_K")))
    metrics = flat_metrics(result.metrics, k)
    progress("save", 0, 3)
    identity = identity_mask(data.item_features, data.item_keys)
    state_sha = save_state(name, {**model_state(result.model), "identity_items": identity})
    manifest = {
        "version": version.pk,
        "kind": version.kind,
        "params": result.params.as_dict(),
        "epochs": result.fit.epochs,
        "data_from": data.data_from.isoformat() if data.data_from else None,
        "data_until": data.until.isoformat(),
        "cutoff": data.cutoff.isoformat(),
        "metrics": metrics,
        "state_sha256": state_sha,
        "user_feature_names": [] if data.user_features is None else [str(n) for n in data.user_features.names],
        "user_feature_spec": {} if data.user_features is None else data.user_features.spec,
    }
    artifact = to_artifact(result.model, data, manifest)
    progress("save", 1, 3)
    register_artifact(version, artifact, name, data=data, metrics=metrics, evaluation=result.evaluation)
    progress("save", 3, 3)


def register_artifact(
    version: ModelVersion,
    artifact: artifacts.ModelArtifact,
    name: str,
    *,
    data: TrainingData | None,
    metrics: dict[str, Any],
    evaluation: dict[str, Any],
    n_interactions: int | None = None,
) -> None:
    """Write, read back, verify, and only then mark the version ready."""
    digest = artifacts.save_artifact(artifact, name)
    loaded = artifacts.load_artifact(name, expected_sha256=digest)
    if loaded.item_embeddings.shape != artifact.item_embeddings.shape or len(loaded.user_keys) != len(artifact.user_keys):
        raise artifacts.ArtifactError(f"artifact {name!r} read back with different shapes")
    updated = ModelVersion.objects.filter(pk=version.pk, status=Status.TRAINING).update(
        status=Status.READY,
        artifact_name=name,
        sha256=digest,
        metrics=metrics,
        evaluation=evaluation,
        data_from=data.data_from if data else version.data_from,
        data_until=data.until if data else version.data_until,
        n_users=len(artifact.user_keys),
        n_items=len(artifact.item_keys),
        n_interactions=int(data.full.nnz) if data else int(n_interactions or 0),
        finished_at=timezone.now(),
    )
    if not updated:
        raise RegistryError(f"version {version.pk} stopped being 'training' (marked stale?) before it finished")


def _fail(version: ModelVersion, exc: BaseException) -> None:
    logger.exception("training of model version %s failed", version.pk)
    error = "".join(traceback.format_exception(exc))[-8000:]
    ModelVersion.objects.filter(pk=version.pk).exclude(status=Status.ACTIVE).update(
        status=Status.FAILED, error=error, finished_at=timezone.now()
    )
    name = ModelVersion.objects.filter(pk=version.pk).values_list("artifact_name", flat=True).first()
    for cleanup in (artifacts.delete_artifact, delete_state):
        try:
            if name:
                cleanup(name)
        except Exception:  # noqa: BLE001 - best effort: the row is failed either way
            logger.warning("could not remove the files of failed version %s", version.pk)
    version.refresh_from_db()


# --- guardrail and activation -----------------------------------------------------------
def guardrail(candidate: ModelVersion, active: ModelVersion | None) -> tuple[bool, str]:
    """Whether ``candidate`` may replace ``active``: its ``TRAINING_GUARDRAIL_METRIC`` must be
    at least the active one's, less ``TRAINING_GUARDRAIL_TOLERANCE`` (relative)."""
    metric = conf.get("TRAINING_GUARDRAIL_METRIC")
    if active is None:
        return True, "no active version"
    new, old = candidate.metrics.get(metric), active.metrics.get(metric)
    if new is None:
        return False, f"the candidate has no {metric} (no holdout shoppers)"
    if old is None:
        return True, f"the active version has no {metric}"
    floor = old * (1 - float(conf.get("TRAINING_GUARDRAIL_TOLERANCE")))
    if new >= floor:
        return True, f"{metric} {new:.4f} ≥ {floor:.4f} (active v{active.pk}: {old:.4f})"
    return False, f"{metric} {new:.4f} < {floor:.4f} (active v{active.pk}: {old:.4f})"


def _maybe_activate(version: ModelVersion, policy: str) -> None:
    if policy == "never":
        return
    if policy == "guardrail":
        if not conf.get("TRAINING_AUTO_ACTIVATE"):
            return
        ok, why = guardrail(version, ModelVersion.objects.active())
        ModelVersion.objects.filter(pk=version.pk).update(params={**version.params, "guardrail": why})
        version.params = {**version.params, "guardrail": why}
        logger.info("guardrail for v%s: %s (%s)", version.pk, "pass" if ok else "hold", why)
        if not ok:
            return
    activate(version)
    version.refresh_from_db()


def activate(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one active model (transactional); the previous one is retired."""
    if version.status not in (Status.READY, Status.RETIRED, Status.ACTIVE):
        raise RegistryError(f"v{version.pk} is {version.status}; only ready or retired versions can be activated")
    if version.pruned_at is not None:
        raise RegistryError(f"v{version.pk}'s files were pruned (retention); it cannot be activated")
    if version.artifact_name:
        try:
            artifacts.load_artifact(version.artifact_name, expected_sha256=version.sha256 or None)
        except artifacts.ArtifactError as exc:
            raise RegistryError(str(exc)) from exc
    with transaction.atomic():
        list(ModelVersion.objects.select_for_update().filter(status=Status.ACTIVE))
        target = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if target.status == Status.ACTIVE:
            return target
        if target.status not in (Status.READY, Status.RETIRED) or target.pruned_at is not None:
            raise RegistryError(f"v{target.pk} is {target.status}{' (pruned)' if target.pruned_at else ''}")
        ModelVersion.objects.filter(status=Status.ACTIVE).update(status=Status.RETIRED)
        target.status, target.activated_at = Status.ACTIVE, timezone.now()
        target.save(update_fields=["status", "activated_at"])
        transaction.on_commit(lambda: _announce(target))
    return target


def rollback() -> ModelVersion:
    """Re-activate the previously active version; the current one goes back to ready."""
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().filter(status=Status.ACTIVE).first()
        if current is None:
            raise RegistryError("no active version to roll back")
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(status=Status.RETIRED, activated_at__isnull=False, pruned_at__isnull=True)
            .order_by("-activated_at", "-id")
            .first()
        )
        if previous is None:
            raise RegistryError("no earlier active version to roll back to")
        current.status = Status.READY
        current.save(update_fields=["status"])
        previous.status, previous.activated_at = Status.ACTIVE, timezone.now()
        previous.save(update_fields=["status", "activated_at"])
        transaction.on_commit(lambda: _announce(previous))
    return previous


def _announce(version: ModelVersion) -> None:
    # Receivers invalidate what was built with the old model (serving bumps "model").
    signals.model_activated.send(sender=ModelVersion, version=version)


__all__ = ["RegistryError", "TrainingBusy", "activate", "fail_stale", "guardrail", "rollback", "train"]
