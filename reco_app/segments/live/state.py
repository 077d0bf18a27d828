"""The per-shopper live state kept in the cache, so most events need no query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from reco_app import cache


@dataclass
class LiveState:
    """What the last evaluation saw, cached per shopper so most events need no query:
    the session of a pending cart ("" if none), the live memberships (key → (pk, expiry))
    and the session of the newest event ("" when cached by an older version)."""

    cart_session: str
    members: dict[str, tuple[int, dt.datetime | None]]
    session: str = ""


def _state_key(subject: str) -> str:
    return cache.make_key("live", "state", subject)


def load_state(subject: str) -> LiveState | None:
    found = cache.get(_state_key(subject))
    return LiveState(*found) if isinstance(found, tuple) and len(found) in (2, 3) else None


def load_states(subjects: list[str]) -> dict[str, LiveState | None]:
    """:func:`load_state` for several shoppers in one cache round trip."""
    keys = {_state_key(s): s for s in subjects}
    found = cache.get_many(list(keys))
    out: dict[str, LiveState | None] = {}
    for key, subject in keys.items():
        value = found.get(key)
        out[subject] = LiveState(*value) if isinstance(value, tuple) and len(value) in (2, 3) else None
    return out


def forget_state(subjects: Iterable[str]) -> None:
    cache.delete(*(_state_key(s) for s in subjects))

