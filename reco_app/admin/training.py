"""Model versions in the admin: metrics side by side, evaluation table, activate / roll back /
retrain, failures with their error."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from reco_app import conf
from reco_app.models import ModelVersion, SuppressedSubject
from reco_app.training.report import COLUMNS, fmt, header, ordered


def _metric(version: ModelVersion, name: str) -> str:
    k = version.evaluation.get("k", conf.get("TRAINING_EVAL_K"))
    key = name if name in ("auc", "coverage") else f"{name}@{k}"
    return fmt(version.metrics.get(key))


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "status", "kind", "created_at", "precision", "ndcg", "cold_recall", "coverage",
        "n_users", "n_items", "n_interactions", "short_error",
    ]
    list_filter = ["status", "kind"]
    ordering = ["-id"]
    actions = ["activate_version", "roll_back", "retrain"]
    change_list_template = "admin/reco_app/modelversion/change_list.html"
    change_form_template = "admin/reco_app/modelversion/change_form.html"
    readonly_fields = [
        "status", "kind", "parent", "evaluation_table", "metrics", "params", "data_from", "data_until",
        "artifact_name", "sha256", "n_users", "n_items", "n_interactions", "error", "created_at",
        "started_at", "finished_at", "activated_at", "pruned_at",
    ]
    exclude = ["evaluation"]

    @admin.display(description="P@10")
    def precision(self, obj: ModelVersion) -> str:
        return _metric(obj, "precision")

    @admin.display(description="NDCG@10")
    def ndcg(self, obj: ModelVersion) -> str:
        return _metric(obj, "ndcg")

    @admin.display(description=_("cold recall"))
    def cold_recall(self, obj: ModelVersion) -> str:
        return _metric(obj, "cold_recall")

    @admin.display(description=_("coverage"))
    def coverage(self, obj: ModelVersion) -> str:
        return _metric(obj, "coverage")

    @admin.display(description=_("error"))
    def short_error(self, obj: ModelVersion) -> str:
        lines = [line for line in obj.error.strip().splitlines() if line.strip()]
        return lines[-1][:120] if lines else ""

    @admin.display(description=_("evaluation"))
    def evaluation_table(self, obj: ModelVersion) -> str:
        rows = ordered(obj.evaluation.get("rows") or {})
        if not rows:
            return "—"
        k = int(obj.evaluation.get("k", 10))
        head = format_html_join("", "<th>{}</th>", ((h,) for h in ["model", *header(k)]))
        body = format_html_join(
            "", "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((c,) for c in [name, *(fmt(m.get(c)) for c in COLUMNS)])),)
             for name, m in rows.items()),
        )
        note = f"holdout after {obj.evaluation.get('cutoff', '?')}, {obj.evaluation.get('users', 0)} shoppers"
        return format_html('<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table><p>{}</p>', head, body, note)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # --- actions --------------------------------------------------------------------------
    @admin.action(description=_("Activate the selected version"))
    def activate_version(self, request: HttpRequest, queryset: Any) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version to activate."), messages.ERROR)
            return
        self._activate(request, queryset.get())

    @admin.action(description=_("Roll back to the previously active version"))
    def roll_back(self, request: HttpRequest, queryset: Any = None) -> None:
        from reco_app.training.registry import RegistryError, rollback

        try:
            version = rollback()
        except RegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rolled back: {version} is active.", messages.SUCCESS)

    @admin.action(description=_("Retrain now"))
    def retrain(self, request: HttpRequest, queryset: Any = None) -> None:
        from reco_app.training.tasks import train_full

        train_full.delay()
        self.message_user(request, _("A full retrain was queued."), messages.SUCCESS)

    def _activate(self, request: HttpRequest, version: ModelVersion) -> None:
        from reco_app.training.registry import RegistryError, activate

        try:
            activate(version)
        except RegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version} is now active.", messages.SUCCESS)

    # --- buttons --------------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/activate/", wrap(require_POST(self.activate_view)), name="reco_app_modelversion_activate"),
            path("rollback/", wrap(require_POST(self.rollback_view)), name="reco_app_modelversion_rollback"),
            path("retrain/", wrap(require_POST(self.retrain_view)), name="reco_app_modelversion_retrain"),
            *super().get_urls(),
        ]

    def _back(self, pk: int | None = None) -> HttpResponseRedirect:
        if pk is not None:
            return HttpResponseRedirect(reverse("admin:reco_app_modelversion_change", args=[pk]))
        return HttpResponseRedirect(reverse("admin:reco_app_modelversion_changelist"))

    def activate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        self._activate(request, get_object_or_404(ModelVersion, pk=pk))
        return self._back(pk)

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        self.roll_back(request)
        return self._back()

    def retrain_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        self.retrain(request)
        return self._back()


@admin.register(SuppressedSubject)
class SuppressedSubjectAdmin(admin.ModelAdmin):
    list_display = ["subject", "created_at", "last_version"]
    search_fields = ["=subject"]
    readonly_fields = ["subject", "created_at", "last_version"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
