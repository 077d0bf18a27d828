"""Consent buttons (accept / refuse / one-click withdrawal) and the shopper's "my data" page."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from reco_app import conf
from reco_app.consent import privacy, service
from reco_app.erasure import CacheUnavailable, ErasureBusy
from reco_app.models import ConsentRecord
from reco_app.tracking.context import get_context


def _back(request: HttpRequest, default: str = "/") -> HttpResponse:
    target = request.POST.get("next") or request.headers.get("Referer") or default
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = default
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    return HttpResponseRedirect(target)


@require_POST
def accept(request: HttpRequest) -> HttpResponse:
    response = _back(request)
    service.grant(request, response)
    return response


@require_POST
def refuse(request: HttpRequest) -> HttpResponse:
    """Refuse (from the banner) or withdraw (from anywhere): one POST, effective next request."""
    response = _back(request)
    service.refuse(request, response, withdrawal=request.POST.get("withdraw") == "1")
    return response


@login_required
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    subjects = privacy.subjects_for_user(request.user)
    context = {
        "base_template": conf.get("PAGE_BASE_TEMPLATE"),
        "event_count": privacy.count_events(subjects),  # (what the export lists)
        "consent": get_context(request).consent,
        "consent_records": ConsentRecord.objects.for_user(request.user)[:20],
        "erased": request.GET.get("erased") == "1",
    }
    return render(request, "reco_app/privacy/my_data.html", context)


@login_required
@require_GET
def my_data_export(request: HttpRequest) -> HttpResponse:
    document = privacy.export(privacy.subjects_for_user(request.user))
    response = HttpResponse(json.dumps(document, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@login_required
@require_POST
def my_data_erase(request: HttpRequest) -> HttpResponse:
    if request.POST.get("confirm") != "1":
        return HttpResponse("Tick the confirmation box to erase your data.", status=400)
    try:
        privacy.erase(privacy.subjects_for_user(request.user))
    except ErasureBusy as exc:
        why = "our systems could not all be reached" if isinstance(exc, CacheUnavailable) else (
            "a scheduled job is updating it")
        busy = HttpResponse(
            f"Your data could not be erased just now because {why}. "
            "Nothing was erased; please try again in a minute.", status=503, content_type="text/plain; charset=utf-8",
        )
        busy["Retry-After"] = "60"
        return busy
    response = HttpResponseRedirect(request.path.rsplit("erase/", 1)[0] + "?erased=1")
    response.delete_cookie(conf.get("VISITOR_COOKIE_NAME"), samesite="Lax")
    response.reco_skip_cookie = True  # type: ignore[attr-defined]
    return response
