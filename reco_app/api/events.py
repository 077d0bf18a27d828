"""``POST /reco/api/events/``: server-to-server event batches (token authentication).

The body is read with a hard size limit before parsing and validated by the tracking
service (the same validation every capture path uses); the serializers below describe the
format for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from reco_app import conf
from reco_app.models.events import EventType
from reco_app.tracking.body import BodyError, read_json
from reco_app.tracking.ingest import ingest_batch
from reco_app.tracking.validation import API_CONSENT, json_size


class EventIn(serializers.Serializer):  # documentation of the format (see validation.py)
    event_id = serializers.UUIDField(required=False, help_text="Client-generated id; re-sending it is a no-op.")
    event_type = serializers.ChoiceField(choices=EventType.choices)
    product = serializers.CharField(max_length=64, required=False, help_text="Product key; required except for search and dwell.")
    value = serializers.FloatField(required=False, allow_null=True, help_text="Quantity (purchase and cart events; a purchase without one counts 1), rating 0-5, or dwell seconds.")
    timestamp = serializers.DateTimeField(required=False, help_text="Default: time of receipt.")
    customer = serializers.CharField(required=False, help_text="The shop's customer key (one over 128 characters is stored shortened: see the docs).")
    visitor_id = serializers.CharField(max_length=64, required=False, help_text="Anonymous visitor id when no customer key.")
    session_id = serializers.CharField(max_length=64, required=False)
    consent = serializers.ChoiceField(choices=[(c, c) for c in API_CONSENT], help_text="denied/unknown events are counted, not stored.")
    context = serializers.DictField(  # type: ignore[assignment]  # a declared field: DRF's metaclass takes it off the class
        required=False,
        help_text="Plain JSON, e.g. {\"rec_token\": \"...\"}. A purchase's \"unit_price\" (a number) prices it; without one, the catalog price does.",
    )


class BatchIn(serializers.Serializer):
    events = EventIn(many=True)


class Rejected(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.CharField())  # type: ignore[assignment]  # a declared field


class BatchOut(serializers.Serializer):
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    dropped = serializers.IntegerField()
    rejected = Rejected(many=True)


class Detail(serializers.Serializer):
    detail = serializers.CharField()


class EventRateThrottle(UserRateThrottle):
    """Per-token rate from ``RECO_APP["API_RATE"]``."""

    scope = "reco_events"

    def get_rate(self) -> str | None:
        rate: str | None = conf.get("API_RATE")
        return rate

    def allow_request(self, request: Any, view: Any) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def wait(self) -> float | None:
        """Seconds until enough requests of the window have left it for one more (DRF's says
        nothing when more requests than the rate allows are on record: the rate was lowered)."""
        if self.num_requests and len(self.history) >= self.num_requests:
            # newest first: once the rate's last allowed one has left, one more fits
            return max(self.duration - (self.now - self.history[self.num_requests - 1]), 1.0)
        wait: float | None = super().wait()
        return wait


class EventBatchView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    # the body is read as JSON whatever it is labelled (``read_json``); this names the one
    # content type the schema documents
    parser_classes = [JSONParser]
    throttle_classes = [EventRateThrottle]

    @extend_schema(
        operation_id="events_batch",
        summary="Store a batch of events",
        request=BatchIn,
        responses={
            201: BatchOut,
            400: OpenApiResponse(
                PolymorphicProxySerializer(component_name="BatchRejected", serializers=[BatchOut, Detail], resource_type_field_name=None),
                description="Some events were rejected and the others stored (the counts and per-event errors), "
                "or the body is not a JSON object with an events list (a detail message).",
            ),
            401: Detail,
            413: Detail,
            429: OpenApiResponse(Detail, description="Too many requests; see the Retry-After header."),
        },
        examples=[
            OpenApiExample(
                "purchase",
                value={"events": [{"event_id": "0b7c2c1e-7f38-4a55-9a77-6d3f5b0f4e21", "event_type": "purchase",
                                   "product": "SKU-1", "value": 2, "customer": "1042", "consent": "granted",
                                   "context": {"order": "A-1009", "unit_price": 19.9}}]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            payload = read_json(request._request, conf.get("API_MAX_BYTES"))
        except BodyError as exc:
            return Response({"detail": exc.message}, status=exc.status)
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            return Response({"detail": 'Expected {"events": [...]}.'}, status=status.HTTP_400_BAD_REQUEST)
        events = payload["events"]
        if len(events) > conf.get("API_MAX_EVENTS"):
            return Response({"detail": f"At most {conf.get('API_MAX_EVENTS')} events per request."}, status=413)
        too_big = _oversized(events, conf.get("API_MAX_EVENT_BYTES"))
        if too_big:
            return Response({"detail": f"Events larger than {conf.get('API_MAX_EVENT_BYTES')} bytes: {too_big[:20]}."}, status=413)
        result = ingest_batch(events, sized=True)
        code = status.HTTP_400_BAD_REQUEST if result.rejected else status.HTTP_201_CREATED
        return Response(result.as_dict(), status=code)


def _oversized(events: list[Any], limit: int) -> list[int]:
    size = json_size
    return [i for i, e in enumerate(events) if size(e) > limit]
