"""Placements: named pipelines configured in settings.

``RECO_APP["PLACEMENTS"]`` is merged over :data:`DEFAULT_PLACEMENTS` by name, so a shop
overrides one of ours or adds its own. Each entry::

    "for_you": {
        "sources": [                      # dotted path, or (dotted path, options)
            ("reco_app.serving.sources.ModelScores", {"weight": 1.0, "anchor": "user"}),
            ...
        ],
        "filters": ["reco_app.serving.filters.Available", ...],
        "ranker": ("reco_app.serving.ranking.Ranker", {"max_per_brand": 3}),
        "fallback": [...],                # sources used when the list comes up short
        "requires": None,                 # or "product" / "cart"
        "personal": True,                 # reads the shopper's history (when consented)
        "rules": True,                    # run the merchandising rules stage
        "title": "Recommended for you",
    }

``"extends": "for_you"`` starts an entry from another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from reco_app import conf

S = "reco_app.serving.sources."
F = "reco_app.serving.filters."
RANKER = "reco_app.serving.ranking.Ranker"
BASE_FILTERS = [F + "Available", F + "ExcludeContext"]
FALLBACK = [(S + "Trending", {}), (S + "Trending", {"half_life_days": 3650, "window_days": 3650}), (S + "NewArrivals", {"days": 36500})]

DEFAULT_PLACEMENTS: dict[str, dict[str, Any]] = {
    "for_you": {
        "title": "Recommended for you",
        "sources": [
            (S + "ModelScores", {"weight": 1.0, "anchor": "user"}),
            (S + "CoOccurrence", {"weight": 0.4, "anchor": "history"}),
            (S + "MetadataSimilarity", {"weight": 0.3, "anchor": "history", "only_without_model": True}),
            (S + "Trending", {"weight": 0.15}),
        ],
        "filters": [*BASE_FILTERS, F + "AlreadyPurchased"],
        "ranker": (RANKER, {"max_per_brand": 3, "max_per_category": 4, "explore_share": 0.1}),
    },
    "similar": {
        "title": "Similar products",
        "requires": "product",
        "personal": False,
        "sources": [
            (S + "ModelScores", {"weight": 1.0, "anchor": "product"}),
            (S + "MetadataSimilarity", {"weight": 0.8, "anchor": "product"}),
        ],
        "ranker": (RANKER, {"max_per_brand": 4, "explore_share": 0.1}),
        "fallback": [(S + "Trending", {"per_category": True}), *FALLBACK],
    },
    "bought_together": {
        "title": "Frequently bought together",
        "requires": "product",
        "personal": False,
        "sources": [
            (S + "CoOccurrence", {"weight": 1.0, "anchor": "product"}),
            (S + "ModelScores", {"weight": 0.3, "anchor": "product"}),
        ],
        "ranker": (RANKER, {"max_per_category": 3}),
    },
    "complete_the_cart": {
        "title": "Complete your order",
        "requires": "cart",
        "sources": [
            (S + "CoOccurrence", {"weight": 1.0, "anchor": "cart"}),
            (S + "ModelScores", {"weight": 0.5, "anchor": "cart"}),
            (S + "MetadataSimilarity", {"weight": 0.2, "anchor": "cart", "category": 0.2}),
        ],
        "filters": [*BASE_FILTERS, F + "AlreadyPurchased"],
        "ranker": (RANKER, {"max_per_category": 3}),
    },
    "trending": {
        "title": "Trending now",
        "personal": False,
        "sources": [(S + "Trending", {"per_category": True})],
        "ranker": (RANKER, {"max_per_brand": 3}),
    },
    "recently_viewed": {
        "title": "Recently viewed",
        "sources": [S + "RecentlyViewed"],
        "ranker": RANKER,
    },
    "new_arrivals": {
        "title": "New arrivals",
        "personal": False,
        "sources": [S + "NewArrivals"],
        "ranker": (RANKER, {"max_per_brand": 3}),
    },
    "buy_again": {
        "title": "Buy again",
        "sources": [S + "BuyAgain"],
        "ranker": RANKER,
    },
}


@dataclass
class Pipeline:
    name: str
    title: str
    sources: list[tuple[Any, float]]
    filters: list[Any]
    ranker: Any
    fallback: list[Any]
    requires: str | None = None
    personal: bool = True
    rules: bool = True
    config: dict[str, Any] = field(default_factory=dict)


class UnknownPlacement(LookupError):
    pass


def _plugin(spec: Any) -> tuple[Any, dict[str, Any]]:
    if isinstance(spec, str):
        path, options = spec, {}
    else:
        path, options = spec[0], dict(spec[1]) if len(spec) > 1 else {}
    return import_string(path), options


def _build(name: str, cfg: dict[str, Any]) -> Pipeline:
    sources = []
    for spec in cfg.get("sources", []):
        cls, options = _plugin(spec)
        weight = float(options.pop("weight", 1.0))
        sources.append((cls(**options), weight))
    filters = [cls(**opts) for cls, opts in map(_plugin, cfg.get("filters", BASE_FILTERS))]
    ranker_cls, ranker_opts = _plugin(cfg.get("ranker", RANKER))
    fallback = [cls(**opts) for cls, opts in map(_plugin, cfg.get("fallback", FALLBACK))]
    return Pipeline(
        name=name,
        title=str(cfg.get("title", name.replace("_", " ").capitalize())),
        sources=sources,
        filters=filters,
        ranker=ranker_cls(**ranker_opts),
        fallback=fallback,
        requires=cfg.get("requires"),
        personal=bool(cfg.get("personal", True)),
        rules=bool(cfg.get("rules", True)),
        config=cfg,
    )


def placement_configs() -> dict[str, dict[str, Any]]:
    configured: dict[str, dict[str, Any]] = {**DEFAULT_PLACEMENTS, **(conf.get("PLACEMENTS") or {})}
    resolved = {}
    for name, cfg in configured.items():
        seen = {name}
        while "extends" in cfg and cfg["extends"] not in seen:
            seen.add(cfg["extends"])
            cfg = {**configured.get(cfg["extends"], {}), **{k: v for k, v in cfg.items() if k != "extends"}}
        resolved[name] = cfg
    return resolved


@cache
def _pipelines() -> dict[str, Pipeline]:
    return {name: _build(name, cfg) for name, cfg in placement_configs().items()}


def get_pipeline(name: str) -> Pipeline:
    try:
        return _pipelines()[name]
    except KeyError:
        raise UnknownPlacement(f"unknown placement {name!r}; known: {', '.join(sorted(_pipelines()))}") from None


def placement_names() -> list[str]:
    return sorted(_pipelines())


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        _pipelines.cache_clear()
