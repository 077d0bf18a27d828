"""Tracking throughput figures (loopback only, bounded loops).

1. Middleware overhead: in-process WSGI throughput of shop pages with and without
   ``RecoMiddleware`` (ratio, target >= 0.9). Consented pages also with the live-segment
   rules off, and (with REDIS_URL) queued as ``SEGMENTS_LIVE_ASYNC`` does, the drain's
   CPU counted; and with the product views written behind the page
   (``VIEW_BUFFER_SECONDS=1``), the writer thread's CPU counted (other visitors, same
   histories).
2. Beacon events/s: single-event beacons against gunicorn (sync workers: one per core, one
   more, then gunicorn's advice of 2 x cores + 1; ``BENCH_WORKERS=2,3`` chooses), with
   consent, each page's beacons (``PAGE_BEACONS``) with the page's own masked CSRF token;
   baselines in the same run: a bare WSGI callable (gunicorn's
   floor), a Django no-op view, a plain ORM insert view, and the same beacon view behind
   Django's middleware stack instead of ``reco_app.wsgi.beacon_fast_path``.
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
import shlex
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
from typing import Any

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


# the queued live rules (SEGMENTS_LIVE_ASYNC) publish their drain task to a real broker: the
# Redis of REDIS_URL; everything else still runs eagerly (set after django.setup())
_OWN_BROKER = bool(os.environ.get("REDIS_URL")) and not os.environ.get("CELERY_BROKER_URL")
if _OWN_BROKER:
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]

if PG_URL.startswith("postgres"):
    _pg_admin(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    _pg_admin(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"

import django

django.setup()

from celery import current_app

current_app.conf.task_always_eager = True  # (a broker is set only for the queued live rules)

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

CSRF = "a" * 32
CONSENT = "cookie_consent=personalisation=2026-01-01"
MW = "reco_app.tracking.middleware.RecoMiddleware"
#: beacons a page sends with its CSRF token (the page renders a new masked token; reco.js
#: sends impressions as the page loads, a click, the dwell time as it closes): the beacon
#: clients send each page's beacons with one token, then move on to a new page's
PAGE_BEACONS = 3


def page_token() -> str:
    """A page's CSRF token for the cookie's secret ``CSRF``, masked as Django renders it."""
    from django.middleware.csrf import _mask_cipher_secret

    return _mask_cipher_secret(CSRF)


PRODUCTS = 240
VISITORS = 200


def setup_data() -> None:
    call_command("migrate", verbosity=0)
    from example_shop.shop.models import Brand, Category, Product

    cats = [Category.objects.create(name=f"Category {c}", slug=f"cat-{c}") for c in range(8)]
    brands = [Brand.objects.create(name=f"Brand {b}") for b in range(6)]
    for i in range(PRODUCTS):
        Product.objects.create(sku=f"SKU-{i}", name=f"Runner {i}", category=cats[i % 8], brand=brands[i % 6],
                               price=f"{10 + i % 90}.00", stock=5)


def visitor_id(v: int) -> str:
    return f"{v:032x}"


#: the visitors of the side with the views written behind are others, with the same
#: histories: their lists are recomputed a moment later (after the writer's batch), so
#: sharing visitors with the other sides would hand those sides that recomputation
BEHIND_OFFSET = 1000
#: the paired visits' sides each have visitors of their own too (same histories)
PAIRED_OFFSETS = {"without": 2000, "with": 3000, "behind": 4000}


def seed_histories() -> None:
    """Returning visitors with a plausible history: 20 consented events over the last two
    weeks (views, searches, add-to-carts, a purchase) and 2 views in the current session."""
    import datetime as dt
    import random

    from django.utils import timezone

    from reco_app.models import Event

    rng, now, rows = random.Random(7), timezone.now(), []
    kinds = ["product_view"] * 14 + ["search"] * 2 + ["add_to_cart"] * 3 + ["purchase"]
    for v in [*range(VISITORS), *(o + i for o in (BEHIND_OFFSET, *PAIRED_OFFSETS.values()) for i in range(VISITORS))]:
        rng.seed(v % BEHIND_OFFSET)
        subject = f"anon:{visitor_id(v)}"
        for k, kind in enumerate(kinds):
            when = now - dt.timedelta(days=14 * (len(kinds) - k) / len(kinds), minutes=rng.randrange(60))
            rows.append(Event(event_type=kind, product_key="" if kind == "search" else f"SKU-{rng.randrange(PRODUCTS)}",
                              subject=subject, visitor_id=visitor_id(v), session_id=f"old{k // 4}", consent="granted",
                              context={"q": "runner"} if kind == "search" else {}, timestamp=when, source="browser"))
        for m in (10, 5):
            rows.append(Event(event_type="product_view", product_key=f"SKU-{rng.randrange(PRODUCTS)}", subject=subject,
                              visitor_id=visitor_id(v), session_id="s1", consent="granted",
                              timestamp=now - dt.timedelta(minutes=m), source="browser"))
    Event.objects.bulk_create(rows, batch_size=2000)


#: a browser's GET, as the in-process WSGI runs send it
ENVIRON_BASE = {
    "REQUEST_METHOD": "GET", "QUERY_STRING": "", "SERVER_NAME": "testserver",
    "SERVER_PORT": "80", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "wsgi.errors": sys.stderr,
}


def middleware_lists() -> tuple[list[str], list[str]]:
    """The shop's MIDDLEWARE without and with reco_app's (placed after the auth middleware)."""
    without = [m for m in settings.MIDDLEWARE if m != MW]
    return without, [*without[:5], MW, *without[5:]] if MW not in settings.MIDDLEWARE else list(settings.MIDDLEWARE)


def wsgi_rate(requests: list[tuple[str, str]], seconds: float) -> float:
    """Requests per CPU-second of this process, cycling through (path, cookie) pairs."""
    n, cpu = wsgi_run(requests, seconds)
    return n / max(cpu, 1e-9)


def wsgi_run(requests: list[tuple[str, str]], seconds: float) -> tuple[int, float]:
    """(requests served, CPU seconds of this process), cycling through (path, cookie) pairs."""
    handler = WSGIHandler()
    # Requests per CPU-second of this process: on a shared, busy machine wall-clock rates
    # mostly measure the neighbours; CPU time measures our own work (database server time
    # is not included, so storing rows looks cheaper than it is).
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds and n < 20_000:
        # carry on where the previous run stopped: every visitor comes back in turn
        path, cookie = requests[(_next[0] + n) % len(requests)]
        environ = {**ENVIRON_BASE, "PATH_INFO": path, "HTTP_COOKIE": cookie, "wsgi.input": io.BytesIO(b"")}
        body = handler(environ, lambda status, headers: None)
        b"".join(body)
        n += 1
    _next[0] += n
    return n, time.process_time() - cpu


_next = [0]


def middleware_overhead() -> None:
    print(f"-- middleware overhead (in-process WSGI, requests per CPU-second; {VISITORS} returning visitors, "
          f"{PRODUCTS} products) --")
    without, with_mw = middleware_lists()
    from reco_app.tracking.context import cookie_signer

    seed_histories()
    # returning visitors: a valid visitor cookie, seen just now (steady state, no re-signing)
    later = int(time.time()) + 3600
    cookies = [f"{CONSENT}; reco_v={cookie_signer().sign(f'{visitor_id(v)}:s1:{later}')}" for v in range(VISITORS)]
    others = {c: f"{CONSENT}; reco_v={cookie_signer().sign(f'{visitor_id(v + BEHIND_OFFSET)}:s1:{later}')}"
              for v, c in enumerate(cookies)}
    home = [("/", "") for _ in range(VISITORS)]
    pages = [(f"/p/SKU-{(v * 7) % PRODUCTS}/", "") for v in range(VISITORS)]
    # a visit: the home page, four product pages (two categories), the home page again —
    # one visitor after the other, so each visit starts cold (their lists, live-segment state)
    visits = [(path, cookies[v]) for v in range(VISITORS) for path in (
        "/", *(f"/p/SKU-{(v * 7 + step) % PRODUCTS}/" for step in (0, 8, 16, 1)), "/")]
    cases = [("home, no consent", home), ("product page, no consent", pages),
             ("home, consented", [(p, c) for (p, _), c in zip(home, cookies)]),
             ("product page, consented", [(p, c) for (p, _), c in zip(pages, cookies)]),
             ("a visit of 6 pages, consented", visits)]
    from celery import current_app


    # reco_app's default without a worker (eager tasks, as here): the live rules run in the
    # request, after the event's commit
    sync = {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": False}
    no_live = {"MIDDLEWARE": with_mw, "RECO_APP": {**sync, "SEGMENTS_LIVE_RULES": []}}
    # the default where Celery tasks go to a worker and the cache is Redis (SEGMENTS_LIVE_ASYNC
    # unset): the request queues the rules, a task drains them
    queued = {"MIDDLEWARE": with_mw, "RECO_APP": {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": True}}
    # and with the product views written behind the page (VIEW_BUFFER_SECONDS): the writer
    # thread runs in this process, so its CPU is counted with the requests'
    behind = {"MIDDLEWARE": with_mw, "RECO_APP": {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": can_queue_now(),
                                                   "VIEW_BUFFER_SECONDS": 1.0}}
    can_queue = can_queue_now()
    for label, requests in cases:
        # consented pages also run with the live-segment rules off: what the middleware's own
        # work (visitor context, storing the view) costs, apart from the rules the view triggers;
        # and with the rules queued, counting the drain's CPU as the worker would spend it
        sides = [("without", {"MIDDLEWARE": without}), ("with", {"MIDDLEWARE": with_mw, "RECO_APP": sync})]
        if "consented" in label:
            sides.append(("no live rules", no_live))
            if can_queue:
                sides.append(("queued", queued))
            sides.append(("behind", behind))
        for name, overrides in sides:  # warm-up: first visits fill the caches on every side
            with override_settings(**overrides):
                if name == "behind":  # (its visitors are seen by no other side's warm-up)
                    _measure(name, [(p, others.get(c, c)) for p, c in requests], 2.5)
                else:
                    _measure(name, requests, 0.5)
        rates: dict[str, list[float]] = {name: [] for name, _ in sides}
        ratios: dict[str, list[float]] = {name: [] for name, _ in sides[1:]}
        drained: list[float] = []
        behind_drained: list[float] = []
        # paired rounds, alternating the order of the sides: the machine's speed drifts (other
        # tenants, CPU frequency), so each round's ratios compare runs a moment apart
        for r in range(10):
            for name, overrides in sides if r % 2 == 0 else sides[::-1]:
                with override_settings(**overrides):
                    n, cpu, drain_cpu = _measure(name, requests if name != "behind" else [(p, others.get(c, c)) for p, c in requests], 0.4)
                rates[name].append(n / cpu)
                if name == "queued":
                    drained.append(n / (cpu + drain_cpu))
                if name == "behind":
                    behind_drained.append(n / (cpu + drain_cpu))
            for name, values in ratios.items():
                values.append(rates[name][-1] / rates["without"][-1])
            if drained:
                drained[-1] /= rates["without"][-1]
            if behind_drained:
                behind_drained[-1] /= rates["without"][-1]
        w, wo = statistics.median(rates["with"]), statistics.median(rates["without"])
        q1, _, q3 = statistics.quantiles(ratios["with"], n=4)
        note = {"home, consented": "  (first page of a visit)",
                "product page, consented": "  (first page of a visit; stores the view)",
                "a visit of 6 pages, consented": "  (home, 4 product pages, home)"}.get(label, "")
        # the ratio depends on how heavy the shop's page is; what the middleware adds does not
        print(f"{label:30s} without {wo:7.0f}/s  with {w:7.0f}/s  ratio {statistics.median(ratios['with']):.2f} "
              f"(quartiles {q1:.2f}–{q3:.2f}; {1000 / w - 1000 / wo:+.2f} ms CPU a request){note}")
        if "no live rules" in ratios:
            q1, _, q3 = statistics.quantiles(ratios["no live rules"], n=4)
            added = 1000 / statistics.median(rates["no live rules"]) - 1000 / wo
            print(f"{'':30s} live-segment rules off: ratio {statistics.median(ratios['no live rules']):.2f} "
                  f"(quartiles {q1:.2f}–{q3:.2f}; {added:+.2f} ms)")
        if "queued" in ratios:
            q1, _, q3 = statistics.quantiles(drained, n=4)
            added = 1000 / statistics.median(rates["queued"]) - 1000 / wo
            print(f"{'':30s} rules queued (default with a worker): ratio {statistics.median(ratios['queued']):.2f} in the "
                  f"request ({added:+.2f} ms), {statistics.median(drained):.2f} counting the drain (quartiles {q1:.2f}–{q3:.2f})")
        if "behind" in ratios:
            q1, _, q3 = statistics.quantiles(behind_drained, n=4)
            added = 1000 / statistics.median(rates["behind"]) - 1000 / wo
            print(f"{'':30s} views written behind (VIEW_BUFFER_SECONDS=1{', rules queued' if can_queue else ''}): ratio "
                  f"{statistics.median(ratios['behind']):.2f} ({added:+.2f} ms), {statistics.median(behind_drained):.2f} counting "
                  f"the writer and the drain (quartiles {q1:.2f}–{q3:.2f})")
    if can_queue:
        current_app.control.purge()  # the drain tasks published meanwhile (drained here)
    paired_visits(without, with_mw, can_queue)


def paired_only() -> None:
    """``BENCH_PARTS=paired``: only the paired visits (their histories seeded here)."""
    seed_histories()
    paired_visits(*middleware_lists(), can_queue_now())


def paired_visits(without: list[str], with_mw: list[str], can_queue: bool, rounds: int = 3, batch: int = 20) -> None:
    """The visit again, each side's visit right after the other's (the order alternating),
    instead of 0.4-second slices per side: the machine's speed drifts by tens of percent
    within seconds here, so slices give wide quartiles; visits a few milliseconds apart
    compare like with like. Each side has visitors of its own. Sides with the middleware:
    views written by the page, rules queued (the default with a worker); and views written
    behind the page. Their writes and drains run every ``batch`` visits (as a writer thread
    would, about once a second at these rates), counted in their side's CPU."""
    from reco_app.segments.live import queue
    from reco_app.tracking import buffer
    from reco_app.tracking.context import cookie_signer

    later = int(time.time()) + 3600
    cookie = {side: [f"{CONSENT}; reco_v={cookie_signer().sign(f'{visitor_id(v + offset)}:s1:{later}')}" for v in range(VISITORS)]
              for side, offset in PAIRED_OFFSETS.items()}

    def visit(side: str, v: int) -> list[tuple[str, str]]:
        return [(path, cookie[side][v]) for path in ("/", *(f"/p/SKU-{(v * 7 + step) % PRODUCTS}/" for step in (0, 8, 16, 1)), "/")]

    with override_settings(MIDDLEWARE=without):
        plain = WSGIHandler()
    with override_settings(MIDDLEWARE=with_mw):
        tracked = WSGIHandler()
    base = {**settings.RECO_APP, "SEGMENTS_LIVE_ASYNC": can_queue}
    # views written behind: the buffer is written here every ``batch`` visits, not by the thread
    behind = {**base, "VIEW_BUFFER_SECONDS": 3600.0, "VIEW_BUFFER_SIZE": 100_000}
    from celery import current_app

    def tail() -> None:
        buffer.flush()
        if queue.enabled():
            queue.drain()

    # one comparison per setting (changing settings between visits would empty the caches)
    for side, reco, label in (("with", base, "views written by the page, rules queued"),
                              ("behind", behind, "views written behind the page")):
        sides = [("without", plain), (side, tracked)]
        per_round: list[dict[str, float]] = []
        with override_settings(RECO_APP=reco):
            current_app.conf.task_always_eager = not queue.enabled()
            try:
                for r in range(rounds + 1):  # round 0 warms every visitor up
                    spent = {name: 0.0 for name, _ in sides}
                    for v in range(VISITORS):
                        for name, handler in (sides if v % 2 == 0 else sides[::-1]):
                            start = time.process_time()
                            _visit(handler, visit(name, v))
                            if name != "without" and (v + 1) % batch == 0:
                                tail()
                            spent[name] += time.process_time() - start
                    start = time.process_time()
                    tail()
                    spent[side] += time.process_time() - start
                    if r:
                        per_round.append(spent)
            finally:
                current_app.conf.task_always_eager = True
        if can_queue:
            current_app.control.purge()
        total = {name: sum(spent[name] for spent in per_round) for name, _ in sides}
        ratios = [spent["without"] / spent[side] for spent in per_round]
        visits = rounds * VISITORS
        print(f"{'a visit, paired' if side == 'with' else '':30s} {label}: ratio {total['without'] / total[side]:.3f} "
              f"(rounds {min(ratios):.3f}–{max(ratios):.3f}; {1000 * total['without'] / visits:.2f} ms CPU a visit without, "
              f"{1000 * (total[side] - total['without']) / visits:+.2f} ms with, writes and drain counted)")


