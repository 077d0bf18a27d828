"""Everything one training run needs, built from events and the catalog snapshot.

Time-based split: ``cutoff = until - TRAINING_HOLDOUT_DAYS``. The model is fitted on the
events before the cutoff, validated/evaluated on purchases and carts after it, then (refit)
trained a few more epochs on all events so the active model knows the latest days too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.utils import timezone
from django.utils.module_loading import import_string

from reco_app import conf
from reco_app.datasets.catalog import TRAINING_FIELDS, CatalogIndex, load_catalog
from reco_app.datasets.events import EventArrays, gc_paused, load_events
from reco_app.datasets.features import (
    IDENTITY_SHARE,
    NEW_PRODUCT_WEIGHT,
    SEGMENT_SHARE,
    FeatureMatrix,
    build_item_features,
    build_user_features,
    drop_identity,
)
from reco_app.datasets.idmaps import index_of, stable_keys
from reco_app.datasets.interactions import DAY, binary, build_interactions

Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class TrainingData:
    user_keys: np.ndarray
    item_keys: np.ndarray
    item_features: FeatureMatrix  # identity only for products with interactions (all events)
    train_item_features: sp.csr_matrix  # identity only for products with interactions before the cutoff
    user_features: FeatureMatrix | None
    full: sp.csr_matrix  # all events, decayed to ``until``
    train: sp.csr_matrix  # events before the cutoff, decayed to the cutoff
    test: sp.csr_matrix  # purchases/carts in the holdout (binary)
    exclude: sp.csr_matrix  # per shopper, products left out of the evaluation (binary)
    exclude_rule: str  # TRAINING_EVAL_EXCLUDE: "purchased" or "interacted" before the cutoff
    recent: sp.csr_matrix  # the trending window just before the cutoff
    cold_items: np.ndarray  # launched at or after the cutoff
    data_from: dt.datetime | None
    cutoff: dt.datetime
    until: dt.datetime
    n_events: int

    @property
    def on_sale_at_cutoff(self) -> np.ndarray:
        """Products launched before the cutoff (or with interactions before it)."""
        return ~self.cold_items | (np.diff(self.train.tocsc().indptr) > 0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.full.shape  # type: ignore[return-value]


def settings_snapshot() -> dict[str, Any]:
    keys = (
        "EVENT_WEIGHTS", "TRAINING_HALF_LIFE_DAYS", "TRAINING_HOLDOUT_DAYS", "TRAINING_WINDOW_DAYS",
        "TRAINING_EVAL_EVENT_TYPES", "TRAINING_TRENDING_DAYS", "TRAINING_PRICE_BANDS",
        "TRAINING_MAX_VOCABULARY", "TRAINING_IDENTITY_SHARE", "TRAINING_NEW_PRODUCT_WEIGHT",
        "TRAINING_SEGMENT_SHARE",
        "TRAINING_EVAL_EXCLUDE",
    )
    return {k: conf.get(k) for k in keys}


def prepare(
    events: EventArrays,
    catalog: CatalogIndex,
    *,
    until: dt.datetime,
    cfg: dict[str, Any],
    user_feature_provider: Callable[[list[str]], dict[str, list[str]]] | None = None,
) -> TrainingData:
    """Pure: arrays in, matrices out (``cfg`` as :func:`settings_snapshot`)."""
    cutoff = until - dt.timedelta(days=float(cfg["TRAINING_HOLDOUT_DAYS"]))
    t_until, t_cut = until.timestamp(), cutoff.timestamp()
    user_keys = stable_keys(events.subjects)
    item_keys = stable_keys(catalog.keys, events.products)
    users, items = index_of(user_keys), index_of(item_keys)
    events = events.encode(users, items)
    weights, half_life = cfg["EVENT_WEIGHTS"], cfg["TRAINING_HALF_LIFE_DAYS"]
    before = events.timestamps < t_cut
    train_events = events.select(before)
    full = build_interactions(events, users, items, weights, now=t_until, half_life_days=half_life)
    train = build_interactions(train_events, users, items, weights, now=t_cut, half_life_days=half_life)
    holdout = events.select(~before & np.isin(events.types, list(cfg["TRAINING_EVAL_EVENT_TYPES"])))
    test = binary(build_interactions(holdout, users, items, {t: 1.0 for t in cfg["TRAINING_EVAL_EVENT_TYPES"]}, now=t_until))
    exclude_rule = str(cfg.get("TRAINING_EVAL_EXCLUDE", "purchased"))
    if exclude_rule == "interacted":
        exclude = binary(train)
    elif exclude_rule == "purchased":
        bought = train_events.select(train_events.types == "purchase")
        exclude = binary(build_interactions(bought, users, items, {"purchase": 1.0}, now=t_cut))
    else:
        raise ValueError(f"TRAINING_EVAL_EXCLUDE must be 'purchased' or 'interacted', not {exclude_rule!r}")
    trend_days = float(cfg["TRAINING_TRENDING_DAYS"])
    recent = build_interactions(
        train_events.select(train_events.timestamps >= t_cut - trend_days * DAY),
        users, items, weights, now=t_cut, half_life_days=trend_days / 2,
    )
    launched = dict(zip((str(k) for k in catalog.keys), catalog.launched_at, strict=True))
    cold = np.array([launched.get(str(k), np.nan) >= t_cut for k in item_keys], dtype=bool)
    item_features = build_item_features(
        catalog, item_keys, price_bands=int(cfg["TRAINING_PRICE_BANDS"]),
        max_vocabulary=int(cfg["TRAINING_MAX_VOCABULARY"]),
        identity_share=float(cfg.get("TRAINING_IDENTITY_SHARE", IDENTITY_SHARE)),
        new_weight=float(cfg.get("TRAINING_NEW_PRODUCT_WEIGHT", NEW_PRODUCT_WEIGHT)),
    )
    train_features = drop_identity(item_features, item_keys, np.diff(train.tocsc().indptr) == 0)
    item_features.matrix = drop_identity(item_features, item_keys, np.diff(full.tocsc().indptr) == 0)
    first = float(events.timestamps.min()) if len(events) else None
    return TrainingData(
        user_keys=user_keys, item_keys=item_keys, item_features=item_features,
        train_item_features=train_features,
        user_features=build_user_features(
            user_keys, user_feature_provider, float(cfg.get("TRAINING_SEGMENT_SHARE", SEGMENT_SHARE))
        ),
        full=full, train=train, test=test, exclude=exclude, exclude_rule=exclude_rule,
        recent=recent, cold_items=cold,
        data_from=dt.datetime.fromtimestamp(first, tz=dt.UTC) if first is not None else None,
        cutoff=cutoff, until=until, n_events=len(events),
    )


def user_feature_provider() -> Callable[[list[str]], dict[str, list[str]]] | None:
    path = conf.get("USER_FEATURES_PROVIDER")
    return import_string(path) if path else None


def load_training_data(until: dt.datetime | None = None, progress: Progress = no_progress) -> TrainingData:
    """Read consented events of the training window and the catalog, then :func:`prepare`.

    Erased shoppers are not left out by key: their erasure deleted their events, so what
    is read of them is what they did since (with consent again); versions trained before
    an erasure are suppressed by :mod:`reco_app.training.suppression`."""
    until = until or timezone.now()
    since = until - dt.timedelta(days=float(conf.get("TRAINING_WINDOW_DAYS")))
    progress("load", 0, 2)
    events = load_events(since=since, until=until)
    progress("load", 1, 2)
    catalog = load_catalog(fields=TRAINING_FIELDS)
    progress("load", 2, 2)
    with gc_paused():
        return prepare(events, catalog, until=until, cfg=settings_snapshot(), user_feature_provider=user_feature_provider())
