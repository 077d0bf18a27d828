"""``request.reco``: the lazy visitor context attached by the tracking middleware (the
device class comes from :mod:`reco_app.tracking.devices`).

Nothing is computed until asked for: a page that never looks at ``request.reco`` pays for
one object allocation. The raw user agent and IP address are read but never stored.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponseBase

from reco_app import conf
from reco_app.consent.state import ConsentState, evaluate
from reco_app.memo import Bounded
from reco_app.models.events import visitor_subject
from reco_app.tracking.devices import device_class

COOKIE_SALT = "reco_app.visitor"
#: the visitor cookie's last field when the browser is tracked for the signed-in account's
#: consent only (it has no decision of its own): this letter and a digest of the account
ACCOUNT_FLAG = "a"
_TAG_CHARS = 12


def account_tag(account: str) -> str:
    """The cookie's name for an account ("<user model label>:<pk>": it stays when the
    customer key changes), a digest."""
    return ACCOUNT_FLAG + hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:_TAG_CHARS]


def _is_account_tag(value: str) -> bool:
    return (len(value) == 1 + _TAG_CHARS and value[0] == ACCOUNT_FLAG
            and all(c in "0123456789abcdef" for c in value[1:]))


# Re-issue the cookie at most this often to keep the inactivity clock fresh.
REFRESH_SECONDS = 60


_signers: dict[tuple[Any, ...], signing.Signer] = {}
#: visitor cookies this process has verified, by their signed value: a browser sends the
#: same cookie with each request until it is re-issued (at most every REFRESH_SECONDS), so
#: its HMAC is checked once, not on every page. Only the current key configuration's.
_verified: Bounded[str, str] = Bounded(10_000)


def cookie_signer() -> signing.Signer:
    """Django's cookie signer for the visitor cookie, built once per key configuration
    (``get_signed_cookie`` would derive it again on every request)."""
    name = conf.get("VISITOR_COOKIE_NAME")
    config = (name, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS), settings.SIGNING_BACKEND)
    signer = _signers.get(config)
    if signer is None:
        _signers.clear()  # settings changed (tests): keep only the current one
        _verified.clear()  # (verified with another key)
        signer = _signers[config] = signing.get_cookie_signer(salt=name + COOKIE_SALT)
    return signer


def unsign_cookie(value: str) -> str:
    """The visitor cookie's value, checked: what ``cookie_signer().unsign`` returns (and
    raises), remembered for the cookies that passed."""
    signer = cookie_signer()
    found = _verified.get(value)
    if found is None:
        found = _verified.keep(value, signer.unsign(value))
    return found


class VisitorContext:
    """Who is visiting, in which session, on what kind of device, and what they consented to."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self._now = time.time()

    # --- the signed cookie: "<visitor id>:<session id>:<last seen unix time>[:a<tag>]" ---
    # (":a<tag>": the browser has no consent decision of its own and is tracked for the
    # consent of the account signed in there, named by a digest of the account; see
    # update_cookie)
    @cached_property
    def _signed(self) -> tuple[tuple[str, str, float], str] | None:
        value = self.request.COOKIES.get(conf.get("VISITOR_COOKIE_NAME"))
        if not value:
            return None
        try:
            vid, sid, last, *rest = unsign_cookie(value).split(":")
            if not vid or len(rest) > 1 or (rest and not _is_account_tag(rest[0])):
                return None
            return (vid, sid, float(last)), (rest[0] if rest else "")
        except (signing.BadSignature, ValueError, KeyError):
            return None

    @property
    def _cookie(self) -> tuple[str, str, float] | None:
        """(visitor id, session id, last seen) of the browser's cookie; None also when it was
        the tracking of an account no longer signed in here (signed out, another account):
        that id is the account's, not this visitor's."""
        if not self._signed or self._account_left:
            return None
        return self._signed[0]

    @property
    def _account_left(self) -> bool:
        """The cookie is that of an account's tracking, and that account is not the one
        signed in now."""
        return bool(self._signed and self._signed[1]) and not self.tracked_for_this_account

    @property
    def tracked_for_this_account(self) -> bool:
        """The browser's cookie is that of the signed-in account's tracking (it had no
        decision of its own while that account was signed in here)."""
        return bool(self._signed and self._signed[1]) and self._signed[1] == self._account_tag()  # type: ignore[index]

    def _account_tag(self) -> str:
        user = self.user
        return account_tag(f"{user._meta.label}:{user.pk}") if user is not None else ""

    @property
    def known_visitor_id(self) -> str:
        """The visitor id the browser brought in a valid cookie ("" if none), consent or not."""
        return self._cookie[0] if self._cookie else ""

    @cached_property
    def consent(self) -> ConsentState:
        return evaluate(self.request)

    def reread_consent(self) -> None:
        """Evaluate consent (and what follows from it) again on next use: the request signed
        in, it was read for someone else."""
        for name in ("consent", "visitor_id", "session_id"):
            self.__dict__.pop(name, None)
        for flag in ("reco_consent_of_account", "reco_denied_by_account"):
            self.request.__dict__.pop(flag, None)

    @property
    def consent_read_at(self) -> float:
        """The consent this request acts on is what it brought when it began (its cookies),
        however late it is evaluated: a withdrawal after that removes what this request
        stores (:mod:`reco_app.consent.late`)."""
        return self._now

    @cached_property
    def device(self) -> str:
        return device_class(self.request.META.get("HTTP_USER_AGENT", ""))

    @property
    def is_bot(self) -> bool:
        return self.device == "bot"

    @property
    def may_track(self) -> bool:
        return self.consent.allowed and not self.is_bot

    @cached_property
    def visitor_id(self) -> str:
        """Pseudonymous random id; "" until consent allows a cookie."""
        if not self.may_track:
            return ""
        return self._cookie[0] if self._cookie else uuid.uuid4().hex

    @cached_property
    def session_id(self) -> str:
        """Random id of the current visit; a new one after the inactivity timeout."""
        if not self.may_track:
            return ""
        # the cookie's time is re-written at most every REFRESH_SECONDS, so the last request
        # may be up to that much later than it says: a visit is never cut short, and a new
        # one starts at most REFRESH_SECONDS after the timeout
        if self._cookie and self._visit_goes_on(self._cookie[2]):
            return self._cookie[1]
        return uuid.uuid4().hex[:16]

    def _visit_goes_on(self, last_seen: float) -> bool:
        return self._now - last_seen < conf.get("SESSION_TIMEOUT_MINUTES") * 60 + REFRESH_SECONDS

    @property
    def user(self) -> Any | None:
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None

    @property
    def subject(self) -> str:
        """The key events are stored under: the customer key, else ``anon:<visitor id>``."""
        user = self.user
        if user is not None:
            from reco_app.adapter import subject_of

            return subject_of(user)
        return visitor_subject(self.visitor_id) if self.visitor_id else ""

    @property
    def anonymous_subject(self) -> str:
        return visitor_subject(self.visitor_id) if self.visitor_id else ""

    def update_cookie(self, response: HttpResponseBase) -> None:
        """Set the visitor cookie only with consent; remove it when consent is gone."""
        self._record_acceptance(response)
        name = conf.get("VISITOR_COOKIE_NAME")
        if not self.may_track:
            if self.is_bot:
                return
            had_cookie = bool(self.request.COOKIES.get(name))
            if had_cookie:
                response.delete_cookie(name, samesite="Lax")
            if had_cookie and self._account_left and self._own_decision_stands():
                # tracked only for the account signed in here before (signed out, the session
                # expired, another account signed in): nothing was refused; what the browser
                # sent is the account's, under the account's own consent. Only the visitor
                # cookie goes.
                return
            refused = self.consent.refusal_reason != "no_consent"  # declined, or GPC/DNT
            if had_cookie or (refused and self.user is not None):
                # Consent is gone (refused elsewhere, GPC, expired): so is the history.
                from reco_app.consent.service import consent_gone

                consent_gone(self.request, had_cookie=had_cookie and self._cookie is not None)
            return
        old = self._cookie
        tag = self._account_tag() if getattr(self.request, "reco_consent_of_account", False) else ""
        fresh = (
            old is not None
            and old[0] == self.visitor_id
            and old[1] == self.session_id
            and self._now - old[2] < REFRESH_SECONDS
            and self._signed is not None
            and self._signed[1] == tag
        )
        if fresh:
            return
        self._set_cookie(response, self.visitor_id, self.session_id, tag=tag)

    def _record_acceptance(self, response: HttpResponseBase) -> None:
        """A signed-in shopper accepting outside reco_app's buttons (the shop's cookie
        settings page), for an account without a decision: the proof of the account's
        consent, recorded by the request that accepts (it takes effect from the next)."""
        if self.user is None or self.is_bot:
            return
        from reco_app.consent.backends import Decision, account_decision, get_backend

        if not get_backend().accepted_in(self.request, response):
            return
        if account_decision(self.user) is Decision.UNKNOWN:
            from reco_app.consent.service import record
            from reco_app.models import ConsentRecord

            record(self.user, self.subject, granted=True, method=ConsentRecord.Method.COOKIE_SETTINGS)

    def _own_decision_stands(self) -> bool:
        """No refusal of the browser's own (a decline in its consent cookie)."""
        from reco_app.consent.backends import Decision

        return self.consent.decision is not Decision.DENIED

    def issue_cookie(self, response: HttpResponseBase) -> None:
        """The visitor cookie in the response that grants consent (this request still
        carries the old decision): the requests that follow, also several at once (a page
        opened in two tabs, prefetches), then share one visitor id instead of each minting
        its own. The browser's visitor id and visit are kept where its cookie names them,
        unless a withdrawal forgot that id (a response under way then may have set the cookie
        again): events under it are removed (:mod:`reco_app.consent.late`)."""
        from reco_app.consent.late import visitor_marked

        if self.is_bot:
            return
        old = self._cookie  # (None for the id of an account's tracking the account has left)
        if old and visitor_marked(old[0]):
            old = None
        vid = old[0] if old else uuid.uuid4().hex
        sid = old[1] if old and self._visit_goes_on(old[2]) else uuid.uuid4().hex[:16]
        self._set_cookie(response, vid, sid)

    def _set_cookie(self, response: HttpResponseBase, vid: str, sid: str, *, tag: str = "") -> None:
        flag = f":{tag}" if tag else ""
        response.set_cookie(
            conf.get("VISITOR_COOKIE_NAME"),
            cookie_signer().sign(f"{vid}:{sid}:{int(self._now)}{flag}"),
            max_age=conf.get("VISITOR_COOKIE_AGE"),
            httponly=True,
            samesite="Lax",
            secure=conf.get("VISITOR_COOKIE_SECURE"),
        )


def get_context(request: HttpRequest) -> VisitorContext:
    """``request.reco``, created on the fly when the middleware is not installed."""
    ctx = getattr(request, "reco", None)
    if ctx is None:
        ctx = VisitorContext(request)
        request.reco = ctx  # type: ignore[attr-defined]
    return ctx
