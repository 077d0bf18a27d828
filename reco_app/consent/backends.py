"""Consent backends: "may we store personalisation events for this visitor?"

A backend answers with the visitor's *explicit* decision (granted / denied / unknown) and
knows how to record a new one. Browser privacy signals (GPC/DNT) and the opt-in/opt-out
regime are applied on top of it by :mod:`reco_app.consent.state`, so every backend gets
them for free. Name your backend in ``RECO_APP["CONSENT_BACKEND"]``.
"""

from __future__ import annotations

import enum
import time
from functools import cache
from typing import Any

from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from reco_app import conf


class Decision(enum.StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


class ConsentBackend:
    """Base class. Subclasses implement :meth:`decision`, :meth:`grant` and :meth:`refuse`."""

    def decision(self, request: HttpRequest) -> Decision:
        """The visitor's explicit decision, read from the request (no side effects)."""
        raise NotImplementedError

    def grant(self, request: HttpRequest, response: HttpResponseBase) -> None:
        """Remember that the visitor accepted personalisation (e.g. set a cookie)."""
        raise NotImplementedError

    def refuse(self, request: HttpRequest, response: HttpResponseBase) -> None:
        """Remember that the visitor refused or withdrew consent."""
        raise NotImplementedError

    def accepted_in(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """Does this response record an acceptance made outside reco_app's buttons (the
        shop's own cookie settings page)? It is then recorded on a signed-in account."""
        return False


class CookieConsentBackend(ConsentBackend):
    """django-cookie-consent: acceptance of the ``CONSENT_COOKIE_GROUP`` cookie group.

    A logged-in user without a cookie decision falls back to their latest
    :class:`~reco_app.models.ConsentRecord`, so consent follows the account across devices;
    a refusal recorded on the account (withdrawn on another device or on the "Your data"
    page, a privacy signal under opt-out) also outranks an acceptance kept only in this
    browser, until the shopper accepts again while signed in (which records a grant).
    """

    def decision(self, request: HttpRequest) -> Decision:
        # django-cookie-consent's AppConf (its names are not Django's), and its cookie parser
        cc_settings, parse_cookie_str = _cookie_consent()

        raw = request.COOKIES.get(cc_settings.COOKIE_CONSENT_NAME, "")
        varname = conf.get("CONSENT_COOKIE_GROUP")
        value = parse_cookie_str(raw).get(varname) if raw else None
        if value == cc_settings.COOKIE_CONSENT_DECLINE:
            return Decision.DENIED
        if value is not None and value < group_version(varname):
            # accepted before the shop added a cookie to the group: django-cookie-consent
            # asks again, so the acceptance no longer counts (a group without cookies, as
            # reco_app ships it, has no version: every acceptance counts)
            value = None
        if value is not None:
            account = self._account_decision(request)
            if account is Decision.DENIED:
                # (the account's refusal, made elsewhere, not this browser's: see consent_gone)
                request.reco_denied_by_account = True  # type: ignore[attr-defined]
                return Decision.DENIED
            return Decision.GRANTED
        account = self._account_decision(request)
        user = getattr(request, "user", None)
        if account is not Decision.DENIED and user is not None and user.is_authenticated:
            # tracked (with the account's grant, or in the opt-out regime) for the account
            # only: the visitor cookie says so, so that the account leaving the browser
            # ends it without withdrawing anything (tracking.context.update_cookie)
            request.reco_consent_of_account = True  # type: ignore[attr-defined]
        return account

    def _account_decision(self, request: HttpRequest) -> Decision:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return Decision.UNKNOWN
        return account_decision(user)

    def _process(self, request: HttpRequest, response: HttpResponseBase, action: str) -> None:
        from cookie_consent.processor import CookiesProcessor

        group = ensure_cookie_group()
        CookiesProcessor(request, response).process([group], action=action)  # type: ignore[arg-type]

    def accepted_in(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        """The response sets django-cookie-consent's cookie with the group accepted, and
        the request's cookie did not accept it yet: an acceptance on its own page."""
        from cookie_consent.conf import settings
        from cookie_consent.util import parse_cookie_str

        cc_settings: Any = settings
        morsel = response.cookies.get(cc_settings.COOKIE_CONSENT_NAME)
        if morsel is None or not morsel.value:
            return False
        varname = conf.get("CONSENT_COOKIE_GROUP")
        now = parse_cookie_str(morsel.value).get(varname)
        before = parse_cookie_str(request.COOKIES.get(cc_settings.COOKIE_CONSENT_NAME, "")).get(varname)
        accepted = now is not None and now != cc_settings.COOKIE_CONSENT_DECLINE
        return accepted and (before is None or before == cc_settings.COOKIE_CONSENT_DECLINE)

    def grant(self, request: HttpRequest, response: HttpResponseBase) -> None:
        self._process(request, response, "accept")

    def refuse(self, request: HttpRequest, response: HttpResponseBase) -> None:
        self._process(request, response, "decline")


@cache
def _cookie_consent() -> tuple[Any, Any]:
    """django-cookie-consent's settings and cookie parser, imported once the app registry is
    ready (an import statement in a function costs every request a failed module attribute
    lookup)."""
    from cookie_consent.conf import settings
    from cookie_consent.util import parse_cookie_str

    return settings, parse_cookie_str


#: how long a process reads the cookie group's version from its memory (a cookie added to
#: the group in the admin is seen by the other processes within this delay)
GROUP_VERSION_SECONDS = 60.0
_group_versions: dict[str, tuple[float, str]] = {}


def group_version(varname: str) -> str:
    """The version of the cookie group as django-cookie-consent reads it (its newest cookie's
    creation; "" without cookies): acceptances older than that are undecided again."""
    now = time.monotonic()
    found = _group_versions.get(varname)
    if found is not None and found[0] > now:
        return found[1]
    from cookie_consent.cache import get_cookie_group

    group = get_cookie_group(varname=varname)
    version = group.get_version() if group is not None else ""
    _group_versions[varname] = (now + GROUP_VERSION_SECONDS, version)
    return version


@receiver(post_save, sender="cookie_consent.Cookie", dispatch_uid="reco_app_cookie_saved")
@receiver(post_delete, sender="cookie_consent.Cookie", dispatch_uid="reco_app_cookie_deleted")
def forget_group_versions(**kwargs: Any) -> None:
    """A cookie of a group changed in this process: read the versions again."""
    _group_versions.clear()


def account_decision(user: Any) -> Decision:
    """The user's latest recorded decision (cached until the next record)."""
    from reco_app import cache

    key = account_decision_key(user.pk)
    value = cache.get(key)
    if value is None:
        value = latest_decision(user.pk)
        # add, not set: a decision recorded since the read above has written its own value
        # once committed (reco_app.tracking.receivers), which this must not replace
        cache.add(key, value)
    return Decision(value)


def latest_decision(user_pk: Any) -> str:
    """The user's latest recorded decision, read from the database."""
    from reco_app.models import ConsentRecord

    granted = ConsentRecord.objects.filter(user=user_pk).values_list("granted", flat=True).first()
    return str(Decision.UNKNOWN if granted is None else Decision.GRANTED if granted else Decision.DENIED)


def account_decision_key(user_pk: Any) -> str:
    from reco_app import cache

    return cache.make_key("consent", "user", user_pk)


def ensure_cookie_group() -> Any:
    """The personalisation cookie group (cached), created on first use if the migration did not."""
    from cookie_consent.cache import get_cookie_group
    from cookie_consent.models import CookieGroup

    varname = conf.get("CONSENT_COOKIE_GROUP")
    cached = get_cookie_group(varname=varname)
    if cached is not None:
        return cached
    group, _ = CookieGroup.objects.get_or_create(
        varname=varname,
        defaults={
            "name": "Personalised recommendations",
            "description": (
                "Remember the products you look at on this shop so we can recommend "
                "products for you. Without it you still get popular and similar products."
            ),
            "is_required": False,
            "is_deletable": True,
        },
    )
    return group


@cache
def get_backend() -> ConsentBackend:
    backend: ConsentBackend = import_string(conf.get("CONSENT_BACKEND"))()
    return backend


@receiver(setting_changed)
def _reset_backend(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        get_backend.cache_clear()
        _group_versions.clear()
