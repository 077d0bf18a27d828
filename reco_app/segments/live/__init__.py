"""Live segments: rules evaluated as events arrive, with an expiry.

Rules are small classes named in ``SEGMENTS_LIVE_RULES`` (dotted path, or ``(path,
options)``). Each sees the shopper's recent consented events and returns the live
segments they belong to *now*; a rule is authoritative for its key prefix, so a
membership it no longer returns is removed (a purchase ends "high intent").

* :mod:`.rules` — what a rule sees and answers, the base class and the shipped rules;
* :mod:`.state` — the per-shopper state cached so most events need no query;
* :mod:`.recent` — a shopper's recent events as the rules see them (one or many shoppers);
* :mod:`.events` — what newly stored events trigger: the relevant rules, queued or run;
* :mod:`.engine` — running the rules for one shopper and in the sweep;
* :mod:`.queue` and :mod:`.drain` — the queued rules (``SEGMENTS_LIVE_ASYNC``) and the
  task that evaluates the queued shoppers together;
* :mod:`.store` — the membership table's reads and writes on that hot path.

The names below are this package's public interface (``reco_app.segments.live.HighIntent``
is what settings name).
"""

from reco_app.segments.live.drain import evaluate_many
from reco_app.segments.live.engine import clean_expired, evaluate_subject, rules, sweep
from reco_app.segments.live.events import on_events, receive_event_stored
from reco_app.segments.live.recent import RECENT_LIMIT, load_recent
from reco_app.segments.live.rules import (
    EXPIRY_REFRESH,
    LOOKBACK,
    PASSIVE_TYPES,
    BrowsingCategory,
    CartAbandoned,
    HighIntent,
    LiveHit,
    LiveRule,
    Recent,
)
from reco_app.segments.live.state import LiveState, forget_state, load_state

__all__ = [
    "EXPIRY_REFRESH", "LOOKBACK", "PASSIVE_TYPES", "RECENT_LIMIT", "BrowsingCategory", "CartAbandoned", "HighIntent",
    "LiveHit", "LiveRule", "LiveState", "Recent", "clean_expired", "evaluate_many", "evaluate_subject", "forget_state", "load_recent",
    "load_state", "on_events", "receive_event_stored", "rules", "sweep",
]
