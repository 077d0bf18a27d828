"""Consent decisions: record them (for logged-in users) and apply a withdrawal."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponseBase

from reco_app import cache, conf
from reco_app.consent import late
from reco_app.consent.backends import get_backend
from reco_app.erasure import ErasureBusy
from reco_app.models import ConsentRecord, Event
from reco_app.models.events import ANONYMOUS_PREFIX, ConsentBasis, visitor_subject
from reco_app.tracking.context import get_context

logger = logging.getLogger(__name__)


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
    """Accept: effective from the next request, which brings the accepting cookie. This
    response sets the visitor cookie itself (:meth:`~reco_app.tracking.context.VisitorContext.issue_cookie`),
    not the middleware, as this request still carries the old decision (a decline would
    otherwise be applied again after the grant was recorded)."""
    get_backend().grant(request, response)
    ctx = get_context(request)
    record(ctx.user, ctx.subject if ctx.user else "", granted=True, method=ConsentRecord.Method.BANNER)
    ctx.issue_cookie(response)
    response.reco_skip_cookie = True  # type: ignore[attr-defined]


def subjects_of_request(
    request: HttpRequest, *, browser: bool = True, account: bool = True,
) -> tuple[list[str], list[str]]:
    """(subject keys, visitor ids) the current visitor's data may be stored under: the
    browser's visitor id (its anonymous subject, and events it sent that were joined to an
    account at login) and, when signed in, the account's customer key and the visitor ids
    joined to it. ``browser`` / ``account``: leave out that part."""
    from reco_app.consent.privacy import subjects_for_user

    ctx = get_context(request)
    subjects: list[str] = []
    visitors: list[str] = []
    if browser and ctx.known_visitor_id:
        subjects.append(visitor_subject(ctx.known_visitor_id))
        visitors.append(ctx.known_visitor_id)
    if account and ctx.user is not None:
        subjects.extend(s for s in subjects_for_user(ctx.user) if s not in subjects)
    return subjects, visitors


def refuse(request: HttpRequest, response: HttpResponseBase, *, withdrawal: bool = True) -> int:
    """Refuse or withdraw consent: effective from the next request; returns events removed."""
    get_backend().refuse(request, response)
    ctx = get_context(request)
    method = ConsentRecord.Method.WITHDRAWAL if withdrawal else ConsentRecord.Method.BANNER
    subjects, visitors = subjects_of_request(request)  # (before the refusal hides the account's history)
    record(ctx.user, ctx.subject if ctx.user else "", granted=False, method=method)
    removed = forget(subjects, visitors)
    if request.COOKIES.get(conf.get("VISITOR_COOKIE_NAME")):
        response.delete_cookie(conf.get("VISITOR_COOKIE_NAME"), samesite="Lax")
    response.reco_skip_cookie = True  # type: ignore[attr-defined]
    return removed


def consent_gone(request: HttpRequest, *, had_cookie: bool) -> int:
    """Consent does not allow tracking on this request of a human visitor: apply the
    withdrawal however consent went away (reco's buttons call :func:`refuse` directly).

    * The browser still carried a visitor cookie (consent declined in the shop's own cookie
      settings, the consent cookie cleared or expired, GPC/DNT in the opt-out regime): the
      browser's visitor id is forgotten.
    * A signed-in shopper whose account holds no refusal yet, and who refused in a way that
      is news for the account: the refusal is recorded on the account, and everything
      collected under the account is forgotten too; their other devices follow from their
      next request. News are: the cookie group declined in a browser that was still tracked
      until now (it still carried the visitor cookie: declined in the shop's cookie
      settings), or, in the opt-out regime, a privacy signal (it refuses what that regime
      collects). A decline this browser kept from an earlier visit (the shopper said "No
      thanks" before signing in) stays with the browser, and so does a privacy signal in
      the opt-in regime, where nothing is collected without a decision.

    Returns the number of events removed (or anonymised)."""
    from reco_app.consent.backends import Decision, account_decision

    ctx = get_context(request)
    state = ctx.consent
    user = ctx.user
    # (a decline this browser made before this request signed in is the browser's, not news
    # for the account: made signed out, by whoever used it; unless the browser was being
    # tracked for this very account, which was signed in there when it declined)
    earlier = getattr(request, "reco_signing_in", False) and not ctx.tracked_for_this_account
    news = (state.decision is Decision.DENIED and had_cookie and not earlier) or (
        bool(state.signal) and conf.get("CONSENT_MODE") == "opt_out"
    )
    # (once: the refusal recorded here makes the account's decision DENIED)
    withdraw_account = user is not None and news and account_decision(user) is not Decision.DENIED
    subjects, visitors = subjects_of_request(request, browser=had_cookie, account=withdraw_account)
    if withdraw_account:
        declined_here = state.decision is Decision.DENIED and had_cookie
        method = ConsentRecord.Method.COOKIE_SETTINGS if declined_here else ConsentRecord.Method.SIGNAL
        record(user, ctx.subject, granted=False, method=method)
    elif getattr(request, "reco_denied_by_account", False):
        # the account's refusal, made elsewhere (which forgot the account's history then),
        # reaches this browser: its own anonymous history goes, not what other accounts
        # signed in here sent from it (a shared browser)
        return forget([s for s in subjects if s.startswith(ANONYMOUS_PREFIX)], [])
    return forget(subjects, visitors)


def forget(subjects: list[str], visitor_ids: list[str] | None = None, *, mark: bool = True) -> int:
    """Apply a withdrawal of consent to what was collected under it.

    The events of ``subjects``, and those sent by ``visitor_ids`` (a browser's events joined
    to an account at login), are deleted, or with ``WITHDRAWAL_ACTION="anonymise"``
    anonymised (:func:`anonymise`). Everything derived from them is erased as an erasure
    request would (segment memberships and live-segment state, the model vectors, cached
    recommendations: every privacy holder but the events, handled here, and the consent
    records, kept as the proof of the decisions). Returns the number of events affected.
    ``mark=False``: the sweep after a withdrawal (no new marks, no further sweep)."""
    subjects = list(dict.fromkeys(s for s in subjects if s))
    visitor_ids = [v for v in visitor_ids or () if v]
    if not subjects and not visitor_ids:
        return 0
    # first: what requests under way store after this withdrawal is removed by their store
    # or, for anonymous browsers, by sweeps minutes later (:mod:`reco_app.consent.late`)
    from reco_app.tracking import buffer

    buffer.flush()  # the product views this process has not written yet: forgotten with the rest
    if not mark:
        return _forget(subjects, visitor_ids)
    earlier = late.mark(subjects, visitor_ids)
    try:
        count = _forget(subjects, visitor_ids)
    except Exception:  # (a failure in a caller's transaction after this one keeps the marks)
        late.unmark(subjects, visitor_ids, earlier)
        raise
    transaction.on_commit(partial(late.sweep_later, subjects, visitor_ids))
    return count


def _forget(subjects: list[str], visitor_ids: list[str]) -> int:
    with transaction.atomic():
        qs = Event.objects.filter(Q(subject__in=subjects) | Q(visitor_id__in=visitor_ids))
        # accounts that keep other data but lose events this browser sent: their lists change
        others = set(qs.exclude(subject__in=subjects).order_by().values_list("subject", flat=True).distinct())
        if conf.get("WITHDRAWAL_ACTION") == "anonymise":
            count = anonymise(qs)
        else:
            count, _ = qs.delete()
        # the subjects' cached lists and namespaces go with the other holders' data
        erase_derived(subjects)
    cache.bump_many(f"subject:{s}" for s in others if s)
    return count


def erase_derived(subjects: list[str]) -> None:
    """Inside a withdrawal's transaction: every holder of data derived from the subjects'
    events but the events and the consent records (:data:`WITHDRAWAL_KEEPS`), now, or once
    the erasure lock is free (:func:`erase_derived_later`)."""
    from reco_app import privacy

    try:
        privacy.erase_subjects(subjects, skip=WITHDRAWAL_KEEPS)
    except ErasureBusy:  # (its own savepoint is rolled back; the events go all the same)
        transaction.on_commit(lambda: erase_derived_later(subjects))


#: what a withdrawal leaves to :func:`forget` itself (events) or keeps (the proof of decisions)
WITHDRAWAL_KEEPS = ("events", "consent_records")


def erase_derived_later(subjects: list[str]) -> None:
    """The erasure lock was busy (a segment job writing, ``ERASURE_LOCK_TIMEOUT``): the
    events are gone; a Celery task erases the derived data once the lock is free (retried
    for about an hour and a half). Without a worker (tasks run eagerly), it is erased now without the
    lock: a job writing at this moment may store what it read before, until its next run;
    the same when the task cannot be sent (the broker down)."""
    from celery import current_app

    from reco_app.consent.tasks import erase_derived

    if not (current_app.conf.task_always_eager or not current_app.conf.broker_url):
        try:
            erase_derived.apply_async((subjects,), countdown=30)
            return
        except Exception:  # the broker down (often the same Redis as the cache): done here instead
            logger.exception("reco_app: scheduling the erasure of derived data failed; erasing it now")
    from reco_app import privacy

    # (no worker to retry it: as far as it can, without the lock; an unreachable cache is logged)
    privacy.erase_subjects(subjects, skip=WITHDRAWAL_KEEPS, wait=False)


def anonymise(events: QuerySet[Event]) -> int:
    """Replace events by copies that cannot be traced back to a person or a visit: no
    subject, user, visitor, session or context; a new event id; the time cut to the day
    (also as the time received); the copies stored in random order. What remains is which
    products one unnamed shopper viewed, carted or bought on which days (the copies of one
    withdrawal are stored together), for aggregate figures such as popularity."""
    rows = list(events.values_list("product_key", "event_type", "value", "timestamp", "source"))
    events.delete()
    random.SystemRandom().shuffle(rows)
    copies = [
        Event(event_id=uuid.uuid4(), subject="", visitor_id="", session_id="", user=None, context={},
              consent=ConsentBasis.ANONYMISED, product_key=product, event_type=kind, value=value,
              timestamp=_day(at), source=source)
        for product, kind, value, at, source in rows
    ]
    created = Event.objects.bulk_create(copies, batch_size=1000)
    # received_at is set on insert (auto_now_add): the moment of the withdrawal would tie the copies together
    Event.objects.filter(pk__in=[e.pk for e in created if e.pk is not None]).update(received_at=F("timestamp"))
    return len(rows)


def _day(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
