"""Who a request is: worked out once per request, and again when the request signs in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from reco_app.adapter import subject_of
from reco_app.serving.subjects import resolve
from reco_app.tracking.context import VisitorContext
from tests.tracking.conftest import signed_visitor_cookie


@pytest.mark.django_db
def test_a_request_is_resolved_again_when_it_signs_in_or_out(rf, django_user_model) -> None:  # type: ignore[no-untyped-def]
    request = rf.get("/", HTTP_COOKIE=f"cookie_consent=personalisation=2026-01-01; reco_v={signed_visitor_cookie('v1')}")
    request.user = AnonymousUser()
    request.reco = VisitorContext(request)
    first = resolve(request)
    assert (first.subject, first.personalised, first.visitor_id) == ("anon:v1", True, "v1")
    assert resolve(request) == first  # the page's next list: the same visitor

    user = django_user_model.objects.create_user("ann")
    request.user = user  # as django.contrib.auth.login leaves it, and reco_app's sign-in receiver:
    request.reco.reread_consent()
    signed_in = resolve(request)
    assert signed_in.user == user and signed_in.subject == subject_of(user) and signed_in.personalised

    request.user = AnonymousUser()  # signed out in the same request: not the account any more
    signed_out = resolve(request)
    assert signed_out.user is None and signed_out.subject != subject_of(user)
