"""``reco_app.wsgi.beacon_fast_path``: serve anonymous reco.js beacons ahead of Django's stack.

A beacon is the most frequent request a shop receives and its answer is an empty 204, yet
Django's request machinery (the full ``WSGIRequest``, every middleware, URL resolution)
costs more CPU than storing the event. Wrapping the WSGI application::

    from django.core.wsgi import get_wsgi_application
    from reco_app.wsgi import beacon_fast_path

    application = beacon_fast_path(get_wsgi_application())

answers ``POST`` requests to the beacon URL directly with the same view
(:func:`reco_app.tracking.views.beacon`: Origin and CSRF checks, consent, validation,
the one write service) and the same visitor-cookie handling as ``RecoMiddleware``. Only
requests that need nothing else take this path: no session cookie (a signed-in shopper's
beacon needs the session and authentication middleware, so it goes through Django) and
CSRF tokens kept in a cookie (``CSRF_USE_SESSIONS = False``). Everything else, and every
other URL, is passed to the wrapped application unchanged. Django's ``request_started`` /
``request_finished`` signals are sent as usual, so database connections are managed as
for any other request, and errors are answered by Django's own exception handling. The
headers the shop's ``SecurityMiddleware`` and ``XFrameOptionsMiddleware`` add to every
answer (``X-Content-Type-Options``, ``Referrer-Policy``, ``Cross-Origin-Opener-Policy``,
HSTS, ``X-Frame-Options``; also by subclasses of them) are added here too, and
``SECURE_SSL_REDIRECT`` redirects a plain-http beacon as it does any request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, NamedTuple

from django.conf import settings
from django.core import signals
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.http.cookie import parse_cookie
from django.urls import NoReverseMatch, get_script_prefix, reverse, set_script_prefix
from django.utils.datastructures import MultiValueDict

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BeaconRequest(WSGIRequest):
    """A ``WSGIRequest`` for the beacon only: the content type is not parsed (the view reads
    the raw body as JSON whatever it is labelled; reco.js sends text/plain, and
    ``request.POST`` is empty), and the visitor is anonymous (requests with a session
    cookie do not come here)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__(environ)
        parts = _parts()
        self.user = parts.anonymous()
        self._post, self._files = parts.no_form, MultiValueDict[str, Any]()

    def _set_content_type_params(self, meta: dict[str, Any]) -> None:
        self.content_type, self.content_params = "text/plain", {}

    def get_host(self) -> str:
        """Django's answer, kept for the request (the Host check and the Origin check both
        ask; a disallowed host raises each time)."""
        host = self.__dict__.get("_reco_host")
        if host is None:
            host = self.__dict__["_reco_host"] = super().get_host()
        return host


def _beacon_path() -> str:
    """The beacon URL without the script prefix ("" when reco_app's URLs are not installed)."""
    try:
        url = reverse("reco_app:beacon")
    except NoReverseMatch:
        return ""
    return "/" + url[len(get_script_prefix()):]


def beacon_fast_path(application: WSGIApp) -> WSGIApp:
    """Wrap a Django WSGI application so anonymous beacons skip the middleware stack."""
    state: dict[str, str] = {}

    def takes(environ: dict[str, Any]) -> bool:
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        path = state.get("path")
        if path is None:
            path = state["path"] = _beacon_path()
        if not path or environ.get("PATH_INFO") != path or settings.CSRF_USE_SESSIONS:
            return False
        cookies = environ.get("HTTP_COOKIE", "")
        name = settings.SESSION_COOKIE_NAME
        # parsed as Django parses it ("sessionid =x" is a session cookie too), and only
        # when the name occurs at all: most anonymous beacons skip the parsing
        return name not in cookies or name not in parse_cookie(cookies)

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not takes(environ):
            return application(environ, start_response)
        return serve(environ, start_response)

    wrapped.wrapped = application  # type: ignore[attr-defined]
    return wrapped


def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> HttpResponseBase:
    """Answer one beacon as Django would, minus the other middleware."""
    set_script_prefix(get_script_name(environ))  # as Django's handler does, for reverse()
    signals.request_started.send(sender=beacon_fast_path, environ=environ)
    request = BeaconRequest(environ)
    response = _handler()(request)
    # request_finished's sender when the server closes the response (Django's handler sets it too)
    response._handler_class = beacon_fast_path  # type: ignore[attr-defined]
    start_response(
        f"{response.status_code} {response.reason_phrase}",
        [*response.items(), *(("Set-Cookie", c.OutputString()) for c in response.cookies.values())],
    )
    return response


class _Parts(NamedTuple):
    anonymous: Any
    context: Any
    view: Any
    finish: Any
    no_form: QueryDict  # a beacon's ``request.POST`` (immutable: one serves every beacon)


@cache
def _parts() -> _Parts:
    """What the fast path calls, imported once the app registry is ready (this module is
    imported before it, before the settings too; an import statement in a function costs
    every call a failed module attribute lookup)."""
    from django.contrib.auth.models import AnonymousUser

    from reco_app.tracking.context import VisitorContext
    from reco_app.tracking.middleware import finish
    from reco_app.tracking.views import beacon

    return _Parts(AnonymousUser, VisitorContext, beacon, finish, QueryDict())


def _answer(request: HttpRequest) -> HttpResponseBase:
    """The beacon view with the visitor-cookie handling of ``RecoMiddleware``."""
    parts = _parts()
    request.reco = parts.context(request)  # type: ignore[attr-defined]
    response = parts.view(request)
    parts.finish(request, response)
    return response


#: middleware of the shop's stack that add response headers (nosniff, Referrer-Policy,
#: Cross-Origin-Opener-Policy, HSTS; X-Frame-Options) and may redirect to https: the fast
#: path runs those the stack has (or subclasses of them), in the stack's order
HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_header_cache: dict[str, Any] = {}


def _handler() -> Callable[[HttpRequest], Any]:
    """:func:`_answer` inside the shop's header middleware, chained as Django's handler
    chains its middleware (each layer turns an exception into Django's error response, a
    middleware answering in ``process_request`` is seen only by the layers outside it, one
    raising ``MiddlewareNotUsed`` is left out). Built once, again after a settings change."""
    handler: Any = _header_cache.get("handler")
    if handler is None:
        from django.utils.module_loading import import_string

        bases = tuple(import_string(path) for path in HEADER_MIDDLEWARE)
        handler = convert_exception_to_response(_answer)
        for cls in reversed([import_string(path) for path in settings.MIDDLEWARE]):
            if isinstance(cls, type) and issubclass(cls, bases):
                try:
                    handler = convert_exception_to_response(cls(handler))
                except MiddlewareNotUsed:
                    continue
        _header_cache["handler"] = handler
    return handler


def _settings_changed(**kwargs: Any) -> None:
    _header_cache.clear()


signals.setting_changed.connect(_settings_changed, dispatch_uid="reco_app_wsgi_header_middleware")
