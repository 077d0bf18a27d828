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
    # Dotted path of the consent backend (subclass of reco_app.consent.backends.ConsentBackend).
    "CONSENT_BACKEND": "reco_app.consent.backends.CookieConsentBackend",
    # django-cookie-consent group whose acceptance allows personalisation events.
    "CONSENT_COOKIE_GROUP": "personalisation",
    # "opt_in" (default; nothing is stored before consent) or "opt_out" (stored unless refused).
    "CONSENT_MODE": "opt_in",
    # Version of the privacy policy consent is given to (stored in consent records).
    "CONSENT_POLICY_VERSION": "1",
    # What withdrawing consent does to stored events: "delete" or "anonymise".
    "WITHDRAWAL_ACTION": "delete",
    # Seconds an erasure (or withdrawal) waits for running segment-job writes before giving up
    # with reco_app.erasure.ErasureBusy (PostgreSQL; None = no limit).
    "ERASURE_LOCK_TIMEOUT": 10,
    # The pseudonymous visitor cookie (signed, HttpOnly, SameSite=Lax).
    "VISITOR_COOKIE_NAME": "reco_v",
    "VISITOR_COOKIE_AGE": 365 * 24 * 3600,
    "VISITOR_COOKIE_SECURE": False,
    # Minutes of inactivity after which a new session id starts.
    "SESSION_TIMEOUT_MINUTES": 30,
    # Event types the browser (beacon endpoint) may send; others come from shop code.
    "BEACON_EVENT_TYPES": ["product_view", "search", "rec_impression", "rec_click", "dwell"],
    "BEACON_MAX_EVENTS": 50,
    "BEACON_MAX_BYTES": 64 * 1024,
    # Server-to-server batch API limits.
    "API_MAX_EVENTS": 500,
    "API_MAX_BYTES": 512 * 1024,
    "API_MAX_EVENT_BYTES": 32 * 1024,
    # DRF throttle rate of the batch API per token ("<n>/<second|minute|hour|day>", None = off).
    "API_RATE": "120/minute",
    # Lower-cased substrings of user agents treated as bots (their events are dropped).
    "BOT_USER_AGENTS": [
        "bot", "crawl", "spider", "slurp", "facebookexternalhit", "headless", "lighthouse",
        "python-requests", "curl/", "wget", "httpclient", "preview", "monitor",
        # HTTP libraries and tools: no browser names them
        "go-http-client", "python-urllib", "python-httpx", "aiohttp", "scrapy", "libwww-perl", "okhttp",
        "axios/", "node-fetch", "java/", "guzzlehttp", "postmanruntime", "mediapartners-google",
    ],
    # Seconds the middleware's product views may wait in a per-process buffer before they
    # are written in one batch (0 = written by the page's own request); and the number of
    # waiting views that are written at once. See reco_app.tracking.buffer.
    "VIEW_BUFFER_SECONDS": 0,
    "VIEW_BUFFER_SIZE": 200,
    # With VIEW_BUFFER_SECONDS: the writer keeps the histories of the shoppers whose views it
    # wrote in the shared cache (tagged, indexed), for their next list. See
    # reco_app.serving.histories.
    "VIEW_BUFFER_HISTORIES": True,
    # Seconds dropped-event counts are buffered per process before being written (0 = at once).
    "DROPPED_COUNT_FLUSH_SECONDS": 5,
    # Template the self-service "my data" page extends (must define a "content" block).
    "PAGE_BASE_TEMPLATE": "reco_app/base.html",

    # --- training ---------------------------------------------------------------------
    # (keys added by the training area go below this line)
    "TRAINING_LOSS": "warp",
    "TRAINING_COMPONENTS": 32,
    "TRAINING_EPOCHS": 30,
    "TRAINING_LEARNING_RATE": 0.08,
    "TRAINING_ITEM_ALPHA": 1e-6,
    "TRAINING_USER_ALPHA": 1e-6,
    "TRAINING_MAX_SAMPLED": 30,
    "TRAINING_RANDOM_STATE": 42,
    "TRAINING_THREADS": 0,  # 0 = one per CPU core
    "TRAINING_PATIENCE": 5,  # early stopping: epochs without validation gain
    "TRAINING_REFIT_EPOCHS": 2,  # after evaluation, epochs over all data incl. the holdout
    "TRAINING_INCREMENTAL_EPOCHS": 3,
    "TRAINING_WINDOW_DAYS": 365,
    "TRAINING_HALF_LIFE_DAYS": 90,
    "TRAINING_HOLDOUT_DAYS": 14,
    "TRAINING_EVAL_K": 10,
    "TRAINING_EVAL_EVENT_TYPES": ["purchase", "add_to_cart"],
    "TRAINING_EVAL_MAX_USERS": 2000,
    "TRAINING_TRENDING_DAYS": 7,
    "TRAINING_PRICE_BANDS": 5,
    "TRAINING_MAX_VOCABULARY": 2000,
    # Share of a known product's feature row held by its identity feature (the rest: metadata).
    "TRAINING_IDENTITY_SHARE": 0.3,
    # Sum of the feature row of a product without history (metadata only); above
    # 1 - TRAINING_IDENTITY_SHARE new products get a lift over the metadata part of known ones.
    "TRAINING_NEW_PRODUCT_WEIGHT": 0.95,
    # Share of a shopper's feature row held by their segment memberships (when
    # SEGMENTS_USER_FEATURE_KINDS makes segments user features).
    "TRAINING_SEGMENT_SHARE": 0.2,
    # Products left out of a shopper's ranking and test set in the evaluation: "purchased"
    # (bought before the cutoff, as the personalised placements filter) or "interacted".
    "TRAINING_EVAL_EXCLUDE": "purchased",
    "TRAINING_GUARDRAIL_METRIC": "ndcg@10",
    "TRAINING_GUARDRAIL_TOLERANCE": 0.0,
    "TRAINING_AUTO_ACTIVATE": True,
    "TRAINING_TIME_LIMIT": 3 * 3600,
    # Retention of model artefacts: besides the active version and the one a rollback would
    # go to, keep the files of the newest N versions and of those younger than these hours;
    # the others' files are deleted (their rows stay, marked pruned).
    "TRAINING_KEEP_VERSIONS": 3,
    "TRAINING_KEEP_HOURS": 24,

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
    # gc.freeze() after loading a catalog index or a model (fewer, shorter collection pauses).
    "GC_FREEZE": True,

    # --- merchandising rules ----------------------------------------------------------
    # (keys added by the rules area go below this line)
    # Highest pin position per placement ({"for_you": 12}); placements not listed use
    # RULES_MAX_PIN_POSITION.
    "RULES_PLACEMENT_LIMITS": {},
    "RULES_MAX_PIN_POSITION": 24,
    # Days of history the merchandising dashboard shows.
    "DASHBOARD_DAYS": 30,
    # DroppedEventCount reasons that mean "no consent" on the dashboard.
    "DASHBOARD_CONSENT_REASONS": ["no_consent", "gpc", "dnt", "refused"],

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
    # Evaluate live rules in a Celery task instead of where the events are stored; None:
    # when Celery tasks go to a worker (not eager) and the cache is Redis.
    "SEGMENTS_LIVE_ASYNC": None,
    # With SEGMENTS_LIVE_ASYNC and a Redis cache: seconds between drains of the live queue.
    "SEGMENTS_LIVE_DELAY": 2.0,
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
