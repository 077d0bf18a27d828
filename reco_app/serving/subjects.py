"""Who is asking: a request, a user, a visitor id or a customer key → one :class:`Who`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from reco_app.models.events import ANONYMOUS_PREFIX, visitor_subject


@dataclass(frozen=True)
class Who:
    subject: str | None  # customer key or ``anon:<visitor id>``; None = nobody known
    personalised: bool
    user: Any = None
    visitor_id: str | None = None
    session_id: str | None = None
    device: str = ""
    guess_visitor: bool = False  # a bare string: try ``anon:<string>`` if the key has no history


def _consented(reco: Any) -> bool:
    """Whether the visitor may be personalised: ``consent_granted``, or the tracking
    middleware's ``may_track`` (consent given and not a bot)."""
    granted = getattr(reco, "consent_granted", None)
    if granted is None:
        granted = getattr(reco, "may_track", False)
    return bool(granted)


def resolve(subject: Any) -> Who:
    """Resolve the ``subject`` argument of :func:`~reco_app.serving.pipeline.recommend`.

    * a request: its ``request.reco`` (set by the tracking middleware) gives the visitor,
      user and consent; without it, or without consent, the visitor is anonymous and gets
      non-personalised recommendations;
    * a user object: that shopper (``adapter.customer_key(user)``);
    * ``"anon:<visitor id>"``: that anonymous visitor;
    * any other string: a customer key, as in imported event files (or a bare visitor id;
      a key over 128 characters is read under its stored, shortened form);
    * ``None``: nobody (non-personalised).
    """
    from reco_app.adapter import customer_subject, subject_of

    if subject is None:
        return Who(None, False)
    if isinstance(subject, HttpRequest):
        reco = getattr(subject, "reco", None)
        if reco is None:
            return Who(None, False)
        return _of_request(subject, reco)
    if isinstance(subject, str):
        key = subject.strip()
        if not key:
            return Who(None, False)
        if key.startswith(ANONYMOUS_PREFIX):
            return Who(key, True, visitor_id=key[len(ANONYMOUS_PREFIX):])
        return Who(customer_subject(key), True, guess_visitor=True)
    if getattr(subject, "is_authenticated", False) and getattr(subject, "pk", None) is not None:
        return Who(subject_of(subject), True, user=subject)
    return Who(None, False)


def _of_request(request: HttpRequest, reco: Any) -> Who:
    """The request's visitor, worked out once per request (a page asks for several lists),
    and again when the request's user or consent changes (a sign-in or sign-out in the
    request re-reads consent: :meth:`~reco_app.tracking.context.VisitorContext.reread_consent`)."""
    from reco_app.adapter import subject_of
    from reco_app.tracking.context import VisitorContext

    user = getattr(reco, "user", None)
    memo = getattr(request, "_reco_who", None)
    if memo is not None and memo[0] is reco and memo[1] is user and memo[2] is reco.__dict__.get("consent"):
        return memo[3]  # type: ignore[no-any-return]
    consent = _consented(reco)
    visitor = getattr(reco, "visitor_id", None) or None
    if user is not None and getattr(user, "is_authenticated", False):
        key: str | None = subject_of(user)
    else:
        key = visitor_subject(visitor) if visitor else None
    who = Who(
        key if consent else None,
        consent and key is not None,
        user=user,
        visitor_id=visitor,
        session_id=getattr(reco, "session_id", None),
        device=str(getattr(reco, "device", "") or ""),
    )
    if isinstance(reco, VisitorContext) and "consent" in reco.__dict__:
        request._reco_who = (reco, user, reco.__dict__["consent"], who)  # type: ignore[attr-defined]
    return who
