from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from reco_app.serving.tokens import parse_token
from tests.serving.helpers import visitor_request

pytestmark = pytest.mark.django_db


def render(source: str, **context: object) -> str:
    return Template("{% load reco %}" + source).render(Context({"request": visitor_request("v-tag"), **context}))


def test_recommendations_tag_renders_cards_with_tokens(trained) -> None:  # type: ignore[no-untyped-def]
    html = render('{% recommendations "trending" limit=3 %}')
    cards = re.findall(r'<article class="reco-card" data-reco-token="([^"]+)" data-reco-product="([^"]+)" data-reco-placement="trending"', html)
    assert len(cards) == 3
    token, key = cards[0]
    parsed = parse_token(token)
    assert parsed is not None and parsed.product_key == key and parsed.position == 1
    assert f'href="/p/{key}/?rt={token}"' in html
    assert "Trending now" in html and f'src="/img/{key}.svg"' in html


def test_similar_tag_and_get_recommendations(trained) -> None:  # type: ignore[no-untyped-def]
    shop, _ = trained
    html = render('{% recommendations "similar" product=product %}', product=shop.products["SH-03"])
    assert html.count('class="reco-card"') == 8 and 'data-reco-product="SH-03"' not in html
    listed = render('{% get_recommendations "similar" product=product limit=4 as recs %}{% for r in recs %}[{{ r.product_key }}]{% endfor %}', product=shop.products["SH-03"])
    assert len(re.findall(r"\[[A-Z]{2}-\w+\]", listed)) == 4


def test_exclude_keeps_a_second_widget_from_repeating_the_first(trained) -> None:  # type: ignore[no-untyped-def]
    html = render(
        '{% get_recommendations "trending" limit=3 as top %}[{% for r in top %}{{ r.product_key }} {% endfor %}]'
        '{% recommendations "trending" limit=3 exclude=top %}{% recommendations "trending" limit=3 exclude=keys %}',
        keys=["SH-01"],
    )
    top = re.search(r"\[([^\]]*)\]", html).group(1).split()  # type: ignore[union-attr]
    widgets = html.split('<section class="reco-widget"')[1:]
    rest = re.findall(r'data-reco-product="([^"]+)"', widgets[0])
    assert len(top) == 3 and len(rest) == 3 and not set(top) & set(rest)
    assert "SH-01" not in re.findall(r'data-reco-product="([^"]+)"', widgets[1])


def test_bad_arguments_render_nothing(trained) -> None:  # type: ignore[no-untyped-def]
    assert render('{% recommendations "no_such_placement" %}').strip() == ""
    assert render('{% recommendations "similar" %}').strip() == ""  # no product