def _visit(handler: Any, requests: list[tuple[str, str]]) -> None:
    for path, cookie in requests:
        environ = {**ENVIRON_BASE, "PATH_INFO": path, "HTTP_COOKIE": cookie, "wsgi.input": io.BytesIO(b"")}
        b"".join(handler(environ, lambda status, headers: None))


def _measure(side: str, requests: list[tuple[str, str]], seconds: float) -> tuple[int, float, float]:
    """(requests, their CPU seconds, CPU seconds of draining the live queue they filled).
    The queued side publishes its drain tasks to the broker; they are run here instead, in
    this process, as the worker would run them."""
    from celery import current_app

    from reco_app.segments.live import queue

    if side not in ("queued", "behind"):
        n, cpu = wsgi_run(requests, seconds)
        return n, cpu, 0.0
    from reco_app.tracking import buffer

    # the queued side's rules, and the behind side's where a broker takes the drain task
    current_app.conf.task_always_eager = not queue.enabled()
    try:
        n, cpu = wsgi_run(requests, seconds)
    finally:
        current_app.conf.task_always_eager = True
    # the views written behind: the writer thread's batches ran in this process meanwhile
    # (their CPU is in the requests'); what still waits is written here, counted with the drain
    start = time.process_time()
    buffer.flush()
    if queue.enabled():
        queue.drain()
    return n, cpu, time.process_time() - start


