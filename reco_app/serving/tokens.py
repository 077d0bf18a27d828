"""Rec tokens: a signed note on every recommendation shown, for attribution.

A token names the placement, the model version, the position and the product it was
issued for, and when. Cards carry it (``data-reco-token``, ``?rt=``); tracking stores it in
``Event.context["rec_token"]``; the dashboard joins on it. Tampered or expired tokens parse
to ``None``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.utils.encoding import force_bytes, force_str

from reco_app import conf


@dataclass(frozen=True)
class RecToken:
    placement: str
    product_key: str
    position: int
    model_version: int | None
    issued_at: int  # unix seconds


#: ``json.dumps(obj, separators=(",", ":"))`` as Django's JSONSerializer calls it, without
#: building a new encoder for every token (a list shows eight or more of them)
_encode = json.JSONEncoder(separators=(",", ":")).encode


class _Signer(signing.Signer):
    """Django's Signer, with the HMAC key derived once instead of for every signature
    (``salted_hmac`` hashes salt + secret on each call), and JSON objects encoded without
    a new encoder each; same signatures and tokens, byte for byte."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        derived = hashlib.sha256((force_str(self.salt) + "signer" + force_str(self.key)).encode()).digest()
        self._mac = hmac.new(derived, digestmod=hashlib.sha256) if self.algorithm == "sha256" else None

    def signature(self, value: Any, key: Any = None) -> str:
        if key is not None or self._mac is None:
            return super().signature(value, key)
        mac = self._mac.copy()
        mac.update(force_bytes(value))
        return signing.b64_encode(mac.digest()).decode()

    def sign_object(self, obj: Any, serializer: Any = signing.JSONSerializer, compress: bool = False) -> str:
        if serializer is not signing.JSONSerializer or compress:
            return super().sign_object(obj, serializer, compress)
        # Signer.sign_object's steps for this case: JSON, base64, then sign
        return self.sign(signing.b64_encode(_encode(obj).encode("latin-1")).decode())


_signers: dict[tuple[str, str], signing.Signer] = {}


def _signer() -> signing.Signer:
    """One Signer per salt and secret (building one per token would double the cost)."""
    from django.conf import settings

    key = (conf.get("TOKEN_SALT"), settings.SECRET_KEY)
    signer = _signers.get(key)
    if signer is None:
        signer = _signers[key] = _Signer(salt=key[0])
    return signer


def make_token(placement: str, product_key: str, position: int, model_version: int | None = None, issued_at: int | None = None) -> str:
    payload = [placement, product_key, position, model_version, int(time.time() if issued_at is None else issued_at)]
    return _signer().sign_object(payload)


def parse_token(token: str, max_age: int | None = None) -> RecToken | None:
    """The token's content, or ``None`` if it is forged, malformed or older than ``max_age``."""
    if not token or not isinstance(token, str) or len(token) > 500:
        return None
    try:
        data = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return None
    try:
        placement, key, position, version, issued = data
        token_obj = RecToken(str(placement), str(key), int(position), None if version is None else int(version), int(issued))
    except (TypeError, ValueError):
        return None
    limit = conf.get("TOKEN_MAX_AGE") if max_age is None else max_age
    if limit and time.time() - token_obj.issued_at > limit:
        return None
    return token_obj
