"""reco_app's URLs: ``path("reco/", include("reco_app.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "reco_app"

urlpatterns: list[URLPattern | URLResolver] = []

# tracking & consent
# serving
# merchandising / admin pages
# segments
