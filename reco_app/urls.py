"""reco_app's URLs: ``path("reco/", include("reco_app.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "reco_app"

urlpatterns: list[URLPattern | URLResolver] = []

# tracking & consent
# serving
try:
    import rest_framework  # noqa: F401
except ImportError:  # pragma: no cover - the API is optional
    pass
else:
    from reco_app.api.serving_urls import urlpatterns as _serving_api

    urlpatterns += _serving_api
# merchandising / admin pages
# segments
