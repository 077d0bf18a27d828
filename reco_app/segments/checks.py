"""System checks of the segments settings (ids reco_app.E7xx / W7xx)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from reco_app import conf
from reco_app.models.segments import BATCH_KINDS

LIFECYCLE_KEYS = {"new_visitor_days", "at_risk_days", "churned_days", "vip_min_orders", "vip_min_spend"}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@register(Tags.compatibility)
def check_segments(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    cfg = conf.get_config()
    errors: list[Any] = []
    for key in ("SEGMENTS_WINDOW_DAYS", "SEGMENTS_RFM_BINS", "SEGMENTS_CLUSTERS_MIN_EVENTS", "SEGMENTS_CLUSTERS_TOP_CATEGORIES"):
        if not _positive_int(cfg.get(key)):
            errors.append(Error(f'RECO_APP["{key}"] must be a positive integer.', id="reco_app.E701"))

    lifecycle = cfg.get("SEGMENTS_LIFECYCLE")
    if not isinstance(lifecycle, dict) or set(lifecycle) != LIFECYCLE_KEYS or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in lifecycle.values()
    ):
        errors.append(Error(f'RECO_APP["SEGMENTS_LIFECYCLE"] must map {sorted(LIFECYCLE_KEYS)} to non-negative numbers.', id="reco_app.E702"))
    elif not lifecycle["at_risk_days"] < lifecycle["churned_days"]:
        errors.append(Warning('RECO_APP["SEGMENTS_LIFECYCLE"]: at_risk_days should be less than churned_days, or no buyer is ever "at risk".', id="reco_app.W701"))

    k, k_range = cfg.get("SEGMENTS_CLUSTERS_K"), cfg.get("SEGMENTS_CLUSTERS_K_RANGE")
    if k is not None and not _positive_int(k):
        errors.append(Error('RECO_APP["SEGMENTS_CLUSTERS_K"] must be None or a positive integer.', id="reco_app.E703"))
    if not (isinstance(k_range, (list, tuple)) and len(k_range) == 2 and all(_positive_int(v) for v in k_range) and 2 <= k_range[0] <= k_range[1]):
        errors.append(Error('RECO_APP["SEGMENTS_CLUSTERS_K_RANGE"] must be [smallest, largest] with 2 <= smallest <= largest.', id="reco_app.E703"))

    from reco_app.segments.live import LiveRule

    for entry in cfg.get("SEGMENTS_LIVE_RULES") or []:
        path = entry if isinstance(entry, str) else (entry[0] if isinstance(entry, (list, tuple)) and entry else entry)
        try:
            rule = import_string(path)
            if not (isinstance(rule, type) and issubclass(rule, LiveRule)):
                why = "not a LiveRule subclass"
            elif not isinstance(entry, str):
                rule(**entry[1])
                why = ""
            else:
                why = ""
        except (ImportError, TypeError, IndexError) as exc:
            why = str(exc)
        if why:
            errors.append(Error(f'RECO_APP["SEGMENTS_LIVE_RULES"] entry {entry!r} is not usable: {why}', id="reco_app.E704"))

    wait = cfg.get("SEGMENTS_LIVE_DELAY")
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 3600:
        errors.append(Error('RECO_APP["SEGMENTS_LIVE_DELAY"] must be a number of seconds from 0 to 3600.', id="reco_app.E706"))

    kinds = cfg.get("SEGMENTS_USER_FEATURE_KINDS")
    if not isinstance(kinds, (list, tuple)) or not set(kinds) <= set(BATCH_KINDS):
        errors.append(Error(f'RECO_APP["SEGMENTS_USER_FEATURE_KINDS"] must list kinds among {[str(k) for k in BATCH_KINDS]}.', id="reco_app.E705"))
    return errors
