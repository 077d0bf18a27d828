"""The same-site beacon endpoint reco.js posts to."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reco_app import conf
from reco_app.tracking.body import BodyError, read_json
from reco_app.tracking.ingest import ingest_browser


def _same_site(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    if origin:
        return origin == f"{request.scheme}://{request.get_host()}" or CsrfViewMiddleware(
            lambda r: HttpResponse()
        )._origin_verified(request)
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


def _csrf_ok(request: HttpRequest, token: Any) -> bool:
    # Beacons cannot set headers, so the token travels in the payload; Django's own
    # CSRF check then runs on it as if it had come in the X-CSRFToken header.
    if not isinstance(token, str) or not token or len(token) > 128:
        return False
    request.META["HTTP_X_CSRFTOKEN"] = token
    request.csrf_processing_done = False  # type: ignore[attr-defined]
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    return check.process_view(request, lambda r: None, (), {}) is None


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@csrf_exempt
@require_POST
def beacon(request: HttpRequest) -> HttpResponse:
    """``{"csrf": token, "events": [...]}`` from reco.js: 204 when accepted, 400 lists bad events."""
    if not _same_site(request):
        return _error(403, "Cross-site beacons are not accepted.")
    try:
        payload = read_json(request, conf.get("BEACON_MAX_BYTES"))
    except BodyError as exc:
        return _error(exc.status, exc.message)
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return _error(400, 'Expected {"csrf": "...", "events": [...]}.')
    if not _csrf_ok(request, payload.get("csrf")):
        return _error(403, "CSRF token missing or incorrect.")
    events = payload["events"]
    if len(events) > conf.get("BEACON_MAX_EVENTS"):
        return _error(413, f"At most {conf.get('BEACON_MAX_EVENTS')} events per beacon.")
    result = ingest_browser(request, events, set(conf.get("BEACON_EVENT_TYPES")))
    if result.rejected:
        return JsonResponse(result.as_dict(), status=400)
    return HttpResponse(status=204)
