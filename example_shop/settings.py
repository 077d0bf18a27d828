"""Settings of the example_shop demo.

Embedded default: SQLite, local-memory cache, Celery tasks run eagerly in-process.
Services mode, selected by environment variables: ``DATABASE_URL`` (PostgreSQL),
``REDIS_URL`` (django-redis cache), ``CELERY_BROKER_URL`` (a real Celery broker).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from reco_app.schedule import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RECO_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-shop-insecure-dev-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "cookie_consent",
    "reco_app",
    "example_shop.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "reco_app.tracking.middleware.RecoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_shop.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # the shop's layout for django-cookie-consent's pages (cookie_consent/base.html), found
        # before the library's own
        "DIRS": [BASE_DIR / "example_shop" / "shop" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_shop.shop.context_processors.shop",
            ],
        },
    },
]

WSGI_APPLICATION = "example_shop.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    try:
        import psycopg  # noqa: F401  (Django uses psycopg 3 whenever it can import it)
    except ImportError:
        pass  # psycopg2 has no prepared statements
    else:
        # reco_app's single-event INSERT (page views, beacons) becomes a server-side prepared
        # statement once a connection has run it five times: less CPU in the web process and
        # in PostgreSQL (docs/installation.rst). Django's own queries are not prepared. Leave
        # this out behind a transaction-pooling PgBouncer before 1.21 or without
        # max_prepared_statements.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "shop"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                # Redis down means slower, not broken.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    # Sessions read from Redis, written through to the database: a logged-in shopper's
    # requests (beacons included) skip the session query. Without a shared cache the
    # plain database backend stays (a per-process cache could serve a stale session).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# every periodic task of reco_app (segments, training, retention), for `celery beat`
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
}
SPECTACULAR_SETTINGS = {"TITLE": "reco_app API", "VERSION": "0.1.0"}

# --- reco_app -------------------------------------------------------------------------
RECO_APP = {
    # Customer keys are usernames (the seeded history uses "c00042"-style usernames).
    "ADAPTER": "example_shop.shop.reco_adapter.ExampleShopAdapter",
    "PRODUCT_MODEL": "shop.Product",
    "PRODUCT_FIELDS": {
        "key": "sku",
        "name": "name",
        "url": "get_absolute_url",
        "image": "image_url",
        "price": "price",
        "category": "category.name",
        "brand": "brand.name",
        "tags": "tags",
        "description": "description",
        "stock": "stock",
        "published": "is_active",
        "launched_at": "created_at",
    },
    "PRODUCT_VIEWS": {"product_detail": "sku"},
    "PAGE_BASE_TEMPLATE": "shop/base.html",
    # SEGMENTS_LIVE_ASYNC unset: with a real broker (and Redis) live segments are evaluated
    # by a worker, not on the request path; in eager mode in the request.
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"reco_app": {"handlers": ["console"], "level": os.environ.get("RECO_LOG_LEVEL", "INFO")}},
}
