"""Consent decisions: record them (for logged-in users) and apply a withdrawal."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase

from reco_app import cache, conf
from reco_app.consent.backends import get_backend
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import ConsentBasis, visitor_subject
from reco_app.tracking.context import get_context


def record(user: Any, subject: str, *, granted: bool, method: str) -> ConsentRecord | None:
    """Store proof of a decision for a logged-in user (anonymous visitors: the cookie is the record)."""
    if user is None or not user.is_authenticated:
        return None
    rec = ConsentRecord.objects.create(
        user=user,
        subject=subject,
        granted=granted,
        policy_version=str(conf.get("CONSENT_POLICY_VERSION")),
        method=method,
    )
    return rec


def grant(request: HttpRequest, response: HttpResponseBase) -> None:
    get_backend().grant(request, response)
    ctx = get_context(request)
    record(ctx.user, ctx.subject if ctx.user else "", granted=True, method=ConsentRecord.Method.BANNER)


def subjects_of_request(request: HttpRequest) -> list[str]:
    """Every subject key the current visitor's events may be stored under."""
    ctx = get_context(request)
    subjects: list[str] = []
    if ctx.known_visitor_id:
        subjects.append(visitor_subject(ctx.known_visitor_id))
    if ctx.user is not None:
        subjects.append(ctx.subject)
    return subjects


def refuse(request: HttpRequest, response: HttpResponseBase, *, withdrawal: bool = True) -> int:
    """Refuse or withdraw consent: effective from the next request; returns events removed."""
    get_backend().refuse(request, response)
    ctx = get_context(request)
    method = ConsentRecord.Method.WITHDRAWAL if withdrawal else ConsentRecord.Method.BANNER
    record(ctx.user, ctx.subject if ctx.user else "", granted=False, method=method)
    removed = forget_events(subjects_of_request(request))
    if request.COOKIES.get(conf.get("VISITOR_COOKIE_NAME")):
        response.delete_cookie(conf.get("VISITOR_COOKIE_NAME"), samesite="Lax")
    response.reco_skip_cookie = True  # type: ignore[attr-defined]
    return removed


def forget_events(subjects: list[str]) -> int:
    """Delete (or, with WITHDRAWAL_ACTION="anonymise", anonymise) the subjects' events."""
    subjects = [s for s in subjects if s]
    if not subjects:
        return 0
    with transaction.atomic():
        qs = Event.objects.filter(subject__in=subjects)
        if conf.get("WITHDRAWAL_ACTION") == "anonymise":
            count = qs.update(
                subject="", user=None, visitor_id="", session_id="", context={}, consent=ConsentBasis.ANONYMISED
            )
        else:
            count, _ = qs.delete()
    cache.bump_many(f"subject:{s}" for s in subjects)
    return count
