"""The same-site beacon endpoint reco.js posts to."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import (
    CsrfViewMiddleware,
    InvalidTokenFormat,
    RejectRequest,
    rotate_token,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reco_app import conf
from reco_app.memo import Bounded
from reco_app.tracking.body import BodyError, read_json_sized
from reco_app.tracking.ingest import ingest_browser

# Django's own CSRF checks (stateless: one instance serves every request)
_CSRF = CsrfViewMiddleware(lambda r: HttpResponse())


def _same_site(request: HttpRequest) -> bool:
    """Origin checked as Django's CSRF middleware does (the host, ``CSRF_TRUSTED_ORIGINS``);
    without an Origin header, only a same-origin ``Sec-Fetch-Site`` is accepted. Either way
    the Host must be one of ours (``ALLOWED_HOSTS``), as CommonMiddleware demands before any
    view runs: DisallowedHost is answered 400 by Django's exception handling, on the fast
    path too (Django's origin check alone lets a trusted origin through whatever the Host)."""
    request.get_host()
    if request.META.get("HTTP_ORIGIN"):
        return bool(_CSRF._origin_verified(request))  # type: ignore[attr-defined]  # Django's own check
    return request.META.get("HTTP_SEC_FETCH_SITE") == "same-origin"


#: how much larger than its JSON text a parsed value can be when encoded compactly again
BODY_EXPANSION = 5

#: (CSRF cookie, payload token) pairs Django's check accepted. A page sends its beacons
#: with one token and one cookie, and the check is a pure function of the two: unmasking
#: and comparing them again in constant time, and parsing ``request.POST`` for a form
#: token a beacon never has, cost more than the rest of the beacon's checks. Successes
#: only, per process, bounded; forgotten when settings change (the cookie's name).
_CSRF_PASSED: Bounded[tuple[str, str], bool] = Bounded(4096)


def _csrf_ok(request: HttpRequest, token: Any) -> bool:
    # Beacons cannot set headers, so the token travels in the payload; Django's own token
    # check then runs on it as if it had come in the CSRF header (the origin is checked above).
    if not isinstance(token, str) or not token or len(token) > 128:
        return False
    # (with CSRF_USE_SESSIONS the secret is the session's, whatever cookie is sent)
    cookie = None if settings.CSRF_USE_SESSIONS else request.COOKIES.get(settings.CSRF_COOKIE_NAME)
    if cookie is not None and (cookie, token) in _CSRF_PASSED:
        return True
    request.META[settings.CSRF_HEADER_NAME] = token
    try:
        _CSRF._check_token(request)  # type: ignore[attr-defined]  # Django's own check
    except RejectRequest:
        return False
    if cookie is not None:
        _CSRF_PASSED.keep((cookie, token), True)
    return True


@receiver(setting_changed)
def _forget_passed(**kwargs: Any) -> None:
    _CSRF_PASSED.clear()


def _renew_malformed_cookie(request: HttpRequest, response: HttpResponse) -> None:
    """A CSRF cookie Django cannot read (malformed): a new one in the answer, as Django's CSRF
    middleware gives every request (the fast path runs without it), so the browser's next
    beacon can pass."""
    if "CSRF_COOKIE" not in request.META:  # (the middleware read it, where it runs)
        try:
            _CSRF._get_secret(request)  # type: ignore[attr-defined]
        except InvalidTokenFormat:
            rotate_token(request)  # (a new secret, flagged for the answer)
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        _CSRF._set_csrf_cookie(request, response)  # type: ignore[attr-defined]
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = False  # (set: the middleware leaves it)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@transaction.non_atomic_requests  # (ATOMIC_REQUESTS: the store is atomic itself, and retries a deadlock)
@csrf_exempt
@require_POST
def beacon(request: HttpRequest) -> HttpResponse:
    """``{"csrf": token, "events": [...]}`` from reco.js: 204 when accepted, 400 lists bad events."""
    response = _beacon(request)
    if response.status_code != 204:  # (a cookie Django could not read is why it was refused)
        _renew_malformed_cookie(request, response)
    return response


def _beacon(request: HttpRequest) -> HttpResponse:
    if not _same_site(request):
        return _error(403, "Cross-site beacons are not accepted.")
    try:
        payload, size = read_json_sized(request, conf.get("BEACON_MAX_BYTES"))
    except BodyError as exc:
        return _error(exc.status, exc.message)
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return _error(400, 'Expected {"csrf": "...", "events": [...]}.')
    if not _csrf_ok(request, payload.get("csrf")):
        return _error(403, "CSRF token missing or incorrect.")
    events = payload["events"]
    if len(events) > conf.get("BEACON_MAX_EVENTS"):
        return _error(413, f"At most {conf.get('BEACON_MAX_EVENTS')} events per beacon.")
    # re-encoded compactly, parsed JSON is at most 4.5 times its text (a number: "1E15" is
    # 1000000000000000.0; strings and structure only shrink): a small beacon's contexts
    # need no measuring
    sized = size * BODY_EXPANSION <= conf.get("API_MAX_EVENT_BYTES")
    result = ingest_browser(request, events, set(conf.get("BEACON_EVENT_TYPES")), sized=sized)
    if result.rejected:
        return JsonResponse(result.as_dict(), status=400)
    return HttpResponse(status=204)
