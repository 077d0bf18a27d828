"""Device class from the user agent: "bot", "tablet", "mobile", "desktop" or "unknown"
(coarse, and the user agent itself is never stored)."""

from __future__ import annotations

import re

from reco_app import conf
from reco_app.memo import Bounded

TABLET_HINTS = ("ipad", "tablet", "kindle", "silk/", "playbook")
MOBILE_HINTS = ("mobi", "iphone", "ipod", "android", "blackberry", "opera mini", "windows phone")


#: Words of user agents that contain a bot hint but name no bot: CUBOT is a phone brand.
NOT_BOT_WORDS = frozenset({"cubot"})
_bot_patterns: dict[tuple[str, ...], re.Pattern[str]] = {}


def _bot_pattern(hints: list[str]) -> re.Pattern[str]:
    """One compiled alternation of the hints, per configured list."""
    key = tuple(hints)
    pattern = _bot_patterns.get(key)
    if pattern is None:
        _bot_patterns.clear()  # settings changed (tests): keep only the current one
        pattern = _bot_patterns[key] = re.compile("|".join(re.escape(h.lower()) for h in key if h))
    return pattern


def _names_a_bot(ua: str, hints: list[str]) -> bool:
    """A bot hint that starts or ends a word ("Googlebot", "HeadlessChrome", "curl/8"), in a
    word that is not known to name something else ("CUBOT"). Humans' user agents rarely
    contain a hint at all, so they cost one regex search, as the substring tests did."""
    pattern = _bot_pattern(hints)
    if pattern.search(ua) is None:  # the common case: no hint at all
        return False
    for match in pattern.finditer(ua):
        start, end = match.span()
        if start and ua[start - 1].isalnum() and end < len(ua) and ua[end].isalnum():
            continue  # inside a word: "abbott"
        while start and ua[start - 1].isalnum():
            start -= 1
        while end < len(ua) and ua[end].isalnum():
            end += 1
        if ua[start:end] not in NOT_BOT_WORDS:
            return True
    return False


#: answers per user agent for the configured bot hints (a browser sends the same user agent
#: with every request, and most visitors share a few): bounded, and only for user agents of
#: ordinary length; forgotten when the hints change (settings)
_answers: Bounded[str, str] = Bounded(2048)
_answers_for: list[object] = [None]
ANSWERED_LENGTH = 512


def device_class(user_agent: str) -> str:
    """"bot", "tablet", "mobile", "desktop" or "unknown" — coarse, from the user agent only."""
    hints = conf.get("BOT_USER_AGENTS")
    if _answers_for[0] is not hints:
        _answers.clear()
        _answers_for[0] = hints
    found = _answers.get(user_agent)
    if found is None:
        found = _device_class(user_agent, hints)
        if len(user_agent) <= ANSWERED_LENGTH:
            _answers.keep(user_agent, found)
    return found


def _device_class(user_agent: str, hints: list[str]) -> str:
    ua = user_agent.lower()
    if not ua:
        return "unknown"
    if _names_a_bot(ua, hints):
        return "bot"
    if any(hint in ua for hint in TABLET_HINTS) or ("android" in ua and "mobile" not in ua):
        return "tablet"
    if any(hint in ua for hint in MOBILE_HINTS):
        return "mobile"
    return "desktop"
