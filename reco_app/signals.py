"""Signal wiring: keeps the catalog snapshot in sync with the shop's product table."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

_connected: set[int] = set()


def _on_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # loaddata
        return
    from reco_app.catalog import sync_product

    sync_product(instance)


def _on_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    from reco_app.catalog import remove_product

    remove_product(instance)


def _on_m2m(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        from reco_app.catalog import sync_product

        sync_product(instance)


def connect_catalog_signals() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from reco_app.adapter import get_adapter

    try:
        adapter = get_adapter()
        model = adapter.get_product_model()
    except (ImproperlyConfigured, LookupError, ImportError):
        return  # reported by the system checks
    if id(model) in _connected:
        return
    _connected.add(id(model))
    post_save.connect(_on_save, sender=model, dispatch_uid="reco_app_catalog_save")
    post_delete.connect(_on_delete, sender=model, dispatch_uid="reco_app_catalog_delete")
    tags = adapter.field("tags")
    if tags and adapter._is_m2m(tags.split(".")[0]):
        through = getattr(model, tags.split(".")[0]).through
        m2m_changed.connect(_on_m2m, sender=through, dispatch_uid="reco_app_catalog_tags")


# --- signals other areas listen to ------------------------------------------------------
from django.dispatch import Signal  # noqa: E402

#: Sent by the tracking service after events are durably stored (after commit).
#: kwargs: ``events`` (list of saved ``Event`` rows).
event_stored = Signal()

#: Sent by the model registry after a version becomes active. kwargs: ``version``.
model_activated = Signal()

#: Sent when merchandising rules change. kwargs: ``rule`` (may be None).
rules_changed = Signal()

#: Sent by the shop (or reco_app.track) when an order is placed. kwargs: ``request``,
#: ``order``, ``lines`` (iterable of (product, quantity, unit_price)), ``user``.
order_placed = Signal()
