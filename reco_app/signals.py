"""Signal wiring: keeps the catalog snapshot in sync with the shop's product table."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

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


def _on_related_save(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """A category or brand changed: its products' snapshot rows show its name."""
    if raw:
        return
    from reco_app.adapter import get_adapter
    from reco_app.catalog import sync_products

    adapter = get_adapter()
    for name in _relations_to(adapter, sender):
        sync_products(adapter.get_queryset().filter(**{name: instance}))


def _on_related_pre_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    # After the delete the products no longer point at it (SET_NULL sends no signals).
    from reco_app.adapter import get_adapter

    adapter = get_adapter()
    model = adapter.get_product_model()
    pks: list[Any] = []
    for name in _relations_to(adapter, sender):
        pks += model._default_manager.filter(**{name: instance}).values_list("pk", flat=True)
    instance._reco_product_pks = pks


def _on_related_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    from reco_app.adapter import get_adapter
    from reco_app.catalog import sync_products

    pks = getattr(instance, "_reco_product_pks", None)
    if pks:
        sync_products(get_adapter().get_queryset().filter(pk__in=pks))


def _relations_to(adapter: Any, related: Any) -> list[str]:
    """Names of the product's foreign keys to ``related`` that a PRODUCT_FIELDS path reads."""
    names = []
    for path in (adapter.field(f) for f in ("category", "brand", "tags", "published", "stock", "price", "name")):
        if not path:
            continue
        field = adapter._model_field(path.split(".")[0])
        if field is not None and field.is_relation and (field.many_to_one or field.one_to_one) and field.related_model is related:
            names.append(field.name)
    return sorted(set(names))


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
    related = {f.related_model for f in model._meta.get_fields() if f.is_relation and (f.many_to_one or f.one_to_one) and f.concrete}
    for other in related:
        if other is None or not _relations_to(adapter, other):
            continue
        uid = f"reco_app_catalog_{other._meta.label_lower}"
        post_save.connect(_on_related_save, sender=other, dispatch_uid=f"{uid}_save")
        pre_delete.connect(_on_related_pre_delete, sender=other, dispatch_uid=f"{uid}_pre_delete")
        post_delete.connect(_on_related_delete, sender=other, dispatch_uid=f"{uid}_delete")
    tags = adapter.field("tags")
    if tags and adapter._is_m2m(tags.split(".")[0]):
        through = getattr(model, tags.split(".")[0]).through
        m2m_changed.connect(_on_m2m, sender=through, dispatch_uid="reco_app_catalog_tags")


# --- signals other areas listen to ------------------------------------------------------
from django.dispatch import Signal

#: Sent by the tracking service after events are durably stored (after commit), once the
#: shoppers' cache namespaces are bumped. kwargs: ``events`` (list of saved ``Event``
#: rows), ``live_queued`` (True when the live-segment rules were queued with the bump, or
#: when deciding which to run failed and was logged; False when they are left to the
#: receiver that runs them where the events are stored, or no rule is relevant),
#: ``live_relevant`` (False when no live-segment rule looks at these events: impressions,
#: say; the receiver that runs the rules then has nothing to do).
event_stored = Signal()

#: Sent by the model registry after a version becomes active. kwargs: ``version``.
model_activated = Signal()

#: Sent when merchandising rules change. kwargs: ``rule`` (may be None).
rules_changed = Signal()

#: Sent by the shop (or reco_app.track) when an order is placed. kwargs: ``request``,
#: ``order``, ``lines`` (iterable of (product, quantity, unit_price)), ``user``.
order_placed = Signal()
