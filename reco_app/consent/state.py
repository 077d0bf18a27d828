"""The consent gate: the backend's decision + browser privacy signals + the regime."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from reco_app import conf
from reco_app.consent.backends import Decision, get_backend
from reco_app.models.events import ConsentBasis


@dataclass(frozen=True)
class ConsentState:
    decision: Decision  # the explicit decision of the visitor
    signal: str  # "gpc", "dnt" or "" — a browser privacy signal present on the request
    basis: ConsentBasis | None  # the basis events are stored under, None = do not store

    @property
    def allowed(self) -> bool:
        return self.basis is not None

    @property
    def refusal_reason(self) -> str:
        """Why events are dropped (used as the DroppedEventCount reason)."""
        if self.allowed:
            return ""
        if self.decision is Decision.DENIED:
            return "consent_denied"
        return self.signal or "no_consent"

    def as_dict(self) -> dict[str, object]:
        return {"decision": str(self.decision), "signal": self.signal, "allowed": self.allowed}


def _says_one(value: str) -> bool:
    """``1``, also repeated: a header sent twice (a browser and an extension) reaches the
    application joined with commas ("1, 1")."""
    return bool(value) and "1" in (part.strip() for part in value.split(","))


def privacy_signal(request: HttpRequest) -> str:
    if _says_one(request.META.get("HTTP_SEC_GPC", "")):
        return "gpc"
    if _says_one(request.META.get("HTTP_DNT", "")):
        return "dnt"
    return ""


def evaluate(request: HttpRequest) -> ConsentState:
    """GPC/DNT count as refusal unless the visitor explicitly opted in."""
    decision = get_backend().decision(request)
    signal = privacy_signal(request)
    if decision is Decision.GRANTED:
        return ConsentState(decision, signal, ConsentBasis.GRANTED)
    if decision is Decision.UNKNOWN and not signal and conf.get("CONSENT_MODE") == "opt_out":
        return ConsentState(decision, signal, ConsentBasis.OPT_OUT)
    return ConsentState(decision, signal, None)
