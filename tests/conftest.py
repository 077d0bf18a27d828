from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

REQUIRE_SERVICES = os.environ.get("RECO_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def fresh_serving_state(settings):  # type: ignore[no-untyped-def]
    """Each test starts with no process-level serving state and an empty cache, so no test
    is served another test's catalog index or model.

    Catalog reloads happen inline so a test sees its own changes at once
    (tests/serving/test_cache.py covers the background reload).
    """
    from django.core.cache import caches

    from reco_app.serving import catalog_index, local_cache, model_store, stats

    settings.RECO_APP = {**settings.RECO_APP, "CATALOG_BACKGROUND_RELOAD": False}
    caches["default"].clear()
    local_cache.clear()
    catalog_index.reset()
    model_store.reset()
    stats.reset()
    yield
    catalog_index.reset()
    model_store.reset()
    stats.reset()
    # dropped-event counts a test buffered belong to its database, not the next test's (nor
    # to the exit flush, when the test database is gone)
    from reco_app.tracking import dropped

    dropped._pending.clear()


@pytest.fixture(scope="session", autouse=True)
def _test_database_left_to_drop(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Connections that outlive the tests on PostgreSQL (the product-view writer thread
    keeps its own for ``CONN_MAX_AGE``) are ended before pytest-django drops the test
    database. Otherwise the drop fails ("being accessed by other users") and the database
    is left behind."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_db(db):  # type: ignore[no-untyped-def]
    """Skip (or, in CI, fail) unless the test database is PostgreSQL."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        _skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return db


@pytest.fixture
def redis_cache():  # type: ignore[no-untyped-def]
    """Skip (or, in CI, fail) unless the default cache is a reachable Redis."""
    if not os.environ.get("REDIS_URL"):
        _skip_or_fail("needs Redis: set REDIS_URL=redis://...")
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").ping()
    except Exception as exc:  # noqa: BLE001
        _skip_or_fail(f"Redis at REDIS_URL is not reachable: {exc}")
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def celery_worker_process(postgres_db, transactional_db, tmp_path):  # type: ignore[no-untyped-def]
    """A real Celery worker (subprocess) on CELERY_BROKER_URL, seeing this test's database."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker or settings.CELERY_TASK_ALWAYS_EAGER:
        _skip_or_fail("needs a Celery broker: set CELERY_BROKER_URL=redis://...")
    from example_shop.celery import app
    from tests.helpers import ROOT, service_env, stop_process

    try:
        app.control.purge()
    except Exception as exc:  # noqa: BLE001
        _skip_or_fail(f"Celery broker at CELERY_BROKER_URL is not reachable: {exc}")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "example_shop", "worker", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            env=service_env(tmp_path), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield app, log
    finally:
        stop_process(proc)


CHROMIUM = "/usr/bin/chromium"
# HeadlessChrome's own user agent counts as a bot for tracking; browser tests pose as a desktop browser.
DESKTOP_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture
def browser_page(monkeypatch):  # type: ignore[no-untyped-def]
    """A Playwright page in headless Chromium (/usr/bin/chromium) with a desktop user agent."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls in tests stay sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(user_agent=DESKTOP_USER_AGENT, viewport={"width": 1280, "height": 1400})
        try:
            yield context.new_page()
        finally:
            # While Playwright's loop runs in this thread, Django keeps the test's database
            # connections in context-local storage that pytest-django's teardown never sees:
            # close them here, or PostgreSQL refuses to drop the test database ("being
            # accessed by other users").
            from django.db import connections

            connections.close_all()
            context.close()
            browser.close()
