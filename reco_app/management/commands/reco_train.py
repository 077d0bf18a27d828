"""``manage.py reco_train``: train a model version now (the twin of the Celery tasks)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reco_app.training.lock import TrainingBusy
from reco_app.training.params import TrainParams
from reco_app.training.progress import ProgressBar
from reco_app.training.report import format_table


class Command(BaseCommand):
    help = "Train a recommendation model, evaluate it against the baselines and register it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incremental", action="store_true", help="Update the active model with recent events.")
        parser.add_argument("--epochs", type=int, help="Maximum epochs (TRAINING_EPOCHS).")
        parser.add_argument("--components", type=int, help="Embedding size (TRAINING_COMPONENTS).")
        parser.add_argument("--learning-rate", type=float, help="TRAINING_LEARNING_RATE.")
        parser.add_argument("--loss", choices=["warp", "bpr", "warp-kos", "logistic"], help="TRAINING_LOSS.")
        parser.add_argument("--threads", type=int, help="TRAINING_THREADS (0 = one per core).")
        activation = parser.add_mutually_exclusive_group()
        activation.add_argument("--activate", action="store_true", help="Activate even if the guardrail says no.")
        activation.add_argument("--no-activate", action="store_true", help="Leave the new version ready, not active.")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--if-no-active", action="store_true", help="Do nothing when a model is already active.")

    def handle(self, *args: Any, **opts: Any) -> None:
        from reco_app.models import ModelVersion
        from reco_app.training import registry
        from reco_app.training.incremental import train_incremental

        if opts["if_no_active"] and (active := ModelVersion.objects.active()) is not None:
            self.stdout.write(f"Model v{active.pk} is already active; not training.")
            return
        bar = None if opts["no_progress"] else ProgressBar(self.stderr._out)  # type: ignore[attr-defined,arg-type]
        progress = bar or (lambda *a: None)
        try:
            if opts["incremental"]:
                version = train_incremental(progress=progress)
                if version is None:
                    self.stdout.write("Nothing to update (no active model or no new events).")
                    return
            else:
                params = TrainParams.from_settings(
                    epochs=opts["epochs"], no_components=opts["components"], learning_rate=opts["learning_rate"],
                    loss=opts["loss"], num_threads=opts["threads"],
                )
                policy = "always" if opts["activate"] else "never" if opts["no_activate"] else "guardrail"
                version = registry.train(params=params, progress=progress, activate_policy=policy)
        except TrainingBusy as exc:
            raise CommandError(f"Not started: {exc}.") from exc
        finally:
            if bar:
                bar.close()
        if version.status == version.Status.FAILED:
            raise CommandError(f"Training of v{version.pk} failed:\n{version.error}")
        if version.evaluation.get("rows"):
            self.stdout.write(format_table(version.evaluation))
        note = version.params.get("guardrail", "")
        self.stdout.write(self.style.SUCCESS(
            f"Model v{version.pk} ({version.kind}) is {version.status}: {version.n_users} shoppers, "
            f"{version.n_items} products, {version.n_interactions} interactions." + (f" Guardrail: {note}" if note else "")
        ))
