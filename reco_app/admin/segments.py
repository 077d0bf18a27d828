"""Admin for segments: sizes and size over time, members, a shopper's segments, manual editing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from reco_app import conf
from reco_app.models import (
    CatalogItem,
    Segment,
    SegmentKind,
    SegmentMembership,
    SegmentSizeSnapshot,
)
from reco_app.segments import manual
from reco_app.segments.charts import sparkline
from reco_app.segments.lifecycle import STAGES

HISTORY_DAYS = 60


def _category_choices() -> list[tuple[str, str]]:
    names = CatalogItem.objects.exclude(category="").values_list("category", flat=True).distinct().order_by("category")
    return [("", "—")] + [(c, c) for c in names]


class ManualSegmentForm(forms.ModelForm):
    """Conditions as plain form fields; they are stored as the segment's definition."""

    match = forms.ChoiceField(label=_("Shoppers must match"), choices=[("all", _("all conditions")), ("any", _("any condition"))], initial="all")
    bought_category = forms.ChoiceField(label=_("Bought from category"), required=False)
    viewed_category = forms.ChoiceField(label=_("Viewed category"), required=False)
    min_total_spend = forms.FloatField(label=_("Total spend at least"), required=False, min_value=0)
    min_orders = forms.IntegerField(label=_("Orders at least"), required=False, min_value=0)
    visited_within_days = forms.IntegerField(label=_("Visited in the last N days"), required=False, min_value=0)
    not_visited_for_days = forms.IntegerField(label=_("No visit for more than N days"), required=False, min_value=0)
    lifecycle = forms.ChoiceField(label=_("Lifecycle stage"), required=False, choices=[("", "—")] + [(k, n) for k, n, _d in STAGES])
    rfm = forms.ChoiceField(label=_("RFM segment"), required=False)

    FIELD_CONDITIONS = {
        "bought_category": ("bought_category", None),
        "viewed_category": ("viewed_category", None),
        "min_total_spend": ("total_spend", "gte"),
        "min_orders": ("orders", "gte"),
        "visited_within_days": ("days_since_visit", "lte"),
        "not_visited_for_days": ("days_since_visit", "gt"),
        "lifecycle": ("lifecycle", None),
        "rfm": ("rfm", None),
    }

    class Meta:
        model = Segment
        fields = ["name", "key", "description", "enabled"]
        help_texts = {"key": _('Leave empty to derive "manual:<name>" from the name.')}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].required = False
        choices = _category_choices()
        for name in ("bought_category", "viewed_category"):
            self.fields[name].choices = choices  # type: ignore[attr-defined]
        rfm_names = [(key, name) for key, name, *_scores in conf.get("SEGMENTS_RFM_NAMES")]
        self.fields["rfm"].choices = [("", "—"), *rfm_names]  # type: ignore[attr-defined]
        definition = self.instance.definition or {}
        self.fields["match"].initial = definition.get("match", "all")
        for cond in definition.get("conditions", []):
            for name, (field, op) in self.FIELD_CONDITIONS.items():
                if cond.get("field") == field and cond.get("op", op) == op:
                    self.fields[name].initial = cond.get("value")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        conditions = []
        for name, (field, op) in self.FIELD_CONDITIONS.items():
            value = data.get(name)
            if value not in (None, ""):
                conditions.append({"field": field, "value": value, **({"op": op} if op else {})})
        definition = {"match": data.get("match") or "all", "conditions": conditions}
        for problem in manual.validate(definition):
            self.add_error(None, problem)
        self.instance.definition = definition
        self.instance.kind = SegmentKind.MANUAL
        if not data.get("key") and data.get("name"):
            data["key"] = f"manual:{slugify(data['name'])}"
        elif data.get("key") and not data["key"].startswith("manual:"):
            data["key"] = f"manual:{data['key']}"
        return data


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "kind", "size", "trend", "enabled", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["key", "name", "description"]
    actions = ["recompute"]
    readonly_fields = ["name", "key", "kind", "description", "definition_text", "size_history", "members_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        now = timezone.now()
        current = Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now)
        return super().get_queryset(request).annotate(_size=Count("memberships", filter=current))

    def get_form(self, request: HttpRequest, obj: Segment | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None or obj.kind == SegmentKind.MANUAL:
            kwargs["form"] = ManualSegmentForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Segment | None = None) -> Any:
        if obj is None or obj.kind == SegmentKind.MANUAL:
            conditions = ["match", "bought_category", "viewed_category", "min_total_spend", "min_orders", "visited_within_days", "not_visited_for_days", "lifecycle", "rfm"]
            sets: list[Any] = [(None, {"fields": ["name", "key", "description", "enabled"]}), (_("Conditions"), {"fields": conditions})]
            if obj is not None:
                sets.append((_("Members"), {"fields": ["definition_text", "size_history", "members_link"]}))
            return sets
        return [(None, {"fields": ["name", "key", "kind", "description", "enabled"]}), (_("Members"), {"fields": ["size_history", "members_link"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Segment | None = None) -> list[str]:
        if obj is None or obj.kind == SegmentKind.MANUAL:
            return ["definition_text", "size_history", "members_link"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        if form.cleaned_data.get("key"):
            obj.key = form.cleaned_data["key"]
        super().save_model(request, obj, form, change)
        if obj.kind == SegmentKind.MANUAL:
            from reco_app.segments.service import recompute_manual

            size = recompute_manual(obj)
            self.message_user(request, _("%(n)d shoppers match this segment now.") % {"n": size}, messages.SUCCESS)

    @admin.display(description=_("members"), ordering="_size")
    def size(self, obj: Segment) -> int:
        return obj._size  # type: ignore[attr-defined]

    def _history(self, obj: Segment) -> list[tuple[Any, int]]:
        since = timezone.now().date() - dt.timedelta(days=HISTORY_DAYS)
        return list(SegmentSizeSnapshot.objects.filter(segment=obj, day__gte=since).order_by("day").values_list("day", "size"))

    @admin.display(description=_("size over time"))
    def trend(self, obj: Segment) -> str:
        history = self._history(obj)
        return sparkline([s for _d, s in history], title=f"{obj.name}: {', '.join(str(s) for _d, s in history[-7:])}")

    @admin.display(description=_("size over time"))
    def size_history(self, obj: Segment) -> str:
        history = self._history(obj)
        if not history:
            return str(_("No snapshots yet: run the batch recomputation (manage.py reco_segments)."))
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", ((d.isoformat(), s) for d, s in reversed(history[-14:])))
        return format_html('{}<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>', sparkline([s for _d, s in history], 360, 60, obj.name), _("day"), _("size"), rows)

    @admin.display(description=_("members"))
    def members_link(self, obj: Segment) -> str:
        url = reverse("admin:reco_app_segmentmembership_changelist") + f"?segment__id__exact={obj.pk}"
        lookup = reverse("admin:reco_app_segments_shopper")
        return format_html('<a href="{}">{}</a> · <a href="{}">{}</a>', url, _("List the members"), lookup, _("Look up a shopper's segments"))

    @admin.display(description=_("conditions"))
    def definition_text(self, obj: Segment) -> str:
        return manual.describe(obj.definition) if obj.definition.get("conditions") else "–"

    @admin.action(description=_("Recompute all batch segments now"))
    def recompute(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        from reco_app.segments.service import recompute_all

        report = recompute_all()
        self.message_user(request, _("Segments recomputed for %(n)d shoppers in %(s).1f s.") % {"n": report.shoppers, "s": sum(report.timings.values())})


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(admin.ModelAdmin):
    list_display = ["shopper", "segment", "score", "reason", "computed_at", "expires_at"]
    list_filter = ["segment__kind", "segment"]
    search_fields = ["=subject"]
    list_select_related = ["segment"]
    readonly_fields = ["segment", "subject", "score", "reason", "computed_at", "expires_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("subject"), ordering="subject")
    def shopper(self, obj: SegmentMembership) -> str:
        url = reverse("admin:reco_app_segments_shopper") + "?" + urlencode({"subject": obj.subject})
        return format_html('<a href="{}" title="{}">{}</a>', url, _("All segments of this shopper"), obj.subject)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.shopper_view)
        return [path("shopper/", view, name="reco_app_segments_shopper"), *super().get_urls()]

    def shopper_view(self, request: HttpRequest) -> HttpResponse:
        """One shopper's segments now (live and batch), with why and until when: for staff
        who may view segment memberships, as the list of them."""
        from django.core.exceptions import PermissionDenied

        from reco_app.segments.service import segments_for

        if not self.has_view_permission(request):
            raise PermissionDenied

        subject = request.GET.get("subject", "").strip()[:128]
        rows = list(SegmentMembership.objects.current().filter(subject=subject).select_related("segment").order_by("segment__kind", "segment__key")) if subject else []
        context = {
            **self.admin_site.each_context(request),
            "title": _("A shopper's segments"),
            "opts": self.model._meta,
            "subject": subject,
            "rows": rows,
            "keys": segments_for(subject) if subject else [],
        }
        return TemplateResponse(request, "reco_app/admin/segments_shopper.html", context)
