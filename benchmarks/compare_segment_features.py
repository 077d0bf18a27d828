"""Training with segment user features vs without, on the same holdout.

Needs the training area's ``reco_app.training`` (``data.load_training_data``,
``pipeline.run``, ``params.TrainParams``, ``report.format_table``) and
``reco_app.datasets``. Run: ``python benchmarks/compare_segment_features.py [--shoppers 3000]``.

Uses a throwaway test database filled with the synthetic history of
``benchmarks/synthetic_history.py``. Segments are computed *as of the holdout cutoff*, so
the features carry nothing from the holdout period. Prints both evaluation tables and the
change of the model row; keep ``USER_FEATURES_PROVIDER`` on only if it helps.
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

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0)
    try:
        import synthetic_history

        from reco_app.segments.service import recompute_all

        now = timezone.now()
        n = synthetic_history.load(args.shoppers, now, seed=args.seed)
        cutoff = now - dt.timedelta(days=float(conf.get("TRAINING_HOLDOUT_DAYS")))
        report = recompute_all(cutoff)
        print(f"{n} events, {args.shoppers} shoppers; segments as of the cutoff {cutoff:%Y-%m-%d}: {len(report.sizes)} segments")
        params = TrainParams.from_settings(epochs=args.epochs, patience=args.patience)
        tables = {}
        provider = conf.get("USER_FEATURES_PROVIDER") or "reco_app.segments.service.user_features"
        kinds = [k for k in args.kinds.split(",") if k]
        for label, overrides in (
            ("without segment features", {"USER_FEATURES_PROVIDER": None}),
            (f"with segment features ({', '.join(kinds)})", {"USER_FEATURES_PROVIDER": provider, "SEGMENTS_USER_FEATURE_KINDS": kinds}),
        ):
            with override_settings(RECO_APP={**settings.RECO_APP, **overrides}):
                t = time.perf_counter()
                data = load_training_data(until=now)
                result = run(data, params, refit=False)
                tables[label] = result.evaluation
                print(f"\n== {label} ({time.perf_counter() - t:.1f} s, {result.fit.epochs if hasattr(result.fit, 'epochs') else '?'} epochs)")
                print(format_table(result.evaluation))
        without, with_ = (tables[k]["rows"][MODEL_ROW] for k in tables)
        print("\nchange of the model row (with - without):")
        for metric, value in with_.items():
            if isinstance(value, (int, float)) and isinstance(without.get(metric), (int, float)):
                print(f"  {metric:<12} {value - without[metric]:+.4f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
