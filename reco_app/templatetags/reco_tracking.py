"""Tracking and consent template tags.

Usage, in the shop's base template::

    {% load reco_tracking %}
    {% reco_consent_banner %}        {# accept / refuse, shown until the visitor decides #}
    {% reco_withdraw_button %}       {# one-click withdrawal, e.g. in the footer #}
    {% reco_tracking_script %}       {# reco.js: impressions, clicks, dwell (only with consent) #}

Templates ``reco_app/tracking/*.html`` can be overridden by the shop.
"""

from __future__ import annotations

from typing import Any

from django import template

from reco_app.tracking.context import get_context

register = template.Library()


def _request(context: template.Context) -> Any:
    return context.get("request")


@register.inclusion_tag("reco_app/tracking/consent_banner.html", takes_context=True)
def reco_consent_banner(context: template.Context) -> dict[str, Any]:
    """The banner, while the visitor has made no decision (GPC/DNT visitors still see it to opt in)."""
    request = _request(context)
    if request is None:
        return {"show": False}
    from reco_app.consent.backends import Decision, ensure_cookie_group

    ctx = get_context(request)
    show = ctx.consent.decision is Decision.UNKNOWN and not ctx.is_bot
    data: dict[str, Any] = {"show": show, "request": request, "csrf_token": context.get("csrf_token")}
    if show:
        group = ensure_cookie_group()
        data |= {"group_name": group.name, "description": group.description}
    return data


@register.inclusion_tag("reco_app/tracking/withdraw.html", takes_context=True)
def reco_withdraw_button(context: template.Context, label: str = "Turn off personalisation") -> dict[str, Any]:
    request = _request(context)
    allowed = request is not None and get_context(request).consent.allowed
    return {"allowed": allowed, "label": label, "request": request, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("reco_app/tracking/script.html", takes_context=True)
def reco_tracking_script(context: template.Context, product: Any = None) -> dict[str, Any]:
    """``{% reco_tracking_script %}``, or ``{% reco_tracking_script product=product %}`` on a
    product page so dwell time is attributed to the product."""
    request = _request(context)
    allowed = request is not None and get_context(request).may_track
    from reco_app.adapter import key_of

    return {"allowed": allowed, "csrf_token": context.get("csrf_token"), "product": key_of(product)}
