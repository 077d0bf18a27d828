from __future__ import annotations

import time

from reco_app.serving.tokens import make_token, parse_token


def test_a_token_round_trips() -> None:
    token = make_token("similar", "SH-03", 2, 7)
    parsed = parse_token(token)
    assert parsed is not None
    assert (parsed.placement, parsed.product_key, parsed.position, parsed.model_version) == ("similar", "SH-03", 2, 7)
    assert abs(parsed.issued_at - time.time()) < 5


def test_forged_or_expired_tokens_are_refused() -> None:
    token = make_token("for_you", "SH-03", 1)
    # one character of the signature changed (the second-to-last carries six bits of it)
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert forged != token and parse_token(forged) is None
    assert parse_token("not-a-token") is None
    assert parse_token(make_token("for_you", "SH-03", 1, issued_at=int(time.time()) - 3600), max_age=60) is None


def test_tokens_are_exactly_djangos_signatures() -> None:
    # the token signer derives its HMAC key once; its signatures must stay Django's own
    from django.core import signing

    from reco_app import conf

    token = make_token("for_you", "SKU-1", 3, 7, issued_at=1_800_000_000)
    assert signing.Signer(salt=conf.get("TOKEN_SALT")).unsign_object(token) == ["for_you", "SKU-1", 3, 7, 1_800_000_000]
    # and the whole token is the string Django's sign_object makes (payload encoding included:
    # a key with quotes and non-ASCII, no model version)
    payload = ["similar", 'SKU "ä"/1', 12, None, 1_800_000_000]
    assert make_token(*payload[:4], issued_at=1_800_000_000) == signing.Signer(salt=conf.get("TOKEN_SALT")).sign_object(payload)
    forged = signing.Signer(salt="another salt").sign_object(["for_you", "SKU-1", 3, 7, 1_800_000_000])
    assert parse_token(forged) is None
