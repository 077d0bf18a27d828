"""URLs for bench_serving.py: reco_app's plus a bare DRF endpoint as the baseline."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class Bare(APIView):
    """The baseline: a DRF endpoint that does no work."""

    permission_classes = [AllowAny]

    def get(self, request):  # type: ignore[no-untyped-def]
        return Response({"placement": "bare", "title": "", "results": []})


urlpatterns = [
    path("bare/", Bare.as_view()),
    path("reco/", include("reco_app.urls")),
]
