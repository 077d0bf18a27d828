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
    # Placements: name -> pipeline (sources with weights, filters, ranker, fallback).
    # Shops add their own or override ours by name; see docs/serving.rst.
    "PLACEMENTS": {},  # merged over reco_app.serving.placements.DEFAULT_PLACEMENTS
    "RULES_STAGE": "reco_app.rules.engine.RulesStage",
    # Signing salt and lifetime (seconds) of rec tokens carried by rendered cards.
    "TOKEN_SALT": "reco_app.rec",
    "TOKEN_MAX_AGE": 7 * 24 * 3600,
    # How far back serving looks at a shopper's events, and how many it reads.
    "HISTORY_DAYS": 90,
    "HISTORY_LIMIT": 50,
    # Trending: half-life of the time decay, and the window of events read.
    "TRENDING_HALF_LIFE_DAYS": 7.0,
    "TRENDING_WINDOW_DAYS": 60,
    # Products launched within this many days count as new (new arrivals, exploration).
    "NEW_PRODUCT_DAYS": 30,
    # Seconds a process keeps its event aggregates (trending, co-occurrence) before rebuilding.
    "STATS_REFRESH_SECONDS": 600,
    # Reload a changed catalog index in a background thread, serving the previous one meanwhile.
    "CATALOG_BACKGROUND_RELOAD": True,
    # Seconds between checks of the active model version (besides the "model" cache namespace).
    "MODEL_RECHECK_SECONDS": 30,
    # Per-process layer before the shared cache: lists kept (0 = off), and seconds the
    # versions of the model/rules/catalog namespaces are trusted without asking the cache.
    "LOCAL_CACHE_SIZE": 2048,
    "LOCAL_NS_SECONDS": 1.0,
    # Maximum ``limit`` accepted by the template tags and the API.
    "MAX_LIMIT": 50,

    # --- merchandising rules ----------------------------------------------------------
    # (keys added by the rules area go below this line)

    # --- segments ---------------------------------------------------------------------
    # (keys added by the segments area go below this line)

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
