"""System checks for the ``RECO_APP`` setting. Ids are stable; see docs/checks.rst."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from reco_app import conf
from reco_app.models.events import EventType


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    cfg = conf.get_config()

    label = cfg.get("PRODUCT_MODEL")
    if not label:
        errors.append(Error('RECO_APP["PRODUCT_MODEL"] is not set.', hint='Set it to "app_label.ModelName" of your product model.', id="reco_app.E001"))
    else:
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(Error(f'RECO_APP["PRODUCT_MODEL"] = {label!r} is not an installed model.', id="reco_app.E001"))

    try:
        import_string(cfg["ADAPTER"])
    except ImportError as exc:
        errors.append(Error(f'RECO_APP["ADAPTER"] cannot be imported: {exc}', id="reco_app.E002"))

    fields = cfg.get("PRODUCT_FIELDS")
    if not isinstance(fields, dict) or not fields.get("key"):
        errors.append(Error('RECO_APP["PRODUCT_FIELDS"] must be a dict with a "key" entry.', id="reco_app.E003"))

    weights = cfg.get("EVENT_WEIGHTS")
    known = set(EventType.values)
    if not isinstance(weights, dict) or not all(isinstance(v, (int, float)) for v in weights.values()):
        errors.append(Error('RECO_APP["EVENT_WEIGHTS"] must map event types to numbers.', id="reco_app.E004"))
    elif unknown := set(weights) - known:
        errors.append(Warning(f'RECO_APP["EVENT_WEIGHTS"] names unknown event types: {sorted(unknown)}', id="reco_app.W001"))

    days = cfg.get("RETENTION_DAYS")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        errors.append(Error('RECO_APP["RETENTION_DAYS"] must be a positive integer.', id="reco_app.E005"))

    from django.conf import settings

    if cfg.get("CACHE_ALIAS") not in settings.CACHES:
        errors.append(Error(f'RECO_APP["CACHE_ALIAS"] = {cfg.get("CACHE_ALIAS")!r} is not in CACHES.', id="reco_app.E006"))
    if cfg.get("ARTIFACT_STORAGE") not in getattr(settings, "STORAGES", {}):
        errors.append(Error(f'RECO_APP["ARTIFACT_STORAGE"] = {cfg.get("ARTIFACT_STORAGE")!r} is not in STORAGES.', id="reco_app.E007"))
    return errors
