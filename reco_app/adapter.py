"""The shop adapter: everything reco_app needs to know about the shop's catalog.

The default :class:`ShopAdapter` is configured by ``RECO_APP["PRODUCT_MODEL"]`` and
``RECO_APP["PRODUCT_FIELDS"]``; a shop with unusual models subclasses it and names the
subclass in ``RECO_APP["ADAPTER"]``. Resolve it with :func:`get_adapter`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from reco_app import conf


def _resolve(obj: Any, path: str | None) -> Any:
    """Follow a dotted attribute path, calling callables and reading managers.

    Past a many-valued step (a related manager, a list) the rest of the path is read
    on each item: ``"tags.name"`` gives the names of an M2M's tags.
    """
    if not path or obj is None:
        return None
    return _follow(obj, path.split("."))


def _follow(value: Any, parts: list[str]) -> Any:
    for i, part in enumerate(parts):
        value = getattr(value, part, None)
        if value is None:
            return None
        if isinstance(value, models.Manager):
            value = list(value.all())
        elif callable(value):
            value = value()
        if isinstance(value, (list, tuple)) and i + 1 < len(parts):
            rest = parts[i + 1 :]
            return [v for item in value if (v := _follow(item, rest)) is not None]
    return value


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_number(value: Any, kind: type[int | float]) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


#: Length of the ``subject`` columns (events, consent records, segment memberships).
SUBJECT_MAX = 128
_DIGEST_CHARS = 32  # 128 bits of SHA-256


def customer_subject(key: str) -> str:
    """The subject a customer key is stored under: the key itself when it fits the
    ``subject`` columns (128 characters), else its first 95 characters, ``~`` and 32 hex
    digits of the SHA-256 of the whole key — 128 characters, the same for the same key
    whichever path brings it (``adapter.customer_key``, the event API, the imports), and
    unchanged when shortened again."""
    if len(key) <= SUBJECT_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    return f"{key[:SUBJECT_MAX - _DIGEST_CHARS - 1]}~{digest}"


def _as_aware(value: dt.datetime) -> dt.datetime:
    if settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    if not settings.USE_TZ and timezone.is_aware(value):
        return timezone.make_naive(value, dt.UTC)
    return value


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
        except FieldDoesNotExist:
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
        return _as_number(value, float) if isinstance(value, (int, float, Decimal, str)) else None

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
        """Units in stock; ``None`` means "not tracked" (always available)."""
        value = _resolve(product, self.field("stock"))
        if isinstance(value, bool):  # an "available" flag rather than a count
            return 1 if value else 0
        return _as_number(value, int)

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
            return _as_aware(value)
        if isinstance(value, dt.date):
            return _as_aware(dt.datetime.combine(value, dt.time()))
        return None

    def snapshot(self, product: Any) -> dict[str, Any]:
        """The compact row reco_app keeps for a product (see ``CatalogItem``)."""
        stock = self.product_stock(product)
        return {  # lengths match CatalogItem's columns
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
        wanted = {str(k) for k in keys}
        if not wanted:
            return {}
        key_path = self.field("key") or "pk"
        qs = self.get_queryset()
        field = self.get_product_model()._meta.pk if key_path == "pk" else self._model_field(key_path)
        if field is not None and field.concrete and not field.is_relation:
            valid = []
            for k in wanted:  # an integer key column rejects "abc": such keys match nothing
                try:
                    valid.append(field.to_python(k))
                except ValidationError:
                    continue
            qs = qs.filter(**{f"{field.attname}__in": valid})
        # Otherwise the key is computed (a property, a related field): scan the catalog.
        return {k: o for o in qs if (k := self.product_key(o)) in wanted}

    # --- shoppers -----------------------------------------------------------------------
    def customer_key(self, user: Any) -> str:
        """The shop's customer key for a logged-in user.

        Must match the ``user_id`` column of imported event files, so that imported history
        and live history belong to the same shopper. Defaults to the user's primary key.
        reco_app stores a key longer than 128 characters in the shortened form of
        :func:`customer_subject` (see :func:`subject_of`), as the event API and the
        imports do.
        """
        return str(user.pk)

    def get_user_for_customer_key(self, key: str) -> Any | None:
        from django.contrib.auth import get_user_model

        User = get_user_model()
        try:
            return User._default_manager.get(pk=key)
        except (User.DoesNotExist, ValueError, TypeError, ValidationError):
            return None


@cache
def get_adapter() -> ShopAdapter:
    cls = import_string(conf.get("ADAPTER"))
    return cls()


def is_shortened(subject: str) -> bool:
    """Whether ``subject`` is a long customer key in :func:`customer_subject`'s short form."""
    head, tilde, digest = subject.rpartition("~")
    return (len(subject) == SUBJECT_MAX and bool(tilde) and len(head) == SUBJECT_MAX - _DIGEST_CHARS - 1
            and len(digest) == _DIGEST_CHARS and all(c in "0123456789abcdef" for c in digest))


def user_for_subject(subject: str) -> Any | None:
    """The user a stored customer subject belongs to: the adapter's
    ``get_user_for_customer_key``, else — for a key shortened by :func:`customer_subject`,
    which no adapter can turn back into a user — the user recorded on that subject's events
    or consent records whose key it is now (None when there is none)."""
    user = get_adapter().get_user_for_customer_key(subject)
    if user is not None or not is_shortened(subject):
        return user
    from django.contrib.auth import get_user_model

    from reco_app.models import ConsentRecord, Event

    # the accounts tied to rows under the key: the one whose key it is now (an account that
    # had it before, renamed since, is not its user any more)
    pks = {*Event.objects.filter(subject=subject).exclude(user=None).order_by().values_list("user", flat=True).distinct(),
           *ConsentRecord.objects.filter(subject=subject).exclude(user=None).order_by().values_list("user", flat=True)
           .distinct()}
    return next((u for u in get_user_model()._default_manager.filter(pk__in=pks) if subject_of(u) == subject), None)


def subject_of(user: Any) -> str:
    """The subject a signed-in shopper's data is stored under: their customer key
    (``get_adapter().customer_key(user)``), shortened by :func:`customer_subject` when it is
    longer than the 128-character ``subject`` columns — the one place reco_app turns a user
    into a subject, so every path (request context, login, consent records, serving,
    privacy) agrees with the event API and the imports."""
    return customer_subject(get_adapter().customer_key(user))


def key_of(product: Any) -> str:
    """A product's key, wherever reco_app takes "a product object or its key": a string is
    already the key, ``None`` is "" (no product), anything else goes to the shop adapter's
    ``product_key``."""
    if product is None:
        return ""
    if isinstance(product, str):
        return str.__str__(product)  # a plain str, also of a subclass (a template's SafeString)
    return get_adapter().product_key(product)


@receiver(setting_changed)
def _reset_adapter(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        get_adapter.cache_clear()
