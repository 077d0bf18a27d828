"""Training with segment user features vs without, on the same holdout.

Needs the training area's ``reco_app.training`` (``data.load_training_data``,
``pipeline.run``, ``params.TrainParams``, ``report.format_table``) and
``reco_app.datasets``. Run: ``python benchmarks/compare_segment_features.py [--shoppers 3000]``.

Uses a throwaway test database filled with the synthetic history of
``benchmarks/synthetic_history.py``, or with ``--seeded`` the configured database as it is
(the example shop after ``manage.py shop_seed``; run it with
``DJANGO_SETTINGS_MODULE=example_shop.settings`` on a copy, since it recomputes the
segments there). Segments are computed *as of the holdout cutoff*, so the features carry
nothing from the holdout period. Trains without segment features and with them at each
``--shares`` value (``TRAINING_SEGMENT_SHARE``: the segments' share of a shopper's feature
row; 0.75 is what weighing three memberships like the identity gave before the setting).
Prints the evaluation tables and the change of the model row; keep
``SEGMENTS_USER_FEATURE_KINDS`` empty unless it helps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=None, help="override TRAINING_EPOCHS")
    parser.add_argument("--patience", type=int, default=None, help="override TRAINING_PATIENCE (early stopping)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic history")
    parser.add_argument("--kinds", default="rfm,lifecycle,cluster", help="segment kinds used as features")
    parser.add_argument("--shares", default="0.75,0.2", help="TRAINING_SEGMENT_SHARE values to try")
    parser.add_argument("--seeded", action="store_true", help="use the configured database as it is")
    args = parser.parse_args()

    import django

    django.setup()
    try:
        from reco_app.training.data import load_training_data
        from reco_app.training.params import TrainParams
        from reco_app.training.pipeline import MODEL_ROW, run
        from reco_app.training.report import format_table
    except ImportError as exc:
        print(f"needs the training code (reco_app.training, reco_app.datasets): {exc}")
        return 2
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from reco_app import conf

    old_name = connection.settings_dict["NAME"]
    if not args.seeded:
        setup_test_environment()
        connection.creation.create_test_db(verbosity=0)
    try:
        from reco_app.models import Event
        from reco_app.segments.service import recompute_all

        now = timezone.now()
        if args.seeded:
            n, shoppers = Event.objects.count(), Event.objects.values("subject").distinct().count()
        else:
            import synthetic_history

            n, shoppers = synthetic_history.load(args.shoppers, now, seed=args.seed), args.shoppers
        cutoff = now - dt.timedelta(days=float(conf.get("TRAINING_HOLDOUT_DAYS")))
        report = recompute_all(cutoff)
        print(f"{n} events, {shoppers} shoppers; segments as of the cutoff {cutoff:%Y-%m-%d}: {len(report.sizes)} segments")
        params = TrainParams.from_settings(epochs=args.epochs, patience=args.patience)
        tables = {}
        provider = conf.get("USER_FEATURES_PROVIDER") or "reco_app.segments.service.user_features"
        kinds = [k for k in args.kinds.split(",") if k]
        runs = [("without segment features", {"USER_FEATURES_PROVIDER": None})]
        for share in (float(x) for x in args.shares.split(",") if x):
            runs.append((
                f"with segment features ({', '.join(kinds)}; share {share:g})",
                {"USER_FEATURES_PROVIDER": provider, "SEGMENTS_USER_FEATURE_KINDS": kinds, "TRAINING_SEGMENT_SHARE": share},
            ))
        for label, overrides in runs:
            with override_settings(RECO_APP={**settings.RECO_APP, **overrides}):
                t = time.perf_counter()
                data = load_training_data(until=now)
                result = run(data, params, refit=False)
                tables[label] = result.evaluation
                print(f"\n== {label} ({time.perf_counter() - t:.1f} s, {result.fit.epochs if hasattr(result.fit, 'epochs') else '?'} epochs)")
                print(format_table(result.evaluation))
        without = tables[runs[0][0]]["rows"][MODEL_ROW]
        for label, _ in runs[1:]:
            print(f"\nchange of the model row ({label} - without):")
            for metric, value in tables[label]["rows"][MODEL_ROW].items():
                if isinstance(value, (int, float)) and isinstance(without.get(metric), (int, float)):
                    print(f"  {metric:<12} {value - without[metric]:+.4f}")
    finally:
        if not args.seeded:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
