"""``reco_app.tracking.middleware.RecoMiddleware``: request.reco + automatic product views.

Place it after ``AuthenticationMiddleware``. Sync- and async-capable (django-htmx style).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from reco_app import conf
from reco_app.tracking.context import VisitorContext
from reco_app.tracking.validation import safe_string

MAX_TOKEN = 512


class RecoMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        request.reco = VisitorContext(request)  # type: ignore[attr-defined]
        response = self.get_response(request)
        finish(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        request.reco = VisitorContext(request)  # type: ignore[attr-defined]
        response = await self.get_response(request)
        await sync_to_async(finish)(request, response)
        return response


def finish(request: HttpRequest, response: HttpResponseBase) -> None:
    """Record an automatic product view, then set or clear the visitor cookie."""
    ctx: VisitorContext = request.reco  # type: ignore[attr-defined]
    product = viewed_product(request, response)
    if product:
        from reco_app.tracking.service import track_many

        token = request.GET.get("rt", "")
        # a token the event could not store (too long, a NUL) is dropped, never the view
        valid = token and len(token) <= MAX_TOKEN and safe_string(token)
        extra: dict[str, Any] = {"rec_token": token} if valid else {}
        track_many(request, [("product_view", product, None, extra)], behind=True)
    if not getattr(response, "reco_skip_cookie", False):
        ctx.update_cookie(response)


def viewed_product(request: HttpRequest, response: HttpResponseBase) -> str:
    """The product key when this request showed a product page (RECO_APP["PRODUCT_VIEWS"])."""
    if request.method != "GET" or response.status_code != 200:
        return ""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    views: dict[str, str] = conf.get("PRODUCT_VIEWS")
    kwarg = views.get(match.view_name) or views.get(match.url_name or "")
    if not kwarg:
        return ""
    value = match.kwargs.get(kwarg)
    return str(value) if value is not None else ""
