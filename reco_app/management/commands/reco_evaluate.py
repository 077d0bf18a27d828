"""``manage.py reco_evaluate``: the time-based evaluation table, nothing registered."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reco_app.training.evaluation import evaluate_current
from reco_app.training.params import TrainParams
from reco_app.training.progress import ProgressBar
from reco_app.training.report import format_table


class Command(BaseCommand):
    help = "Fit the configured model on the events before the holdout and compare it with the baselines."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--components", type=int)
        parser.add_argument("--json", action="store_true", help="Print the table as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        bar = ProgressBar(self.stderr._out)  # type: ignore[attr-defined,arg-type]  # the raw stream: the bar writes \r
        params = TrainParams.from_settings(epochs=opts["epochs"], no_components=opts["components"])
        table = evaluate_current(params=params, progress=bar)
        bar.close()
        self.stdout.write(json.dumps(table, indent=2) if opts["json"] else format_table(table))
