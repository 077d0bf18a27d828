"""System checks for the ``RECO_APP`` setting. Ids are stable; see docs/checks.rst.

Foundation ids: E001–E014, W001–W005. Each check reads one setting and says what is
wrong with it and how to fix it, before the first request does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from reco_app import conf
from reco_app.models.events import EventType

Messages = list[CheckMessage]


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _product_model(cfg: dict[str, Any]) -> tuple[Any, Messages]:
    label = cfg.get("PRODUCT_MODEL")
    if not label:
        return None, [Error('RECO_APP["PRODUCT_MODEL"] is not set.', hint='Set it to "app_label.ModelName" of your product model.', id="reco_app.E001")]
    try:
        return apps.get_model(label), []
    except (LookupError, ValueError, TypeError, AttributeError):
        return None, [Error(f'RECO_APP["PRODUCT_MODEL"] = {label!r} is not an installed model.', hint='Use "app_label.ModelName" of a model in INSTALLED_APPS.', id="reco_app.E001")]


def _adapter(cfg: dict[str, Any]) -> tuple[Any, Messages]:
    from reco_app.adapter import ShopAdapter

    path = cfg.get("ADAPTER")
    try:
        cls = import_string(str(path))
    except (ImportError, TypeError, ValueError) as exc:
        return None, [Error(f'RECO_APP["ADAPTER"] = {path!r} cannot be imported: {exc}', id="reco_app.E002")]
    if not (isinstance(cls, type) and issubclass(cls, ShopAdapter)):
        return None, [Error(f'RECO_APP["ADAPTER"] = {path!r} is not a subclass of reco_app.adapter.ShopAdapter.', id="reco_app.E008")]
    return cls, []


def _product_fields(cfg: dict[str, Any], model: Any, adapter: Any) -> Messages:
    from reco_app.adapter import ShopAdapter

    fields = cfg.get("PRODUCT_FIELDS")
    if not isinstance(fields, dict) or not fields.get("key"):
        return [Error('RECO_APP["PRODUCT_FIELDS"] must be a dict with a "key" entry.', id="reco_app.E003")]
    bad = sorted(k for k, v in fields.items() if v is not None and (not isinstance(v, str) or not v.strip()))
    if bad:
        return [Error(f'RECO_APP["PRODUCT_FIELDS"] entries {bad} must be attribute paths (strings) or None.', id="reco_app.E003")]
    messages: Messages = []
    known = set(conf.DEFAULTS["PRODUCT_FIELDS"])
    if unknown := sorted(set(fields) - known):
        messages.append(Warning(f'RECO_APP["PRODUCT_FIELDS"] has unknown entries {unknown}; they are ignored.', hint=f"Known entries: {sorted(known)}.", id="reco_app.W002"))
    # Only attributes read by ShopAdapter's own methods follow these paths.
    if model is None or not (isinstance(adapter, type) and issubclass(adapter, ShopAdapter)):
        return messages
    for name in sorted(known & set(fields)):
        path = fields[name]
        reader = getattr(adapter, f"product_{name}", None)
        if reader is not None and reader is not getattr(ShopAdapter, f"product_{name}", None):
            continue  # the subclass reads this attribute its own way
        if path and not hasattr(model, path.split(".")[0]):
            messages.append(Warning(f'RECO_APP["PRODUCT_FIELDS"]["{name}"] = {path!r}: {model._meta.label} has no attribute {path.split(".")[0]!r}.', hint="Fix the path, or set it to None if the shop has no such attribute.", id="reco_app.W003"))
    key = fields["key"]
    if key != "pk" and "." not in key:
        try:
            field = model._meta.get_field(key)
        except Exception:  # noqa: BLE001 - a property or method: cannot tell
            field = None
        if field is not None and not (field.primary_key or field.unique):
            messages.append(Warning(f'RECO_APP["PRODUCT_FIELDS"]["key"] = {key!r} is not a unique field of {model._meta.label}.', hint="Two products with the same key would share one catalog row; use a unique field.", id="reco_app.W004"))
    return messages


def _mapping(cfg: dict[str, Any]) -> Messages:
    messages: Messages = []
    views = cfg.get("PRODUCT_VIEWS")
    if not isinstance(views, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in views.items()):
        messages.append(Error('RECO_APP["PRODUCT_VIEWS"] must map URL names to URL keyword names (strings).', id="reco_app.E009"))
    weights = cfg.get("EVENT_WEIGHTS")
    if not isinstance(weights, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in weights.values()):
        messages.append(Error('RECO_APP["EVENT_WEIGHTS"] must map event types to numbers.', id="reco_app.E004"))
    elif unknown := sorted(set(weights) - set(EventType.values)):
        messages.append(Warning(f'RECO_APP["EVENT_WEIGHTS"] names unknown event types: {unknown}', hint=f"Known types: {sorted(EventType.values)}.", id="reco_app.W001"))
    return messages


def _numbers(cfg: dict[str, Any]) -> Messages:
    messages: Messages = []
    if not _is_int(cfg.get("RETENTION_DAYS"), 1):
        messages.append(Error('RECO_APP["RETENTION_DAYS"] must be a positive integer.', id="reco_app.E005"))
    if not _is_int(cfg.get("IMPORT_BATCH_SIZE"), 1):
        messages.append(Error('RECO_APP["IMPORT_BATCH_SIZE"] must be a positive integer.', id="reco_app.E010"))
    if not _is_int(cfg.get("CACHE_TIMEOUT"), 0):
        messages.append(Error('RECO_APP["CACHE_TIMEOUT"] must be a whole number of seconds (0 or more).', id="reco_app.E011"))
    return messages


def _infrastructure(cfg: dict[str, Any]) -> Messages:
    messages: Messages = []
    if cfg.get("CACHE_ALIAS") not in settings.CACHES:
        messages.append(Error(f'RECO_APP["CACHE_ALIAS"] = {cfg.get("CACHE_ALIAS")!r} is not in CACHES.', id="reco_app.E006"))
    if cfg.get("ARTIFACT_STORAGE") not in getattr(settings, "STORAGES", {}):
        messages.append(Error(f'RECO_APP["ARTIFACT_STORAGE"] = {cfg.get("ARTIFACT_STORAGE")!r} is not in STORAGES.', id="reco_app.E007"))
    prefix = cfg.get("ARTIFACT_PREFIX")
    if not isinstance(prefix, str) or not prefix.strip("/") or ".." in prefix.split("/"):
        messages.append(Error('RECO_APP["ARTIFACT_PREFIX"] must be a non-empty relative folder name.', id="reco_app.E012"))
    for key, optional in (("SEGMENTS_PROVIDER", False), ("USER_FEATURES_PROVIDER", True)):
        path = cfg.get(key)
        if path is None and optional:
            continue
        try:
            ok = callable(import_string(str(path)))
        except (ImportError, TypeError, ValueError) as exc:
            ok, why = False, str(exc)
        else:
            why = "not callable"
        if not ok:
            messages.append(Error(f'RECO_APP["{key}"] = {path!r} is not an importable function: {why}', id="reco_app.E013"))
    return messages


def _unknown_keys(user: dict[str, Any]) -> Messages:
    unknown = sorted(set(user) - set(conf.DEFAULTS))
    if not unknown:
        return []
    return [Warning(f"RECO_APP has unknown keys {unknown}; they are ignored (a typo?).", hint="See the settings reference for the known keys.", id="reco_app.W005")]


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> Messages:
    user = getattr(settings, "RECO_APP", {})
    if user is not None and not isinstance(user, dict):
        return [Error("RECO_APP must be a dict.", id="reco_app.E014")]
    cfg = conf.get_config()
    model, messages = _product_model(cfg)
    adapter, adapter_messages = _adapter(cfg)
    messages += adapter_messages
    messages += _product_fields(cfg, model, adapter)
    parts: list[Callable[[dict[str, Any]], Messages]] = [_mapping, _numbers, _infrastructure]
    for part in parts:
        messages += part(cfg)
    messages += _unknown_keys(user or {})
    return messages
