"""Template tags for recommendations: ``{% load reco %}``.

Render a widget (overridable template ``reco_app/recommendations.html``)::

    {% recommendations "for_you" limit=8 %}
    {% recommendations "similar" product=product %}
    {% recommendations "complete_the_cart" cart=cart_keys title="You may also need" %}

Or get the list and render it yourself::

    {% get_recommendations "similar" product=product limit=4 as recs %}
    {% for rec in recs %}<a href="{{ rec.link }}">{{ rec.name }}</a>{% endfor %}

``exclude`` leaves out products already on the page (a list of recommendations or keys)::

    {% get_recommendations "for_you" as for_you %}
    {% recommendations "trending" exclude=for_you %}

The visitor is the template context's ``request`` (its consent decides personalisation).
Bad arguments (unknown placement, missing product) log an error and render nothing: a
recommendation widget never breaks a shop page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template

from reco_app.serving.pipeline import Recommendation, RecommendationError, recommend
from reco_app.serving.placements import UnknownPlacement, get_pipeline

register = template.Library()
logger = logging.getLogger(__name__)


def _recs(context: template.Context, placement: str, limit: int, product: Any, cart: Any, extra: dict[str, Any]) -> list[Recommendation]:
    try:
        return recommend(context.get("request"), placement, limit=int(limit), product=product, cart=cart, context=extra or None)
    except (RecommendationError, UnknownPlacement, ValueError, TypeError) as exc:
        logger.error("reco_app: {%% recommendations %r %%}: %s", placement, exc)
        return []


def _extra(category: str, exclude: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"category": category} if category else {}
    if exclude:
        extra["exclude"] = [getattr(item, "product_key", item) for item in exclude]
    return extra


@register.inclusion_tag("reco_app/recommendations.html", takes_context=True)
def recommendations(context: template.Context, placement: str, limit: int = 8, product: Any = None, cart: Any = None, title: str | None = None, category: str = "", exclude: Any = None) -> dict[str, Any]:
    """Render the ``placement`` widget: product cards carrying rec tokens."""
    recs = _recs(context, placement, limit, product, cart, _extra(category, exclude))
    if title is None:
        try:
            title = get_pipeline(placement).title
        except UnknownPlacement:
            title = ""
    return {"recs": recs, "placement": placement, "title": title, "request": context.get("request")}


@register.simple_tag(takes_context=True)
def get_recommendations(context: template.Context, placement: str, limit: int = 8, product: Any = None, cart: Any = None, category: str = "", exclude: Any = None) -> list[Recommendation]:
    """The list of :class:`~reco_app.serving.pipeline.Recommendation` for ``placement``."""
    return _recs(context, placement, limit, product, cart, _extra(category, exclude))
