"""System checks of the tracking & consent settings (ids reco_app.E1xx / W1xx)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from reco_app import conf

MIDDLEWARE = "reco_app.tracking.middleware.RecoMiddleware"


@register(Tags.compatibility)
def check_tracking(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    cfg = conf.get_config()
    errors: list[Any] = []
    try:
        from reco_app.consent.backends import ConsentBackend

        backend = import_string(cfg["CONSENT_BACKEND"])
        why = "" if isinstance(backend, type) and issubclass(backend, ConsentBackend) else "not a ConsentBackend subclass"
    except ImportError as exc:
        why = str(exc)
    if why:
        errors.append(Error(f'RECO_APP["CONSENT_BACKEND"] is not a usable consent backend: {why}', id="reco_app.E101"))
    if cfg["CONSENT_MODE"] not in ("opt_in", "opt_out"):
        errors.append(Error('RECO_APP["CONSENT_MODE"] must be "opt_in" or "opt_out".', id="reco_app.E102"))
    if cfg["WITHDRAWAL_ACTION"] not in ("delete", "anonymise"):
        errors.append(Error('RECO_APP["WITHDRAWAL_ACTION"] must be "delete" or "anonymise".', id="reco_app.E103"))
    mw = list(getattr(settings, "MIDDLEWARE", []))
    if MIDDLEWARE in mw:
        auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
        if auth in mw and mw.index(auth) > mw.index(MIDDLEWARE):
            errors.append(Error(f"{MIDDLEWARE} must come after {auth}.", id="reco_app.E104"))
    else:
        errors.append(Warning(f"{MIDDLEWARE} is not in MIDDLEWARE: no automatic product views, no visitor cookie.", id="reco_app.W101"))
    if cfg["CONSENT_BACKEND"].endswith("CookieConsentBackend") and "cookie_consent" not in settings.INSTALLED_APPS:
        errors.append(Error('The default consent backend needs "cookie_consent" in INSTALLED_APPS.', id="reco_app.E105"))
    return errors
