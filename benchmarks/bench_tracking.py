"""Tracking throughput figures (loopback only, bounded loops).

1. Middleware overhead: in-process WSGI throughput of shop pages with and without
   ``RecoMiddleware`` (ratio, target >= 0.9).
2. Beacon events/s: single-event beacons against gunicorn (2 workers), with consent.
3. Batch API events/s into the database (500-event batches), against a raw
   ``bulk_create`` of the same rows as the baseline.

Run: ``python benchmarks/bench_tracking.py`` (DATABASE_URL=postgres://... for PostgreSQL;
without it a temporary SQLite file is used). A throwaway database is created and dropped.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="reco-bench-tracking-"))
os.environ["DJANGO_SETTINGS_MODULE"] = "example_shop.settings"
os.environ["RECO_VAR_DIR"] = str(TMP)
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

PG_URL = os.environ.get("DATABASE_URL", "")
BENCH_DB = "reco_bench_tracking"


def _pg_admin(sql: str) -> None:
    import psycopg

    base = PG_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql)


if PG_URL.startswith("postgres"):
    _pg_admin(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    _pg_admin(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

CSRF = "a" * 32
CONSENT = "cookie_consent=personalisation=2026-01-01"
MW = "reco_app.tracking.middleware.RecoMiddleware"


def setup_data() -> None:
    call_command("migrate", verbosity=0)
    from example_shop.shop.models import Brand, Category, Product

    cat = Category.objects.create(name="Shoes", slug="shoes")
    brand = Brand.objects.create(name="Acme")
    for i in range(12):
        Product.objects.create(sku=f"SKU-{i}", name=f"Runner {i}", category=cat, brand=brand, price="10.00", stock=5)


def wsgi_rate(path: str, cookie: str, seconds: float) -> float:
    handler = WSGIHandler()
    environ_base = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "HTTP_COOKIE": cookie,
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "wsgi.errors": sys.stderr,
    }
    # Requests per CPU-second of this process: on a shared, busy machine wall-clock rates
    # mostly measure the neighbours; CPU time measures our own work (database server time
    # is not included, so storing rows looks cheaper than it is).
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds and n < 20_000:
        environ = {**environ_base, "wsgi.input": io.BytesIO(b"")}
        body = handler(environ, lambda status, headers: None)
        b"".join(body)
        n += 1
    return n / max(time.process_time() - cpu, 1e-9)


def middleware_overhead() -> None:
    print("-- middleware overhead (in-process WSGI, requests per CPU-second) --")
    without = [m for m in settings.MIDDLEWARE if m != MW]
    with_mw = [*without[:5], MW, *without[5:]] if MW not in settings.MIDDLEWARE else list(settings.MIDDLEWARE)
    from django.core import signing

    from reco_app.tracking.context import COOKIE_SALT

    # a returning visitor: valid visitor cookie, seen just now (steady state, no re-signing)
    visitor = signing.get_cookie_signer(salt="reco_v" + COOKIE_SALT).sign(f"{'b' * 32}:s1:{int(time.time()) + 3600}")
    returning = f"{CONSENT}; reco_v={visitor}"
    cases = [("home, no consent", "/", ""), ("product page, no consent", "/p/SKU-1/", ""),
             ("home, consented", "/", returning), ("product page, consented", "/p/SKU-1/", returning)]
    for label, path, cookie in cases:
        rates: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(4):  # interleaved rounds: a busy machine slows both sides alike
            for name, mw in (("without", without), ("with", with_mw)):
                with override_settings(MIDDLEWARE=mw):
                    wsgi_rate(path, cookie, 0.1)  # warm-up
                    rates[name].append(wsgi_rate(path, cookie, 0.8))
        w, wo = statistics.median(rates["with"]), statistics.median(rates["without"])
        note = "  (includes storing the product view)" if label == "product page, consented" else ""
        print(f"{label:28s} without {wo:7.0f}/s  with {w:7.0f}/s  ratio {w / wo:.2f}{note}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def beacon_rate(seconds: float = 8.0, threads: int = 6) -> None:
    print("-- beacon endpoint under gunicorn (2 sync workers) --")
    port = _free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "example_shop.wsgi:application"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # both workers booted and answering
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/reco/api/schema/")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                time.sleep(0.3)
        time.sleep(2)
        from django.contrib.auth import get_user_model

        from reco_app.models import Event

        get_user_model().objects.create_user("bench-shopper", password="x" * 12)
        login = Client()
        assert login.login(username="bench-shopper", password="x" * 12)
        session = f"; sessionid={login.cookies['sessionid'].value}"
        before = Event.objects.count()
        # the first run warms up; "1 (logged in)": a shopper with a session (session + user lookups)
        for per_beacon, seconds_, extra in ((1, 2.0, ""), (1, seconds, ""), (1, seconds, session), (20, seconds, "")):
            counts = [0] * threads
            errors = [0] * threads
            stop = time.perf_counter() + seconds_

            def worker(i: int) -> None:
                cookie = f"{CONSENT}; csrftoken={CSRF}{extra}"
                while time.perf_counter() < stop:
                    events = [{"event_id": str(uuid.uuid4()), "event_type": "rec_impression", "product": "SKU-1",
                               "context": {"rec_token": "t", "placement": "home", "position": k}} for k in range(per_beacon)]
                    body = json.dumps({"csrf": CSRF, "events": events})
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    try:
                        conn.request("POST", "/reco/t/", body=body, headers={
                            "Content-Type": "text/plain;charset=UTF-8", "Origin": f"http://127.0.0.1:{port}",
                            "Cookie": cookie, "User-Agent": "Mozilla/5.0 Firefox/130.0"})
                        response = conn.getresponse()
                        response.read()
                    except OSError:
                        errors[i] += 1
                        continue
                    finally:
                        conn.close()
                    if response.status == 204:
                        counts[i] += per_beacon
                        for header, value in response.getheaders():
                            if header.lower() == "set-cookie" and value.startswith("reco_v="):
                                cookie = f"{CONSENT}; csrftoken={CSRF}{extra}; {value.strip().split(';')[0]}"

            start = time.perf_counter()
            pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            elapsed = time.perf_counter() - start
            if seconds_ != seconds:
                continue
            label = f"{per_beacon:2d} event(s) per beacon" + (" (logged in)" if extra else "")
            print(f"{label:33s} {sum(counts) / elapsed:8.0f} events/s stored  "
                  f"({sum(counts)} events in {elapsed:.1f}s, {sum(errors)} failed requests)")
        stored = Event.objects.count() - before
        print(f"   rows written: {stored}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def batch_rate(batches: int = 40, size: int = 500) -> None:
    print(f"-- batch API into {connection.vendor} ({batches} x {size} events) --")
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from reco_app.models import Event
    from reco_app.tracking.ingest import ingest_batch  # noqa: F401  (warm import)

    user = get_user_model().objects.create_user("bench-feed", password="x" * 12)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    def batch(b: int) -> list[dict[str, object]]:
        return [{"event_id": str(uuid.uuid4()), "event_type": "product_view", "product": f"SKU-{i % 12}",
                 "customer": f"c{(b * size + i) % 997}", "consent": "granted", "session_id": f"s{b}",
                 "context": {"placement": "home"}, "timestamp": "2026-11-01T10:00:00Z"} for i in range(size)]

    bodies = [json.dumps({"events": batch(b)}) for b in range(batches)]
    with override_settings(RECO_APP={**settings.RECO_APP, "API_RATE": None}):
        start, cpu = time.perf_counter(), time.process_time()
        for body in bodies:
            response = client.post("/reco/api/events/", data=body, content_type="application/json")
            assert response.status_code == 201, response.content[:200]
        api = batches * size / (time.perf_counter() - start)
        api_cpu = batches * size / (time.process_time() - cpu)
    rows = [Event(event_type="product_view", product_key="SKU-1", subject=f"c{i}", consent="granted",
                  context={"placement": "home"}, timestamp="2026-11-01T10:00:00Z") for i in range(batches * size)]
    start = time.perf_counter()
    for i in range(0, len(rows), size):
        Event.objects.bulk_create(rows[i:i + size])
    raw = len(rows) / (time.perf_counter() - start)
    print(f"API  {api:8.0f} events/s   raw bulk_create {raw:8.0f} events/s   ratio {api / raw:.2f}")
    print(f"API  {api_cpu:8.0f} events per CPU-second of the web process (database server excluded)")


def main() -> None:
    setup_data()
    middleware_overhead()
    batch_rate()
    beacon_rate()
    from reco_app.tracking.dropped import flush_dropped

    flush_dropped()


if __name__ == "__main__":
    try:
        main()
    finally:
        connection.close()
        if PG_URL.startswith("postgres"):
            _pg_admin(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        shutil.rmtree(TMP, ignore_errors=True)
