"""The ``RECO_APP`` setting: defaults, merging and caching.

Read settings through :func:`get_config` (never at import time). The merged result
is cached and dropped on Django's ``setting_changed`` signal so that
``override_settings(RECO_APP=...)`` works in tests.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # --- shop adapter -----------------------------------------------------------------
    "ADAPTER": "reco_app.adapter.ShopAdapter",
    # "app_label.ModelName" of the shop's product model (required).
    "PRODUCT_MODEL": None,
    # Where the default adapter reads each attribute. Values are attribute paths on the
    # product ("brand.name", "category.name"); a callable attribute is called.
    "PRODUCT_FIELDS": {
        "key": "pk",
        "name": "name",
        "url": "get_absolute_url",
        "image": None,
        "price": "price",
        "category": "category",
        "brand": "brand",
        "tags": "tags",
        "description": "description",
        "stock": "stock",
        "published": None,
        "launched_at": "created_at",
    },
    # URL names of views that show one product, and the URL kwarg naming it
    # (used by the tracking middleware to record product views).
    "PRODUCT_VIEWS": {},
    # --- events -----------------------------------------------------------------------
    "EVENT_WEIGHTS": {
        "product_view": 1.0,
        "search": 0.0,
        "add_to_cart": 3.0,
        "remove_from_cart": -2.0,
        "wishlist_add": 2.0,
        "purchase": 5.0,
        "rating": 1.0,  # multiplied by (rating - 2.5)
        "rec_impression": 0.0,
        "rec_click": 1.0,
    },
    "RETENTION_DAYS": 395,
    "IMPORT_BATCH_SIZE": 20_000,
    # --- infrastructure ---------------------------------------------------------------
    "CACHE_ALIAS": "default",
    "CACHE_TIMEOUT": 300,
    # Django storage alias (settings.STORAGES) for model artifacts.
    "ARTIFACT_STORAGE": "default",
    "ARTIFACT_PREFIX": "reco_app/models",
    # Function(subject) -> list of segment keys (serving and rules read it).
    "SEGMENTS_PROVIDER": "reco_app.segments.service.segments_for",
    # Function(subjects) -> {subject: [segment keys]} used as LightFM user features
    # (None = no user features).
    "USER_FEATURES_PROVIDER": "reco_app.segments.service.user_features",
    # --- tracking & consent -----------------------------------------------------------
    # (keys added by the tracking area go below this line)

    # --- training ---------------------------------------------------------------------
    # (keys added by the training area go below this line)

    # --- serving ----------------------------------------------------------------------
    # (keys added by the serving area go below this line)

    # --- merchandising rules ----------------------------------------------------------
    # (keys added by the rules area go below this line)

    # --- segments ---------------------------------------------------------------------
    # (keys added by the segments area go below this line)
    # Days of consented history the batch segments look at.
    "SEGMENTS_WINDOW_DAYS": 365,
    # Number of RFM score bins (5 = quintiles).
    "SEGMENTS_RFM_BINS": 5,
    # Named RFM segments: (key, name, recency scores, frequency-monetary scores), first match
    # wins; scores are on a 1-5 scale whatever SEGMENTS_RFM_BINS is.
    "SEGMENTS_RFM_NAMES": [
        ("champions", "Champions", [5], [4, 5]),
        ("loyal", "Loyal", [3, 4, 5], [4, 5]),
        ("potential_loyalist", "Potential loyalists", [4, 5], [2, 3]),
        ("new", "New customers", [5], [1]),
        ("promising", "Promising", [4], [1]),
        ("need_attention", "Need attention", [3], [3]),
        ("about_to_sleep", "About to sleep", [3], [1, 2]),
        ("cant_lose", "Can't lose them", [1, 2], [5]),
        ("at_risk", "At risk", [1, 2], [3, 4]),
        ("hibernating", "Hibernating", [2], [1, 2]),
        ("lost", "Lost", [1], [1, 2]),
    ],
    # Lifecycle stage thresholds (days, orders, spend).
    "SEGMENTS_LIFECYCLE": {
        "new_visitor_days": 30,
        "at_risk_days": 90,
        "churned_days": 180,
        "vip_min_orders": 5,
        "vip_min_spend": 1000.0,
    },
    # Behavioural clusters: fixed k (None = choose by silhouette over K_RANGE).
    "SEGMENTS_CLUSTERS_K": None,
    "SEGMENTS_CLUSTERS_K_RANGE": [3, 8],
    "SEGMENTS_CLUSTERS_MIN_EVENTS": 3,
    "SEGMENTS_CLUSTERS_TOP_CATEGORIES": 8,
    "SEGMENTS_CLUSTERS_RANDOM_STATE": 0,
    # Live segment rules (dotted path or (path, options)), evaluated as events arrive.
    "SEGMENTS_LIVE_RULES": [
        "reco_app.segments.live.HighIntent",
        "reco_app.segments.live.CartAbandoned",
        "reco_app.segments.live.BrowsingCategory",
    ],
    # Evaluate live rules in a Celery task instead of where the events are stored.
    "SEGMENTS_LIVE_ASYNC": False,
    # Segment kinds used as LightFM user features, e.g. ["rfm", "lifecycle", "cluster"].
    # Empty by default: on the synthetic benchmark they did not reliably help (docs/segments.rst).
    "SEGMENTS_USER_FEATURE_KINDS": [],

}


@cache
def get_config() -> dict[str, Any]:
    user: dict[str, Any] = getattr(settings, "RECO_APP", {}) or {}
    merged: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        value = user.get(key, default)
        if isinstance(default, dict) and isinstance(value, dict) and value is not default:
            value = {**default, **value}
        merged[key] = value
    for key, value in user.items():
        merged.setdefault(key, value)
    return merged


def get(key: str) -> Any:
    return get_config()[key]


@receiver(setting_changed)
def _reset_config(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        get_config.cache_clear()
