"""LightFM hyperparameters, read from the ``TRAINING_*`` settings."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from reco_app import conf

LOSSES = ("warp", "bpr", "warp-kos", "logistic")
_SETTING = {
    "loss": "TRAINING_LOSS",
    "no_components": "TRAINING_COMPONENTS",
    "epochs": "TRAINING_EPOCHS",
    "learning_rate": "TRAINING_LEARNING_RATE",
    "item_alpha": "TRAINING_ITEM_ALPHA",
    "user_alpha": "TRAINING_USER_ALPHA",
    "max_sampled": "TRAINING_MAX_SAMPLED",
    "random_state": "TRAINING_RANDOM_STATE",
    "num_threads": "TRAINING_THREADS",
    "patience": "TRAINING_PATIENCE",
    "refit_epochs": "TRAINING_REFIT_EPOCHS",
}


@dataclass(frozen=True)
class TrainParams:
    loss: str = "warp"
    no_components: int = 32
    epochs: int = 30
    learning_rate: float = 0.08
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    max_sampled: int = 30
    random_state: int = 42
    num_threads: int = 0
    patience: int = 5
    refit_epochs: int = 2

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"TRAINING_LOSS must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if self.no_components < 1 or self.epochs < 1 or self.learning_rate <= 0:
            raise ValueError("TRAINING_COMPONENTS, TRAINING_EPOCHS and TRAINING_LEARNING_RATE must be positive")

    @classmethod
    def from_settings(cls, **overrides: Any) -> TrainParams:
        values = {name: conf.get(key) for name, key in _SETTING.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> TrainParams:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known})

    @property
    def threads(self) -> int:
        return self.num_threads or os.cpu_count() or 1

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "no_components": self.no_components,
            "learning_rate": self.learning_rate,
            "item_alpha": self.item_alpha,
            "user_alpha": self.user_alpha,
            "max_sampled": self.max_sampled,
            "random_state": self.random_state,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
