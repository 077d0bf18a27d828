from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from reco_app.admin.catalog import EventAdmin, PrivacyActionPermissions
from reco_app.consent import privacy
from reco_app.erasure import ErasureBusy
from reco_app.models import ConsentRecord


def _subjects(queryset: QuerySet[Any]) -> list[str]:
    """Every subject key of the people of the selected rows (events or consent records),
    expanded by ``privacy.expand_subjects``: a row tied to an account names that account
    (its subject may be a key the account had before and another one has now), any other
    row its subject."""
    if not any(f.name == "user" for f in queryset.model._meta.concrete_fields):
        return privacy.expand_subjects([s for s in queryset.order_by().values_list("subject", flat=True).distinct() if s])
    from django.contrib.auth import get_user_model

    rows = set(queryset.order_by().values_list("subject", "user").distinct())
    selected = [subject for subject, user in rows if subject and user is None]
    users = list(get_user_model()._default_manager.filter(pk__in={user for _, user in rows if user is not None}))
    return privacy.expand_subjects(selected, users)


@admin.action(description="Export all data of the selected shoppers (JSON)", permissions=["privacy_export"])
def export_subjects(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
    document = privacy.export(_subjects(queryset))
    response = HttpResponse(json.dumps(document, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="reco-export.json"'
    return response


@admin.action(description="Erase all data of the selected shoppers", permissions=["privacy_erase"])
def erase_subjects(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    subjects = _subjects(queryset)
    try:
        counts = privacy.erase(subjects)
    except ErasureBusy as exc:
        modeladmin.message_user(request, f"Nothing was erased: {exc}", messages.ERROR)
        return
    modeladmin.message_user(request, f"Erased data of {len(subjects)} shopper(s): {counts}", messages.SUCCESS)


# The event list is where staff find a shopper; give it the privacy actions too.
EventAdmin.actions = [*(EventAdmin.actions or []), export_subjects, erase_subjects]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(PrivacyActionPermissions, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["created_at", "user", "subject", "purpose", "granted", "policy_version", "method"]
    list_filter = ["granted", "method", "purpose", "policy_version"]
    search_fields = ["subject", "user__username"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at"]
    actions = [export_subjects, erase_subjects]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # proof of consent is never edited
