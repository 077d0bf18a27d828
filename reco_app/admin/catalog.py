from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from reco_app.models import CatalogItem, Event


class StockLevelFilter(admin.SimpleListFilter):
    title = _("stock level")
    parameter_name = "stock_level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("out", _("out of stock")), ("low", _("low (1–5)")), ("ok", _("more than 5")), ("untracked", _("not tracked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CatalogItem]) -> QuerySet[CatalogItem]:
        value = self.value()
        if value == "out":
            return queryset.filter(stock__lte=0)
        if value == "low":
            return queryset.filter(stock__gte=1, stock__lte=5)
        if value == "ok":
            return queryset.filter(stock__gt=5)
        if value == "untracked":
            return queryset.filter(stock__isnull=True)
        return queryset


@admin.register(CatalogItem)
class CatalogItemAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The catalog snapshot: read-only here (edit products in the shop; the snapshot follows)."""

    list_display = ["product_key", "name", "category", "brand", "price", "stock", "in_stock", "published", "launched_at", "preview"]
    list_filter = ["in_stock", "published", StockLevelFilter, ("launched_at", admin.DateFieldListFilter), "category", "brand"]
    search_fields = ["product_key", "name", "brand", "category"]
    readonly_fields = [f.name for f in CatalogItem._meta.fields]
    date_hierarchy = "launched_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("recommendations"))
    def preview(self, obj: CatalogItem) -> str:
        params: dict[str, str | int] = {"placement": "product", "who": "product", "product": obj.product_key, "limit": 10}
        query = urlencode(params)
        return format_html('<a href="{}?{}">{}</a>', reverse("admin:reco_app_rule_preview"), query, _("preview"))


class PrivacyActionPermissions:
    """Who may run the privacy actions (on events and on consent records): an export holds a
    shopper's events and consent records, an erasure deletes both (and everything derived),
    so each needs the permissions of both, whichever list it is run from."""

    def has_privacy_export_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perms(["reco_app.view_event", "reco_app.view_consentrecord"]))

    def has_privacy_erase_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perms(["reco_app.delete_event", "reco_app.delete_consentrecord"]))


class EventSourceFilter(admin.SimpleListFilter):
    """The capture paths, listed without reading the table (Django's default filter for a
    plain field scans every event for its distinct values, on every page of the list)."""

    title = _("source")
    parameter_name = "source"
    SOURCES = (("browser", _("browser (reco.js)")), ("server", _("server (track())")), ("api", _("event API")),
               ("link", _("recommendation link")), ("import", _("import")))

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return self.SOURCES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(PrivacyActionPermissions, admin.ModelAdmin):  # type: ignore[type-arg]
    """The event store: read-only (events are facts); privacy actions per shopper.

    The list stays quick on a large table: no ``date_hierarchy`` (its links are the distinct
    months of every listed event, a scan of the whole table on each page), no full count,
    and filters that read nothing; the time filter asks the timestamp index for a range."""

    list_display = ["timestamp", "event_type", "subject", "product_key", "placement", "value", "consent", "source"]
    list_filter = ["event_type", "consent", EventSourceFilter, ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["subject", "product_key", "=event_id", "session_id", "=visitor_id"]
    readonly_fields = [f.name for f in Event._meta.fields]
    list_select_related = False
    show_full_result_count = False
    actions = ["export_shoppers", "erase_shoppers"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("placement"))
    def placement(self, obj: Event) -> str:
        return str((obj.context or {}).get("placement", ""))

    @admin.action(description=_("Export the personal data of these events' shoppers"), permissions=["privacy_export"])
    def export_shoppers(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse:
        from reco_app.admin.tracking import _subjects
        from reco_app.consent import privacy

        data = privacy.export(_subjects(queryset))
        response = HttpResponse(json.dumps(data, indent=2, default=str), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="reco-personal-data.json"'
        return response

    @admin.action(description=_("Erase the personal data of these events' shoppers"), permissions=["privacy_erase"])
    def erase_shoppers(self, request: HttpRequest, queryset: QuerySet[Event]) -> HttpResponse | None:
        from reco_app.admin.tracking import _subjects
        from reco_app.consent import privacy
        from reco_app.erasure import ErasureBusy

        subjects = _subjects(queryset)
        if not request.POST.get("confirm"):
            context = {
                **self.admin_site.each_context(request),
                "title": _("Erase personal data?"),
                "opts": self.model._meta,
                "subjects": subjects,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action": "erase_shoppers",
            }
            return TemplateResponse(request, "admin/reco_app/event/erase_confirmation.html", context)
        try:
            counts = privacy.erase(subjects)  # one transaction, like every erasure
        except ErasureBusy as exc:
            self.message_user(request, _("Nothing was erased: %(why)s") % {"why": exc}, messages.ERROR)
            return None
        self.message_user(
            request,
            _("Erased the data of %(n)d shoppers: %(counts)s") % {"n": len(subjects), "counts": counts or "-"},
            messages.SUCCESS,
        )
        return None
