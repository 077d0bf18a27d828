"""The shop adapter: everything reco_app needs to know about the shop's catalog.

The default :class:`ShopAdapter` is configured by ``RECO_APP["PRODUCT_MODEL"]`` and
``RECO_APP["PRODUCT_FIELDS"]``; a shop with unusual models subclasses it and names the
subclass in ``RECO_APP["ADAPTER"]``. Resolve it with :func:`get_adapter`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.module_loading import import_string

from reco_app import conf


def _resolve(obj: Any, path: str | None) -> Any:
    """Follow a dotted attribute path, calling callables and reading managers."""
    if not path or obj is None:
        return None
    value: Any = obj
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
        if isinstance(value, models.Manager):
            value = list(value.all())
        elif callable(value):
            value = value()
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


class ShopAdapter:
    """Reads products and shoppers for reco_app. Subclass to customise."""

    # --- products -----------------------------------------------------------------------
    def get_product_model(self) -> type[models.Model]:
        label = conf.get("PRODUCT_MODEL")
        if not label:
            raise ImproperlyConfigured('RECO_APP["PRODUCT_MODEL"] is not set.')
        return apps.get_model(label)

    def field(self, name: str) -> str | None:
        fields: dict[str, str | None] = conf.get("PRODUCT_FIELDS")
        return fields.get(name)

    def get_queryset(self) -> models.QuerySet[Any]:
        qs = self.get_product_model()._default_manager.all()
        related = [
            p.split(".")[0]
            for p in (self.field("category"), self.field("brand"))
            if p and self._is_relation(p.split(".")[0])
        ]
        if related:
            qs = qs.select_related(*related)
        tags = self.field("tags")
        if tags and self._is_m2m(tags.split(".")[0]):
            qs = qs.prefetch_related(tags.split(".")[0])
        return qs

    def _model_field(self, name: str) -> Any:
        try:
            return self.get_product_model()._meta.get_field(name)
        except Exception:
            return None

    def _is_relation(self, name: str) -> bool:
        f = self._model_field(name)
        return bool(f is not None and f.is_relation and (f.many_to_one or f.one_to_one))

    def _is_m2m(self, name: str) -> bool:
        f = self._model_field(name)
        return bool(f is not None and f.many_to_many)

    def product_key(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("key") or "pk"))

    def product_name(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("name")))

    def product_url(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("url")))

    def product_image(self, product: Any) -> str:
        value = _resolve(product, self.field("image"))
        if hasattr(value, "url"):
            try:
                return str(value.url)
            except ValueError:  # an empty FileField
                return ""
        return _as_text(value)

    def product_price(self, product: Any) -> float | None:
        value = _resolve(product, self.field("price"))
        if value is None or value == "":
            return None
        return float(value) if isinstance(value, (int, float, Decimal, str)) else None

    def product_category(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("category")))

    def product_brand(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("brand")))

    def product_tags(self, product: Any) -> list[str]:
        value = _resolve(product, self.field("tags"))
        if value is None:
            return []
        if isinstance(value, str):
            sep = "|" if "|" in value else ","
            items: Iterable[Any] = value.split(sep)
        elif isinstance(value, Iterable):
            items = value
        else:
            items = [value]
        return sorted({str(t).strip().lower() for t in items if str(t).strip()})

    def product_description(self, product: Any) -> str:
        return _as_text(_resolve(product, self.field("description")))

    def product_stock(self, product: Any) -> int | None:
        value = _resolve(product, self.field("stock"))
        if value is None or isinstance(value, bool):
            return None
        return int(value)

    def product_in_stock(self, product: Any) -> bool:
        stock = self.product_stock(product)
        return stock is None or stock > 0

    def product_published(self, product: Any) -> bool:
        path = self.field("published")
        if not path:
            return True
        return bool(_resolve(product, path))

    def product_launched_at(self, product: Any) -> dt.datetime | None:
        value = _resolve(product, self.field("launched_at"))
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        return None

    def snapshot(self, product: Any) -> dict[str, Any]:
        """The compact row reco_app keeps for a product (see ``CatalogItem``)."""
        stock = self.product_stock(product)
        return {
            "product_key": self.product_key(product),
            "object_pk": _as_text(product.pk),
            "name": self.product_name(product)[:255],
            "url": self.product_url(product)[:500],
            "image_url": self.product_image(product)[:500],
            "price": self.product_price(product),
            "category": self.product_category(product)[:120],
            "brand": self.product_brand(product)[:120],
            "tags": self.product_tags(product),
            "description": self.product_description(product),
            "stock": stock,
            "in_stock": stock is None or stock > 0,
            "published": self.product_published(product),
            "launched_at": self.product_launched_at(product),
        }

    def get_products(self, keys: Iterable[str]) -> dict[str, Any]:
        """Shop product objects by product key (missing keys are left out)."""
        keys = list(keys)
        if not keys:
            return {}
        key_path = self.field("key") or "pk"
        qs = self.get_queryset()
        if "." not in key_path and not callable(getattr(self.get_product_model(), key_path, None)):
            lookup = "pk" if key_path == "pk" else key_path
            objs = qs.filter(**{f"{lookup}__in": keys})
            return {self.product_key(o): o for o in objs}
        return {k: o for o in qs if (k := self.product_key(o)) in set(keys)}

    # --- shoppers -----------------------------------------------------------------------
    def customer_key(self, user: Any) -> str:
        """The shop's customer key for a logged-in user.

        Must match the ``user_id`` column of imported event files, so that imported history
        and live history belong to the same shopper. Defaults to the user's primary key.
        """
        return str(user.pk)

    def get_user_for_customer_key(self, key: str) -> Any | None:
        from django.contrib.auth import get_user_model

        User = get_user_model()
        try:
            return User._default_manager.get(pk=key)
        except (User.DoesNotExist, ValueError, TypeError):
            return None


@cache
def get_adapter() -> ShopAdapter:
    cls = import_string(conf.get("ADAPTER"))
    return cls()


@receiver(setting_changed)
def _reset_adapter(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        get_adapter.cache_clear()
