"""Keeps serving's caches honest: each change bumps the cache namespace it invalidates.

(A shopper's ``subject:<key>`` namespace is bumped by the tracking service when their events
are stored, so no receiver here.)"""

from __future__ import annotations

from typing import Any

from reco_app import cache
from reco_app.serving import local_cache

_connected = False


def on_model_activated(sender: Any = None, **kwargs: Any) -> None:
    cache.bump("model")
    local_cache.forget_namespaces()


def on_rules_changed(sender: Any = None, **kwargs: Any) -> None:
    cache.bump("rules")
    local_cache.forget_namespaces()


def on_catalog_changed() -> None:
    from reco_app.serving.catalog_index import invalidate

    invalidate()
    local_cache.forget_namespaces()


def forget_cached_lists(subjects: list[str]) -> int:
    """Privacy erasure: serving stores nothing personal, but drops the shoppers' cached lists."""
    for subject in subjects:
        cache.bump(f"subject:{subject}")
    return 0


def connect() -> None:
    """Called from ``AppConfig.ready()``."""
    global _connected
    if _connected:
        return
    _connected = True
    from reco_app import catalog, privacy, signals
    from reco_app.serving import checks  # noqa: F401  (registers the serving system checks)

    privacy.register("serving", export=lambda subjects: {}, erase=forget_cached_lists)
    catalog.on_catalog_changed(on_catalog_changed)
    signals.model_activated.connect(on_model_activated, dispatch_uid="reco_app_serving_model")
    signals.rules_changed.connect(on_rules_changed, dispatch_uid="reco_app_serving_rules")
