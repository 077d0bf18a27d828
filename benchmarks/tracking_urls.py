"""URLs for bench_tracking.py: the example shop's, plus two baselines for the beacon endpoint.

* ``bench/noop/``: a POST view that reads the body and answers 204 — what Django and
  gunicorn cost on this machine before any work is done.
* ``bench/insert/``: parses the JSON body and stores one row with a plain ORM ``create``
  into the event table — the "naive beacon" without consent, validation or idempotency.
* ``bench/beacon-django/``: reco_app's beacon view behind Django's whole middleware stack
  (``reco/t/`` is answered by ``reco_app.wsgi.beacon_fast_path`` ahead of it).
"""

from __future__ import annotations

import json
import uuid

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from reco_app.models import Event
from reco_app.tracking.views import beacon


@csrf_exempt
def noop(request: HttpRequest) -> HttpResponse:
    request.body  # noqa: B018  (read it, as any endpoint must)
    return HttpResponse(status=204)


@csrf_exempt
def insert(request: HttpRequest) -> HttpResponse:
    event = json.loads(request.body)["events"][0]
    Event.objects.create(
        event_id=uuid.UUID(event["event_id"]), event_type=event["event_type"], product_key=event["product"],
        context=event["context"], timestamp=timezone.now(),
    )
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/noop/", noop),
    path("bench/insert/", insert),
    path("bench/beacon-django/", beacon),
    path("", include("example_shop.urls")),
]
