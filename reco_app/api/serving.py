"""REST API for recommendations (only imported when DRF is installed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reco_app import conf
from reco_app.serving.catalog_index import known_keys
from reco_app.serving.pipeline import InvalidLimit, MissingProduct, Recommendation, recommend
from reco_app.serving.placements import UnknownPlacement, get_pipeline, placement_names


class RecommendationQuerySerializer(serializers.Serializer):
    """The query parameters (for the OpenAPI schema; :func:`parse_query` validates them)."""

    limit = serializers.IntegerField(
        required=False, default=10, min_value=1, max_value=conf.get("MAX_LIMIT"), help_text="1 to MAX_LIMIT (default 50).",
    )
    product = serializers.CharField(required=False, max_length=64, help_text="Product key of the page's product.")
    cart = serializers.CharField(required=False, max_length=4000, help_text="Comma-separated product keys in the cart.")
    category = serializers.CharField(required=False, max_length=120, help_text="The page's category (per-category trending).")
    subject = serializers.CharField(
        required=False, max_length=1024,
        help_text="Customer key (a key over 128 characters is read under its stored, shortened form) or anon:<visitor id>; token-authenticated staff only.",
    )


class RecommendationSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    product_key = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField(source="link", help_text="Product URL carrying the rec token (?rt=).")
    image = serializers.CharField()
    price = serializers.FloatField(allow_null=True)
    score = serializers.FloatField()
    reason = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
    token = serializers.CharField(help_text="Signed rec token: send it with rec_impression/rec_click events.")


def parse_query(params: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate the query as :class:`RecommendationQuerySerializer` documents it.

    Hand-written because this is the hot path: a serializer per request costs more than
    serving a cached list.
    """
    data: dict[str, Any] = {"limit": 10}
    errors: dict[str, list[str]] = {}
    max_limit = conf.get("MAX_LIMIT")
    if "limit" in params:
        raw = params.get("limit", "")
        if not raw.strip().isdigit():
            errors["limit"] = ["A valid integer is required."]
        elif not 1 <= int(raw) <= max_limit:
            errors["limit"] = [f"Ensure this value is between 1 and {max_limit}."]
        else:
            data["limit"] = int(raw)
    for name, max_length in (("product", 64), ("category", 120), ("subject", 1024), ("cart", 4000)):
        if name not in params:
            continue
        value = params.get(name, "").strip()
        if not value:
            errors[name] = ["This field may not be blank."]
        elif len(value) > max_length:
            errors[name] = [f"Ensure this field has no more than {max_length} characters."]
        else:
            data[name] = value
    if "cart" in data:
        data["cart"] = [k.strip() for k in data["cart"].split(",") if k.strip()]
    return data, errors


def as_dict(rec: Recommendation) -> dict[str, Any]:
    """One result as :class:`RecommendationSerializer` describes it."""
    return {
        "position": rec.position, "product_key": rec.product_key, "name": rec.name, "url": rec.link,
        "image": rec.image, "price": rec.price, "score": rec.score, "reason": rec.reason,
        "source": rec.source, "token": rec.token,
    }


class FieldErrors(serializers.Serializer):
    """400: ``{"<parameter>": ["<message>", ...]}`` for each bad parameter (e.g. ``placement``,
    ``limit``, ``product``)."""

    placement = serializers.ListField(child=serializers.CharField(), required=False)
    limit = serializers.ListField(child=serializers.CharField(), required=False)
    product = serializers.ListField(child=serializers.CharField(), required=False)
    cart = serializers.ListField(child=serializers.CharField(), required=False)


class Refused(serializers.Serializer):
    detail = serializers.CharField()


class RecommendationListSerializer(serializers.Serializer):
    placement = serializers.CharField()
    title = serializers.CharField()
    results = RecommendationSerializer(many=True)


class RecommendationsView(APIView):
    """Recommendations for one placement, for the session's visitor or a given subject."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="reco_recommendations",
        parameters=[
            RecommendationQuerySerializer,
            OpenApiParameter(
                "placement", OpenApiTypes.STR, OpenApiParameter.PATH, enum=placement_names(),
                description="A configured placement (RECO_APP[\"PLACEMENTS\"] adds a shop's own).",
            ),
        ],
        responses={
            200: RecommendationListSerializer,
            400: OpenApiResponse(FieldErrors, description=(
                "Bad parameters, as field errors: an unknown placement, a limit out of range, a "
                "product or cart key the catalog does not know, a placement that needs a product without one."
            )),
            403: OpenApiResponse(Refused, description="`subject` without a staff user's API token."),
        },
        description=(
            "Without `subject`, the visitor of the session (personalised only with consent). "
            "With `subject` (a customer key or `anon:<visitor id>`), server-to-server calls "
            "authenticated by a staff user's token. Bad parameters give 400 with field errors."
        ),
    )
    def get(self, request: Request, placement: str) -> Response:
        try:
            pipeline = get_pipeline(placement)
        except UnknownPlacement:
            return Response({"placement": [f"Unknown placement {placement!r}. Known: {', '.join(placement_names())}."]}, status=400)
        data, errors = parse_query(request.query_params)
        if errors:
            return Response(errors, status=400)
        errors = self.check_products(data)
        if errors:
            return Response(errors, status=400)
        subject: Any = request._request
        if "subject" in data:
            if not (request.auth is not None and request.user.is_staff):
                return Response({"detail": "The subject parameter needs a staff user's API token."}, status=403)
            subject = data["subject"]
        try:
            recs = recommend(
                subject, placement, limit=data["limit"], product=data.get("product"), cart=data.get("cart"),
                context={"category": data["category"]} if data.get("category") else None,
            )
        except (InvalidLimit, MissingProduct) as exc:
            field = "limit" if isinstance(exc, InvalidLimit) else "product"
            return Response({field: [str(exc)]}, status=400)
        # the serializers document the shape; plain dicts build it (it is the hot path)
        return Response({"placement": placement, "title": pipeline.title, "results": [as_dict(r) for r in recs]})

    def check_products(self, data: dict[str, Any]) -> dict[str, list[str]]:
        known = known_keys([k for k in [data.get("product"), *data.get("cart", [])] if k])
        errors = {}
        if data.get("product") and data["product"] not in known:
            errors["product"] = [f"Unknown product {data['product']!r}."]
        unknown = [k for k in data.get("cart", []) if k not in known]
        if unknown:
            errors["cart"] = [f"Unknown products: {', '.join(unknown[:10])}."]
        return errors
