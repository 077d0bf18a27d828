from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CatalogItemQuerySet(models.QuerySet["CatalogItem"]):
    def available(self) -> CatalogItemQuerySet:
        return self.filter(published=True, in_stock=True)


class CatalogItem(models.Model):
    """reco_app's compact copy of one shop product: what the model and the rules need.

    Kept in sync with the shop's product table by signals (``reco_app.catalog``) and by
    ``manage.py reco_sync_catalog``.
    """

    product_key = models.CharField(_("product key"), max_length=64, unique=True)
    object_pk = models.CharField(_("shop object pk"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    url = models.CharField(_("URL"), max_length=500, blank=True)
    image_url = models.CharField(_("image URL"), max_length=500, blank=True)
    price = models.FloatField(_("price"), null=True, blank=True)
    category = models.CharField(_("category"), max_length=120, blank=True, db_index=True)
    brand = models.CharField(_("brand"), max_length=120, blank=True, db_index=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)
    stock = models.IntegerField(_("stock"), null=True, blank=True)
    in_stock = models.BooleanField(_("in stock"), default=True)
    published = models.BooleanField(_("published"), default=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = models.Manager.from_queryset(CatalogItemQuerySet)()

    class Meta:
        verbose_name = _("catalog item")
        verbose_name_plural = _("catalog items")
        ordering = ["product_key"]
        indexes = [
            models.Index(fields=["published", "in_stock"], name="reco_catalog_avail"),
            models.Index(fields=["launched_at"], name="reco_catalog_launched"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.product_key} ({self.product_key})"
