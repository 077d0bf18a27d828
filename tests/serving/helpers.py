from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from reco_app.models import CatalogItem


def visitor_request(visitor_id: str = "v-new", consent: bool = True, user: Any = None, path: str = "/") -> Any:
    """A request as the tracking middleware leaves it (``request.reco``)."""
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    request.session = {}
    request.reco = SimpleNamespace(visitor_id=visitor_id, user=request.user, session_id="sess-1", consent_granted=consent, device="desktop")
    return request


def categories(recs: list[Any]) -> list[str]:
    cats = dict(CatalogItem.objects.values_list("product_key", "category"))
    return [cats[r.product_key] for r in recs]


def assert_sensible(recs: list[Any], limit: int) -> None:
    """Non-empty, no duplicates, only available products, positions 1..n."""
    keys = [r.product_key for r in recs]
    assert recs and len(recs) <= limit
    assert len(keys) == len(set(keys))
    available = set(CatalogItem.objects.available().values_list("product_key", flat=True))
    assert set(keys) <= available
    assert [r.position for r in recs] == list(range(1, len(recs) + 1))
