"""Training benchmark: 1M events in the database → dataset build time, fit time, and the
ratio of the whole training task to a bare LightFM fit on the same matrices (target ≤ 1.25).

    DATABASE_URL=postgres://... python benchmarks/bench_training.py [--events 1000000]

Seeds synthetic events once (PostgreSQL COPY; reused on the next run when the count
matches), then times, in the same run:
  * the dataset build (events + catalog from the database → matrices and features),
  * the whole ``train_full`` task (build, fit with early stopping, evaluation against the
    baselines, refit, artifact write + verification, registry),
  * a bare LightFM fit on the same matrices for the same number of epochs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_shop.settings")
os.environ.setdefault("RECO_VAR_DIR", str(Path(tempfile.gettempdir()) / "reco-bench-training"))

import django

django.setup()

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from reco_app.models import CatalogItem, Event

UNTIL = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
TYPES = np.array(["product_view", "add_to_cart", "purchase", "remove_from_cart"], dtype=object)
CATEGORIES = 20


def seed(n_events: int, n_users: int, n_items: int) -> None:
    if Event.objects.count() == n_events and CatalogItem.objects.count() == n_items:
        print(f"reusing {n_events:,} seeded events")
        CatalogItem.objects.update(launched_at=UNTIL - dt.timedelta(days=210))
        return
    print(f"seeding {n_events:,} events, {n_users:,} shoppers, {n_items:,} products ...", flush=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    with transaction.atomic():
        Event.objects.all().delete()
        CatalogItem.objects.all().delete()
        start = UNTIL - dt.timedelta(days=180)
        CatalogItem.objects.bulk_create(
            [
                CatalogItem(
                    product_key=f"P{i:06d}", name=f"Product {i}", category=f"cat{i % CATEGORIES}",
                    brand=f"brand{(i // CATEGORIES) % 50}", price=float(5 + (i * 37) % 300),
                    tags=[f"t{i % 7}", f"cat{i % CATEGORIES}"], description=f"a fine cat{i % CATEGORIES} item word{i % 97}",
                    launched_at=start - dt.timedelta(days=30),
                )
                for i in range(n_items)
            ],
            batch_size=5000,
        )
        users = rng.integers(0, n_users, n_events)
        taste = rng.integers(0, CATEGORIES, n_users)
        own = rng.random(n_events) < 0.8
        cat = np.where(own, taste[users], rng.integers(0, CATEGORIES, n_events))
        rank = np.minimum(rng.zipf(1.3, n_events) - 1, n_items // CATEGORIES - 1)
        items = cat + CATEGORIES * rank
        kinds = TYPES[rng.choice(4, n_events, p=[0.7, 0.2, 0.08, 0.02])]
        seconds = rng.uniform(0, 180 * 86400, n_events)
        stamps = [(start + dt.timedelta(seconds=float(s))).isoformat() for s in seconds]
        with connection.cursor() as cursor, cursor.cursor.copy(
            "COPY reco_app_event (event_id, subject, visitor_id, product_key, event_type, session_id, "
            "context, consent, source, timestamp, received_at) FROM STDIN"
        ) as copy:
            now = UNTIL.isoformat()
            for u, i, k, ts in zip(users, items, kinds, stamps, strict=True):
                copy.write_row((uuid.uuid4(), f"u{u}", "", f"P{i:06d}", k, "", "{}", "granted", "bench", ts, now))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reco_app_event")
        cursor.execute("ANALYZE reco_app_catalogitem")
    print(f"seeded in {time.perf_counter() - t0:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=60_000)
    parser.add_argument("--items", type=int, default=6_000)
    parser.add_argument("--epochs", type=int, default=None, help="TRAINING_EPOCHS (default: the setting's default)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench_training needs PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    overrides = {"TRAINING_THREADS": 2} | ({"TRAINING_EPOCHS": args.epochs} if args.epochs else {})
    settings.RECO_APP = {**settings.RECO_APP, **overrides}
    from reco_app import conf

    conf.get_config.cache_clear()
    seed(args.events, args.users, args.items)

    from lightfm import LightFM

    from reco_app.models import ModelVersion
    from reco_app.training.data import load_training_data
    from reco_app.training.params import TrainParams
    from reco_app.training.tasks import train_full
    from reco_app.training.trainer import lightfm_inputs

    ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING).update(status=ModelVersion.Status.FAILED)
    t0, c0 = time.perf_counter(), time.process_time()
    data = load_training_data(UNTIL)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    print(f"dataset build: {t_build:.2f}s wall, {c_build:.2f}s CPU  ({data.n_events:,} events → {data.full.nnz:,} interactions, "
          f"{data.shape[0]:,} shoppers × {data.shape[1]:,} products, {len(data.item_features.names):,} item features)")

    # Time spent inside LightFM during the task, to separate the task's own overhead from
    # the fitting (whose speed varies between two runs on a shared machine).
    inside = {"wall": 0.0, "cpu": 0.0}
    original_fit_partial = LightFM.fit_partial

    def timed_fit_partial(self, *a, **kw):  # type: ignore[no-untyped-def]
        w, c = time.perf_counter(), time.process_time()
        try:
            return original_fit_partial(self, *a, **kw)
        finally:
            inside["wall"] += time.perf_counter() - w
            inside["cpu"] += time.process_time() - c

    LightFM.fit_partial = timed_fit_partial
    t0, c0 = time.perf_counter(), time.process_time()
    summary = train_full.apply(kwargs={"until": UNTIL.isoformat()}).get()
    t_task, c_task = time.perf_counter() - t0, time.process_time() - c0
    LightFM.fit_partial = original_fit_partial
    version = ModelVersion.objects.get(pk=summary["version"])
    epochs_run = int(version.evaluation.get("epochs_run", version.params.get("epochs", args.epochs)))
    params = TrainParams.from_settings()
    refit = params.refit_epochs

    t0, c0 = time.perf_counter(), time.process_time()
    model = LightFM(**params.model_kwargs())
    inter, weight = lightfm_inputs(data.train)
    model.fit_partial(inter, item_features=data.train_item_features, sample_weight=weight, epochs=epochs_run, num_threads=params.threads)
    inter, weight = lightfm_inputs(data.full)
    model.fit_partial(inter, item_features=data.item_features.matrix, sample_weight=weight, epochs=refit, num_threads=params.threads)
    t_bare, c_bare = time.perf_counter() - t0, time.process_time() - c0

    print(f"bare LightFM fit ({epochs_run} + {refit} refit epochs, {params.threads} threads): "
          f"{t_bare:.2f}s wall, {c_bare:.2f}s CPU")
    print(f"whole training task (v{version.pk}, {version.status}): {t_task:.2f}s wall, {c_task:.2f}s CPU")
    print(f"ratio task / bare fit: {t_task / t_bare:.2f} wall, {c_task / c_bare:.2f} CPU  (target ≤ 1.25)")
    over_w, over_c = t_task - inside["wall"], c_task - inside["cpu"]
    print(f"task overhead outside LightFM: {over_w:.2f}s wall, {over_c:.2f}s CPU → ratio (bare fit + overhead) / "
          f"bare fit: {(t_bare + over_w) / t_bare:.2f} wall, {(c_bare + over_c) / c_bare:.2f} CPU")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times stretch on a busy machine; CPU times much less)")
    from reco_app.training.report import format_table

    print(format_table(version.evaluation))


if __name__ == "__main__":
    main()
