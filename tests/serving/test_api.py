from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from reco_app.serving.tokens import parse_token

pytestmark = pytest.mark.django_db
URL = "/reco/api/recommendations/{}/"


def test_get_recommendations_for_the_session_visitor(trained, client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(URL.format("similar"), {"product": "SH-03", "limit": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["placement"] == "similar" and len(body["results"]) == 4
    first = body["results"][0]
    assert set(first) >= {"position", "product_key", "name", "url", "image", "price", "score", "reason", "source", "token"}
    assert parse_token(first["token"]).product_key == first["product_key"]
    assert "?rt=" in first["url"]


@pytest.mark.parametrize(
    ("placement", "params", "field"),
    [
        ("nope", {}, "placement"),
        ("for_you", {"limit": "abc"}, "limit"),
        ("for_you", {"limit": 0}, "limit"),
        ("for_you", {"limit": 1000}, "limit"),
        ("similar", {}, "product"),
        ("similar", {"product": "NO-SUCH"}, "product"),
        ("complete_the_cart", {"cart": "CO-01,NO-SUCH"}, "cart"),
    ],
)
def test_bad_parameters_get_400(trained, client, placement, params, field) -> None:  # type: ignore[no-untyped-def]
    response = client.get(URL.format(placement), params)
    assert response.status_code == 400
    assert field in response.json()


def test_subject_needs_a_staff_token(trained) -> None:  # type: ignore[no-untyped-def]
    api = APIClient()
    assert api.get(URL.format("for_you"), {"subject": "CUST-001"}).status_code == 403
    staff = get_user_model().objects.create_user("ops", password="x" * 12, is_staff=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    response = api.get(URL.format("for_you"), {"subject": "CUST-001", "limit": 5})
    assert response.status_code == 200
    assert response.json()["results"][0]["source"] == "model"


def test_openapi_schema_documents_the_endpoint(trained) -> None:  # type: ignore[no-untyped-def]
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    op = schema["paths"]["/reco/api/recommendations/{placement}/"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) >= {"placement", "limit", "product", "cart", "subject"}
    # what the endpoint accepts and answers, so a client (or a schema-driven fuzzer) can tell
    # a bad request from a bug: the configured placements, the limit's range, 400 and 403
    assert set(params["placement"]["schema"]["enum"]) >= {"for_you", "similar", "trending"}
    assert params["limit"]["schema"]["maximum"] == 50
    assert {"200", "400", "403"} <= set(op["responses"])
