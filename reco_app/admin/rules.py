"""Merchandising admin: rules with their audit trail, plus the preview and dashboard pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reco_app.admin import merchandising_views
from reco_app.models.rules import Rule, RuleChange
from reco_app.rules.service import record_change


class ListField(forms.CharField):
    """A list of short strings typed as "a, b, c" (commas or new lines)."""

    def __init__(self, *, encoder: Any = None, decoder: Any = None, **kwargs: Any) -> None:
        kwargs.pop("max_length", None)  # JSONField.formfield passes these; a list has no use for them
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            items = [str(v) for v in value]
        else:
            text = super().to_python(value) or ""
            items = text.replace("\n", ",").split(",")
        seen: dict[str, None] = {}
        for item in items:
            if item.strip():
                seen.setdefault(item.strip(), None)
        return list(seen)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data or "")


class StatusFilter(admin.SimpleListFilter):
    title = _("status now")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("live", _("live")), ("scheduled", _("scheduled")), ("ended", _("ended")), ("disabled", _("disabled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> QuerySet[Rule]:
        now = timezone.now()
        value = self.value()
        if value == "live":
            return queryset.live_at(now)  # type: ignore[attr-defined,no-any-return]
        if value == "scheduled":
            return queryset.filter(enabled=True, starts_at__gt=now)
        if value == "ended":
            return queryset.filter(enabled=True, ends_at__lte=now)
        if value == "disabled":
            return queryset.filter(enabled=False)
        return queryset


LIST_FIELDS = ("categories", "brands", "tags", "product_keys", "placements", "segments", "devices", "page_categories")


class RuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Media:
        js = ["reco_app/rule_form.js"]

    class Meta:
        model = Rule
        fields = "__all__"
        field_classes = {name: ListField for name in LIST_FIELDS}
        help_texts = {
            "categories": _("Comma-separated category names (any of them)."),
            "brands": _("Comma-separated brand names (any of them)."),
            "tags": _("Comma-separated tags (any of them)."),
            "product_keys": _("Comma-separated product keys."),
            "placements": _("Comma-separated placement names; empty = every placement."),
            "segments": _("Comma-separated segment keys; empty = every shopper."),
            "devices": _("desktop, mobile, tablet; empty = every device."),
            "page_categories": _("Category of the page shown; empty = every page."),
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class RuleChangeInline(admin.TabularInline):  # type: ignore[type-arg]
    model = RuleChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "user", "kind", "diff")
    verbose_name_plural = _("history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RuleForm
    change_list_template = "admin/reco_app/rule/change_list.html"
    change_form_template = "admin/reco_app/rule/change_form.html"
    list_display = ["name", "status", "enabled", "priority", "action", "summary", "starts_at", "ends_at", "updated_at"]
    list_display_links = ["name"]
    list_editable = ["enabled", "priority"]
    list_filter = [StatusFilter, "enabled", "action", ("starts_at", admin.DateFieldListFilter), ("ends_at", admin.DateFieldListFilter)]
    search_fields = ["name", "description", "pin_product_key"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RuleChangeInline]
    actions = ["enable_rules", "disable_rules"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled", "priority", "action"]}),
        (
            _("Action"),
            {
                "fields": [("position", "pin_product_key"), ("factor", "additive"), ("cap_count", "cap_by")],
                "description": _(
                    "Pin: position and product (or the best product matching the condition). "
                    "Boost/bury: factor and/or additive amount. Cap: how many per brand or category."
                ),
            },
        ),
        (
            _("Which products (condition)"),
            {
                "fields": [
                    ("categories", "brands", "tags"),
                    ("price_min", "price_max"),
                    ("stock_min", "stock_max"),
                    ("launched_after", "launched_before", "launched_within_days"),
                    "product_keys",
                ],
                "description": _("Every criterion given must hold; a list matches any of its entries."),
            },
        ),
        (_("Where and for whom (scope)"), {"fields": ["placements", "segments", "devices", "page_categories"]}),
        (_("Schedule"), {"fields": [("starts_at", "ends_at")]}),
        (_("Timestamps"), {"fields": [("created_at", "updated_at")], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("status now"))
    def status(self, obj: Rule) -> str:
        now = timezone.now()
        if not obj.enabled:
            return str(_("disabled"))
        if obj.starts_at and now < obj.starts_at:
            return str(_("scheduled"))
        if obj.ends_at and now >= obj.ends_at:
            return str(_("ended"))
        return str(_("live"))

    @admin.display(description=_("what"))
    def summary(self, obj: Rule) -> str:
        if obj.action == Rule.Action.PIN:
            return f"#{obj.position} ← {obj.pin_product_key or _('best match')}"
        if obj.action in (Rule.Action.BOOST, Rule.Action.BURY):
            return f"×{obj.factor:g} {'+' if obj.action == 'boost' else '−'}{obj.additive:g}"
        if obj.action == Rule.Action.CAP:
            return f"≤ {obj.cap_count} / {obj.cap_by}"
        return ""

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Rule], enabled: bool) -> None:
        changed = 0
        for rule in queryset.exclude(enabled=enabled):
            before = rule.as_dict()
            rule.enabled = enabled
            try:
                rule.full_clean()
            except ValidationError as exc:
                self.message_user(request, f"{rule.name}: {'; '.join(exc.messages)}", messages.ERROR)
                continue
            rule.save()  # one by one: each save is audited, bumps the cache and is signalled
            record_change(rule, request.user, before)
            changed += 1
        self.message_user(request, _("%(n)d rules changed.") % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("Enable selected rules"), permissions=["change"])
    def enable_rules(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected rules"), permissions=["change"])
    def disable_rules(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        self._set_enabled(request, queryset, False)

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        before = Rule.objects.get(pk=obj.pk).as_dict() if change and obj.pk else None
        super().save_model(request, obj, form, change)
        record_change(obj, request.user, before)

    def delete_model(self, request: HttpRequest, obj: Rule) -> None:
        record_change(obj, request.user, None, deleted=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for obj in queryset:
            record_change(obj, request.user, None, deleted=True)
        for obj in queryset:  # one by one so every deletion bumps the cache and is signalled
            obj.delete()

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path("preview/", site.admin_view(merchandising_views.preview_view(site)), name="reco_app_rule_preview"),
            path("dashboard/", site.admin_view(merchandising_views.dashboard_view(site)), name="reco_app_dashboard"),
            *super().get_urls(),
        ]


@admin.register(RuleChange)
class RuleChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["at", "rule_name", "kind", "user"]
    list_filter = ["kind", ("at", admin.DateFieldListFilter)]
    search_fields = ["rule_name"]
    readonly_fields = ["rule", "rule_name", "user", "kind", "diff", "at"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
