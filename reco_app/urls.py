"""reco_app's URLs: ``path("reco/", include("reco_app.urls"))``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

app_name = "reco_app"

urlpatterns: list[URLPattern | URLResolver] = []

# tracking & consent
from reco_app.consent import views as consent_views
from reco_app.tracking import views as tracking_views

urlpatterns += [
    path("t/", tracking_views.beacon, name="beacon"),
    path("consent/accept/", consent_views.accept, name="consent_accept"),
    path("consent/refuse/", consent_views.refuse, name="consent_refuse"),
    path("privacy/", consent_views.my_data, name="my_data"),
    path("privacy/export/", consent_views.my_data_export, name="my_data_export"),
    path("privacy/erase/", consent_views.my_data_erase, name="my_data_erase"),
]
try:  # the event API needs djangorestframework + drf-spectacular (optional parts stay optional)
    from django.db import transaction
    from drf_spectacular.views import SpectacularAPIView

    from reco_app.api.events import EventBatchView

    urlpatterns += [
        # (ATOMIC_REQUESTS: the store is atomic itself, and writes a batch again after a deadlock)
        path("api/events/", transaction.non_atomic_requests(EventBatchView.as_view()), name="api_events"),
        path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    ]
except ImportError:  # pragma: no cover
    pass
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
