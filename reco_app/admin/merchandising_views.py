"""Admin pages of the merchandising area: the rules preview and the dashboard.

Both are mounted by ``RuleAdmin.get_urls`` behind ``admin_site.admin_view`` (staff only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from reco_app import conf
from reco_app.models.rules import Rule
from reco_app.rules.dashboard import dashboard

WHO = [("anonymous", _("anonymous visitor")), ("shopper", _("a shopper (customer key)")), ("product", _("a product page"))]


class PreviewForm(forms.Form):
    placement = forms.CharField(label=_("placement"), max_length=64)
    who = forms.ChoiceField(label=_("for"), choices=WHO, initial="anonymous", widget=forms.RadioSelect)
    # any customer key: one over 128 characters is read under its stored, shortened form
    subject = forms.CharField(label=_("customer key"), max_length=1024, required=False)
    product = forms.CharField(label=_("product key"), max_length=64, required=False)
    limit = forms.IntegerField(label=_("how many"), min_value=1, max_value=100, initial=10)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("who") == "shopper" and not data.get("subject"):
            self.add_error("subject", _("Enter the shopper's customer key."))
        if data.get("who") == "product" and not data.get("product"):
            self.add_error("product", _("Enter the product key."))
        return data


def known_placements() -> list[str]:
    from reco_app.serving.placements import placement_names

    names = set(placement_names()) | set(conf.get("RULES_PLACEMENT_LIMITS") or {})
    for rule in Rule.objects.values_list("placements", flat=True):
        names.update(rule or [])
    return sorted(names)


def run_preview(data: dict[str, Any]) -> dict[str, Any]:
    """Call the serving pipeline's preview (see the cross-area contract)."""
    from reco_app.serving.pipeline import preview

    subject = data["subject"] if data["who"] == "shopper" else None
    product = data["product"] if data["who"] == "product" else None
    return preview(subject, data["placement"], limit=data["limit"], product=product)


def preview_view(site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not getattr(request.user, "has_perm", lambda perm: False)("reco_app.view_rule"):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        result: dict[str, Any] | None = None
        error: Any = ""
        if form.is_bound and form.is_valid():
            try:
                result = run_preview(form.cleaned_data)
            except (LookupError, ValueError) as exc:  # unknown placement, bad product, ...
                error = str(exc)
        context = {
            **site.each_context(request),
            "title": _("Preview recommendations with rules"),
            "opts": Rule._meta,
            "form": form,
            "lists": [("before", result.get("before", [])), ("after", result.get("after", []))] if result else [],
            "error": error,
            "placements": known_placements(),
        }
        return TemplateResponse(request, "admin/reco_app/rule/preview.html", context)

    return view


def dashboard_view(site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        try:
            days = min(max(int(request.GET.get("days", "")), 1), 366)
        except ValueError:
            days = int(conf.get("DASHBOARD_DAYS"))
        data = dashboard(days=days)
        context = {
            **site.each_context(request),
            "title": _("Recommendations dashboard"),
            "opts": Rule._meta,
            "data": data,
            "days": days,
            "charts": [
                ("impressions", _("Impressions per placement"), "int"),
                ("clicks", _("Clicks per placement"), "int"),
                ("ctr", _("Click-through rate"), "pct"),
                ("add_to_carts", _("Attributed add-to-carts"), "int"),
                ("revenue", _("Attributed revenue"), "money"),
                ("ingestion", _("Events stored vs dropped for lack of consent"), "int"),
            ],
        }
        return TemplateResponse(request, "admin/reco_app/dashboard.html", context)

    return view
