"""REST API for recommendations (only imported when DRF is installed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reco_app import conf
from reco_app.serving.catalog_index import get_catalog
from reco_app.serving.pipeline import InvalidLimit, MissingProduct, recommend
from reco_app.serving.placements import get_pipeline, placement_names, UnknownPlacement


class RecommendationQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=10, min_value=1)
    product = serializers.CharField(required=False, max_length=64, help_text="Product key of the page's product.")
    cart = serializers.CharField(required=False, max_length=4000, help_text="Comma-separated product keys in the cart.")
    category = serializers.CharField(required=False, max_length=120, help_text="The page's category (per-category trending).")
    subject = serializers.CharField(required=False, max_length=128, help_text="Customer key or anon:<visitor id>; token-authenticated staff only.")

    def validate_limit(self, value: int) -> int:
        if value > conf.get("MAX_LIMIT"):
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {conf.get('MAX_LIMIT')}.")
        return value

    def validate_cart(self, value: str) -> list[str]:
        return [k.strip() for k in value.split(",") if k.strip()]


class RecommendationSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    product_key = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField(source="link", help_text="Product URL carrying the rec token (?rt=).")
    image = serializers.CharField()
    price = serializers.FloatField(allow_null=True)
    score = serializers.FloatField()
    reason = serializers.CharField()
    source = serializers.CharField()
    token = serializers.CharField(help_text="Signed rec token: send it with rec_impression/rec_click events.")


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
            OpenApiParameter("placement", OpenApiTypes.STR, OpenApiParameter.PATH, description="for_you, similar, bought_together, ... or a shop's own"),
        ],
        responses={200: RecommendationListSerializer},
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
        query = RecommendationQuerySerializer(data=request.query_params)
        if not query.is_valid():
            return Response(query.errors, status=400)
        data: dict[str, Any] = query.validated_data
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
        return Response(RecommendationListSerializer({"placement": placement, "title": pipeline.title, "results": recs}).data)

    def check_products(self, data: dict[str, Any]) -> dict[str, list[str]]:
        known = get_catalog().key_to_idx
        errors = {}
        if data.get("product") and data["product"] not in known:
            errors["product"] = [f"Unknown product {data['product']!r}."]
        unknown = [k for k in data.get("cart", []) if k not in known]
        if unknown:
            errors["cart"] = [f"Unknown products: {', '.join(unknown[:10])}."]
        return errors
