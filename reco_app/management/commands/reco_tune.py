"""``manage.py reco_tune``: a small random/grid search over LightFM hyperparameters."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reco_app import conf
from reco_app.training.evaluation import SEARCH_SPACE, tune


class Command(BaseCommand):
    help = "Try hyperparameter combinations on the validation shoppers and report each trial."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trials", type=int, default=8)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, help="Maximum epochs per trial.")
        parser.add_argument(
            "--space", help=f"JSON search space, default {json.dumps(SEARCH_SPACE)}", default=None
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from reco_app.training.params import TrainParams

        space = json.loads(opts["space"]) if opts["space"] else SEARCH_SPACE
        k = conf.get("TRAINING_EVAL_K")

        def report(n: int, trial: dict[str, Any], score: float, epochs: int) -> None:
            self.stdout.write(f"trial {n:>2}: ndcg@{k}={score:.4f} after {epochs} epochs  {json.dumps(trial)}")

        results = tune(
            trials=opts["trials"], space=space, seed=opts["seed"], on_trial=report,
            base=TrainParams.from_settings(epochs=opts["epochs"]),
        )
        if results:
            best = results[0]
            self.stdout.write(self.style.SUCCESS(f"best: ndcg@{k}={best[f'ndcg@{k}']:.4f} with {json.dumps(best['params'])}"))
