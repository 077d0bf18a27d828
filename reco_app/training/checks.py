"""System checks of the training settings (ids reco_app.E401–E404)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from reco_app import conf
from reco_app.training.params import LOSSES

METRICS = ("precision", "recall", "ndcg", "map", "cold_recall")


@register(Tags.compatibility)
def check_training_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if conf.get("TRAINING_LOSS") not in LOSSES:
        errors.append(Error(
            f'RECO_APP["TRAINING_LOSS"] = {conf.get("TRAINING_LOSS")!r} is not a LightFM loss.',
            hint=f"Use one of {', '.join(LOSSES)}.", id="reco_app.E401",
        ))
    metric = str(conf.get("TRAINING_GUARDRAIL_METRIC"))
    k = conf.get("TRAINING_EVAL_K")
    allowed = [f"{m}@{k}" for m in METRICS] + ["auc", "coverage"]
    if metric not in allowed:
        errors.append(Error(
            f'RECO_APP["TRAINING_GUARDRAIL_METRIC"] = {metric!r} is not an evaluated metric.',
            hint=f"Use one of {', '.join(allowed)} (K is TRAINING_EVAL_K).", id="reco_app.E402",
        ))
    for key in ("TRAINING_COMPONENTS", "TRAINING_EPOCHS", "TRAINING_EVAL_K", "TRAINING_HOLDOUT_DAYS", "TRAINING_TIME_LIMIT"):
        value = conf.get(key)
        if not isinstance(value, (int, float)) or value <= 0:
            errors.append(Error(f'RECO_APP["{key}"] must be a positive number, not {value!r}.', id="reco_app.E403"))
    for key in ("TRAINING_KEEP_VERSIONS", "TRAINING_KEEP_HOURS"):
        value = conf.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(Error(
                f'RECO_APP["{key}"] must be a whole number, 0 or more, not {value!r}.',
                hint="Old model artefacts are pruned by it (docs/training.rst, Retention).", id="reco_app.E404",
            ))
    return errors
