from __future__ import annotations

from django.urls import path

from reco_app.api.serving import RecommendationsView

urlpatterns = [
    path("api/recommendations/<str:placement>/", RecommendationsView.as_view(), name="api-recommendations"),
]