def can_queue_now() -> bool:
    from celery import current_app

    from reco_app.segments.live import queue

    return queue._redis()[1] is not None and not current_app.conf.broker_url.startswith("memory")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_by_role(master: int) -> dict[str, float]:
    """CPU seconds used so far by gunicorn's workers, PostgreSQL and Redis (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"web": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ppid, used = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if ppid == master:
            out["web"] += used
        elif comm.startswith("postgres"):
            # + the time of reaped children: backends of closed connections end up there
            out["postgres"] += used + (int(fields[13]) + int(fields[14])) / tick
        elif comm.startswith("redis-server"):
            out["redis"] += used
    return out


def _load(master: int, target: Any, threads: int) -> tuple[float, dict[str, float]]:
    """Run ``target(i)`` in ``threads`` client threads; wall seconds and CPU seconds by role."""
    start, cpu_before, client_before = time.perf_counter(), _cpu_by_role(master), time.process_time()
    pool = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    cpu = {k: v - cpu_before[k] for k, v in _cpu_by_role(master).items()}
    cpu["client"] = time.process_time() - client_before
    return elapsed, cpu


def _server_env() -> dict[str, str]:
    """gunicorn's environment: as given, with the broker set here for the queued live rules
    (tasks go to a worker, as in a deployment that runs one; nothing consumes them here: a
    beacon's impressions publish none). ``BENCH_TASKS=eager``: without it, tasks run eagerly
    in the request, as in runs before 2026-11-27 (a shop without a worker: an anonymous
    beacon then also reads the withdrawal marks, one Redis round trip more)."""
    if os.environ.get("BENCH_TASKS") == "eager":
        return {k: v for k, v in os.environ.items() if not (_OWN_BROKER and k == "CELERY_BROKER_URL")}
    return dict(os.environ)


def worker_counts() -> list[str]:
    """gunicorn's worker counts to measure: one per core, one more (a sync worker waiting
    for PostgreSQL's commit leaves its core idle: another takes it), and gunicorn's own
    advice of 2 x cores + 1; ``BENCH_WORKERS=2`` (comma-separated) measures only those."""
    cores = os.cpu_count() or 2
    raw = os.environ.get("BENCH_WORKERS") or f"{cores},{cores + 1},{2 * cores + 1}"
    return [w.strip() for w in raw.split(",") if w.strip()]


def beacon_rate(workers: str, seconds: float = 8.0, threads: int = 6) -> None:
    # BENCH_GUNICORN_ARGS: more gunicorn options, e.g. "-k gthread --threads 2" (threaded workers)
    more = shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", ""))
    kind = " ".join(more) if more else "sync"
    print(f"-- under gunicorn ({workers} workers, {kind}): the batch API, then the beacon endpoint --")
    port = _free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [gunicorn, "-w", workers, *more, "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "benchmarks.tracking_wsgi:application"],
        cwd=ROOT, env={**_server_env(), "DJANGO_SETTINGS_MODULE": "benchmarks.tracking_site"}, start_new_session=True,
    )
    _gunicorn_pid[0] = proc.pid
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # both workers booted and answering
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {proc.returncode}")
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

        if not get_user_model().objects.filter(username="bench-shopper").exists():  # (one per worker count)
            get_user_model().objects.create_user("bench-shopper", password="x" * 12)
        login = Client()
        assert login.login(username="bench-shopper", password="x" * 12)
        session = f"; sessionid={login.cookies['sessionid'].value}"
        for feeders in feeder_counts():
            served_batch_rate(port, clients=feeders)
        before = Event.objects.count()
        # the first run warms up; "1 (logged in)": a shopper with a session (session + user lookups);
        # the baselines: the same request to a Django view doing nothing, and to one storing the
        # row with a plain ORM create (no consent, validation or idempotency)
        runs = [(1, 2.0, "", "/reco/t/"), (1, 2.0, "", "/bench/beacon-django/"), (1, seconds, "", "/bench/bare/"),
                (1, seconds, "", "/bench/noop/"), (1, seconds, "", "/bench/insert/"), (1, seconds, "", "/reco/t/"),
                (1, seconds, "", "/bench/beacon-django/"), (1, seconds, session, "/reco/t/"), (20, seconds, "", "/reco/t/")]
        rates: dict[str, float] = {}
        # BENCH_CLIENT=python: the Python threads even where wrk is installed
        wrk = shutil.which("wrk") if os.environ.get("BENCH_CLIENT", "wrk") == "wrk" else None
        print(f"   load generator: {'wrk (' + wrk + '), ' + str(threads) + ' connections' if wrk else f'{threads} Python threads (install wrk for a lighter one)'}")
        for per_beacon, seconds_, extra, url in runs:
            if wrk:
                elapsed, cpu, ok, failed = _wrk(wrk, proc.pid, port, url, per_beacon, extra, seconds_, threads)
                counts, errors = [ok * per_beacon], [failed]
            else:
                elapsed, cpu, counts, errors = _python_client(proc.pid, port, url, per_beacon, extra, seconds_, threads)
            requests = max(sum(counts) // per_beacon, 1)
            if seconds_ != seconds:
                continue
            label = {"/bench/bare/": "baseline: bare WSGI callable", "/bench/noop/": "baseline: Django no-op view",
                     "/bench/insert/": "baseline: ORM create view",
                     "/bench/beacon-django/": " 1 event, Django middleware stack"}.get(
                url, f"{per_beacon:2d} event(s) per beacon" + (" (logged in)" if extra else ""))
            rate = rates[label] = sum(counts) / elapsed
            ratio = "" if url.startswith("/bench/b") or url in ("/bench/noop/", "/bench/insert/") or per_beacon != 1 else (
                f"  ratio to bare {rate / rates['baseline: bare WSGI callable']:.2f}, "
                f"no-op {rate / rates['baseline: Django no-op view']:.2f}, "
                f"ORM create {rate / rates['baseline: ORM create view']:.2f}")
            if url == "/bench/beacon-django/":
                ratio = f"  (fast path / this: {rates[' 1 event(s) per beacon'] / rate:.2f})"
            print(f"{label:35s} {rate:7.0f} events/s{ratio}  "
                  f"({sum(counts)} in {elapsed:.1f}s, {sum(errors)} failed requests)")
            print(" " * 36 + "CPU ms per request: " + ", ".join(
                f"{k} {v * 1000 / requests:.2f}" for k, v in cpu.items()) + f"; all {sum(cpu.values()) * 1000 / requests:.2f}")
        stored = Event.objects.count() - before
        print(f"   rows written: {stored}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _python_client(
    master: int, port: int, url: str, per_beacon: int, extra: str, seconds: float, threads: int,
) -> tuple[float, dict[str, float], list[int], list[int]]:
    """Beacons from ``threads`` Python threads (when wrk is not installed)."""
    counts = [0] * threads
    errors = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        # a lean client (raw socket, request bytes built by hand, like wrk) so that the
        # load generator takes as little as possible of the 2 cores the server runs on
        cookie = f"{CONSENT}; csrftoken={CSRF}{extra}"
        sent = 0
        while time.perf_counter() < stop:
            if sent % PAGE_BEACONS == 0:
                token = page_token()
            sent += 1
            events = [{"event_id": str(uuid.uuid4()), "event_type": "rec_impression", "product": "SKU-1",
                       "context": {"rec_token": "t", "placement": "home", "position": k}} for k in range(per_beacon)]
            body = json.dumps({"csrf": token, "events": events}).encode()
            head = (f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
                    f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
                    f"Cookie: {cookie}\r\nUser-Agent: Mozilla/5.0 Firefox/130.0\r\nConnection: close\r\n\r\n")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                    sock.sendall(head.encode() + body)
                    chunks = []
                    while chunk := sock.recv(65536):
                        chunks.append(chunk)
            except OSError:
                errors[i] += 1
                continue
            response = b"".join(chunks)
            if response.startswith(b"HTTP/1.1 204"):
                counts[i] += per_beacon
                at = response.find(b"Set-Cookie: reco_v=")
                if at >= 0:
                    value = response[at + 12:response.index(b";", at)].decode()
                    cookie = f"{CONSENT}; csrftoken={CSRF}{extra}; {value}"
            else:
                errors[i] += 1

    elapsed, cpu = _load(master, worker, threads)
    return elapsed, cpu, counts, errors


#: wrk's script: the same beacons as the Python client (a new event_id each, the visitor
#: cookie the server sets kept per connection thread), counting 204s and other answers
_WRK_LUA = r"""
threads, counter, tid, cookie, ok, bad = {}, 0, 0, nil, 0, 0  -- globals: done() reads ok/bad per thread
CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
sent, token = 0, nil
function page_token()  -- a page's CSRF token: the secret "a" * 32 masked as Django masks it
  local mask, cipher = {}, {}
  for i = 1, 32 do
    local m = math.random(0, 61)
    mask[i] = CHARS:sub(m + 1, m + 1)
    cipher[i] = CHARS:sub(m + 1, m + 1)  -- ("a" is the alphabet's first letter: (0 + m) % 62 = m)
  end
  return table.concat(mask) .. table.concat(cipher)
end
function setup(thread) tid = tid + 1; thread:set("tid", tid); table.insert(threads, thread) end
function init(args)
  path, per, base, page_beacons = args[1], tonumber(args[2]), args[3], args[4]; cookie = base
  math.randomseed(tid * 7919 + os.time())
end
function request()
  if sent % tonumber(page_beacons) == 0 then token = page_token() end
  sent = sent + 1
  local events = {}
  for k = 1, per do
    counter = counter + 1
    events[k] = string.format('{"event_id":"%08x-%04x-4%03x-8000-%012x","event_type":"rec_impression",' ..
      '"product":"SKU-1","context":{"rec_token":"t","placement":"home","position":%d}}',
      math.random(0, 0x7fffffff), tid, math.random(0, 0xfff), counter, k - 1)
  end
  local body = '{"csrf":"' .. token .. '","events":[' .. table.concat(events, ",") .. ']}'
  local headers = {["Cookie"] = cookie}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- (a table of our own replaces wrk's)
  return wrk.format("POST", path, headers, body)
end
function response(status, headers, body)
  if status == 204 then ok = ok + 1 else bad = bad + 1 end
  local set = headers["Set-Cookie"]
  if set and set:sub(1, 7) == "reco_v=" then cookie = base .. "; " .. set:match("^[^;]+") end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d\n", o, b, e.connect + e.read + e.write + e.timeout))
end
"""


def _wrk(
    wrk: str, master: int, port: int, url: str, per_beacon: int, extra: str, seconds: float, connections: int,
) -> tuple[float, dict[str, float], int, int]:
    """Beacons from wrk (C, event loop): a load generator taking far less of the two cores
    than Python threads. Returns wall seconds, CPU seconds by role, 204s, other answers."""
    import resource

    script = TMP / "beacon.lua"
    script.write_text(_WRK_LUA)
    cmd = [wrk, "-t2", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "-s", str(script),
           "-H", f"Origin: http://127.0.0.1:{port}", "-H", "Content-Type: text/plain;charset=UTF-8",
           "-H", "User-Agent: Mozilla/5.0 Firefox/130.0",
           f"http://127.0.0.1:{port}{url}", "--", url, str(per_beacon), f"{CONSENT}; csrftoken={CSRF}{extra}",
           str(PAGE_BEACONS)]
    before, children = _cpu_by_role(master), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - start
    cpu = {k: v - before[k] for k, v in _cpu_by_role(master).items()}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["client"] = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    ok, bad, socket_errors = (int(x) for x in line.split()[1:])
    return elapsed, cpu, ok, bad + socket_errors


def _post(port: int, path: str, body: bytes, headers: str) -> bytes:
    """One HTTP/1.1 request on a new connection (what gunicorn's sync workers serve)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
            f"{headers}Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def feeder_counts() -> list[int]:
    """How many clients post batches at once: two, and four (two feeders leave the cores
    idle while each waits for its answer, the commit included: four keep them busy);
    ``BENCH_FEEDERS=2`` (comma-separated) chooses."""
    return [int(n) for n in (os.environ.get("BENCH_FEEDERS") or "2,4").split(",") if n.strip()]


def served_batch_rate(port: int, seconds: float = 8.0, clients: int = 2, size: int = 500) -> None:
    """The batch API as deployed: gunicorn's workers, ``clients`` feeders posting at once."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.filter(username="bench-feed-http").first()  # (one per worker count)
    if user is None:
        user = get_user_model().objects.create_user("bench-feed-http", password="x" * 12)
    headers = f"Authorization: Token {Token.objects.get_or_create(user=user)[0].key}\r\nContent-Type: application/json\r\n"
    bodies = [json.dumps({"events": [
        {"event_id": str(uuid.uuid4()), "event_type": "product_view", "product": f"SKU-{i % PRODUCTS}",
         "customer": f"c{(b * size + i) % 997}", "consent": "granted", "session_id": f"s{b}",
         "context": {"placement": "home"}, "timestamp": "2026-11-01T10:00:00Z"} for i in range(size)]}).encode()
        for b in range(int(seconds * 60_000 / size) + 20)]
    stored = [0] * clients
    failed = [0] * clients
    taken = iter(range(len(bodies)))
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def feeder(i: int) -> None:
        while time.perf_counter() < stop:
            with lock:
                n = next(taken, None)
            if n is None:
                return
            response = _post(port, "/reco/api/events/", bodies[n], headers)
            if response.startswith(b"HTTP/1.1 201"):
                stored[i] += size
            else:
                failed[i] += 1

    elapsed, cpu = _load(_gunicorn_pid[0], feeder, clients)
    total = max(sum(stored), 1)
    print(f"batch API under gunicorn, {clients} feeders: {sum(stored) / elapsed:8.0f} events/s stored  "
          f"({sum(stored)} in {elapsed:.1f}s, {sum(failed)} failed requests)")
    print(" " * 36 + "CPU µs per event: " + ", ".join(f"{k} {v * 1e6 / total:.1f}" for k, v in cpu.items()))


_gunicorn_pid = [0]


def batch_rate(batches: int = 40, size: int = 500) -> None:
    print(f"-- batch API into {connection.vendor} ({batches} x {size} events) --")
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from reco_app.models import Event
    from reco_app.tracking.ingest import ingest_batch  # noqa: F401  (warm import)

    user = get_user_model().objects.create_user("bench-feed", password="x" * 12)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    def batch(b: int) -> list[dict[str, object]]:
        return [{"event_id": str(uuid.uuid4()), "event_type": "product_view", "product": f"SKU-{i % PRODUCTS}",
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


def fresh_cache() -> None:
    """The database is new for every run; so must reco_app's cached state be (a live-segment
    state left by an earlier run names memberships that no longer exist)."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):  # django-redis: only our keys and our sessions
        cache.delete_pattern("reco:*")
        cache.delete_pattern("django.contrib.sessions.cache*")
    else:
        cache.clear()  # local memory: this process's own


def main() -> None:
    fresh_cache()
    setup_data()
    # BENCH_PARTS=beacon (comma-separated) runs only some of the measurements
    parts = os.environ.get("BENCH_PARTS", "middleware,batch,beacon").split(",")
    if "middleware" in parts:
        middleware_overhead()  # (the paired visits included)
    elif "paired" in parts:
        paired_only()
    if "batch" in parts:
        batch_rate()
    if "beacon" in parts:
        for workers in worker_counts():
            beacon_rate(workers)
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
