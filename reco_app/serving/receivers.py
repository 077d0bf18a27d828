"""Keeps serving's caches honest: each change signal bumps the namespace it invalidates.

``model_activated`` → "model", ``rules_changed`` → "rules" (whoever sends them: the registry,
the rules service, a shop's own rules stage). A shopper's ``subject:<key>`` namespace is bumped
by the tracking service when their events are stored and by the privacy holders on erasure."""

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


def connect() -> None:
    """Called from ``AppConfig.ready()``."""
    global _connected
    if _connected:
        return
    _connected = True
    from reco_app import catalog, signals
    from reco_app.serving import checks  # noqa: F401  (registers the serving system checks)

    catalog.on_catalog_changed(on_catalog_changed)
    signals.model_activated.connect(on_model_activated, dispatch_uid="reco_app_serving_model")
    signals.rules_changed.connect(on_rules_changed, dispatch_uid="reco_app_serving_rules")
