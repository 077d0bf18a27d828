"""Compile rules into boolean masks over a ``CatalogIndex`` (once per catalog and rules version).

A rule's condition becomes one column of ``masks`` (n_products × n_rules). Only
"launched within N days" depends on the time of the request; it is kept aside as a
number of seconds and applied to the candidates at request time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reco_app.serving.types import CatalogIndex

ACTIONS = ("exclude", "filter", "boost", "bury", "pin", "cap")


@dataclass
class CompiledRule:
    name: str
    action: str
    col: int
    priority: int
    starts_at: float  # unix seconds, -inf = no start
    ends_at: float  # unix seconds (exclusive), +inf = no end
    placements: frozenset[str]
    segments: frozenset[str]
    devices: frozenset[str]
    page_categories: frozenset[str]
    within_seconds: float | None = None
    position: int = 0  # 0-based
    pin_idx: int = -1  # catalog row of the pinned product, -1 = best matching candidate
    log_factor: float = 0.0  # signed: positive boosts, negative buries
    additive: float = 0.0  # signed
    cap_count: int = 0
    cap_by: str = ""

    def in_scope(self, placement: str, segments: set[str] | None, device: str, page_category: str, now: float) -> bool:
        """Schedule and scope; ``segments=None`` leaves the segment check to the caller."""
        return (
            self.starts_at <= now < self.ends_at
            and (not self.placements or placement in self.placements)
            and (segments is None or not self.segments or bool(self.segments & segments))
            and (not self.devices or device in self.devices)
            and (not self.page_categories or page_category in self.page_categories)
        )


@dataclass
class CompiledRules:
    rules: list[CompiledRule]
    masks: np.ndarray  # (n_products, n_rules) bool
    unconditional: list[bool] = field(default_factory=list)


def _ts(value: dt.datetime | None, default: float) -> float:
    return value.timestamp() if value else default


def _lower_set(values: Any) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in (values or []) if str(v).strip())


def _codes(names: list[str], wanted: frozenset[str]) -> np.ndarray:
    return np.array([i for i, n in enumerate(names) if n.lower() in wanted], dtype=np.int32)


def condition_mask(spec: dict[str, Any], catalog: CatalogIndex) -> np.ndarray:
    """Products matching every criterion of the rule (lists match any of their entries)."""
    n = len(catalog)
    mask = np.ones(n, dtype=bool)
    categories, brands, tags = (_lower_set(spec.get(k)) for k in ("categories", "brands", "tags"))
    if categories:
        mask &= np.isin(catalog.category, _codes(catalog.categories, categories))
    if brands:
        mask &= np.isin(catalog.brand, _codes(catalog.brands, brands))
    if tags:
        cols = _codes(catalog.tag_names, tags)
        mask &= np.asarray(catalog.tags[:, cols].getnnz(axis=1) > 0).ravel() if len(cols) else False
    with np.errstate(invalid="ignore"):  # unknown price (nan) never matches a price criterion
        if spec.get("price_min") is not None:
            mask &= catalog.price >= float(spec["price_min"])
        if spec.get("price_max") is not None:
            mask &= catalog.price <= float(spec["price_max"])
        if spec.get("launched_after"):
            mask &= catalog.launched_at >= spec["launched_after"].timestamp()
        if spec.get("launched_before"):
            mask &= catalog.launched_at < spec["launched_before"].timestamp()
    tracked = catalog.stock >= 0  # untracked stock never matches a stock criterion
    if spec.get("stock_min") is not None:
        mask &= tracked & (catalog.stock >= int(spec["stock_min"]))
    if spec.get("stock_max") is not None:
        mask &= tracked & (catalog.stock <= int(spec["stock_max"]))
    if spec.get("product_keys"):
        picked = np.zeros(n, dtype=bool)
        picked[catalog.indices(str(k) for k in spec["product_keys"])] = True
        mask &= picked
    return mask


def compile_rules(specs: list[dict[str, Any]], catalog: CatalogIndex) -> CompiledRules:
    """Specs are ``Rule.as_dict()`` values ordered by priority."""
    masks = np.zeros((len(catalog), len(specs)), dtype=bool)
    compiled = []
    for col, spec in enumerate(specs):
        masks[:, col] = condition_mask(spec, catalog)
        action = spec["action"]
        sign = -1.0 if action == "bury" else 1.0
        days = spec.get("launched_within_days")
        pin_key = spec.get("pin_product_key") or ""
        compiled.append(
            CompiledRule(
                name=spec["name"],
                action=action,
                col=col,
                priority=int(spec.get("priority") or 0),
                starts_at=_ts(spec.get("starts_at"), -np.inf),
                ends_at=_ts(spec.get("ends_at"), np.inf),
                placements=_lower_set(spec.get("placements")),
                segments=_lower_set(spec.get("segments")),
                devices=_lower_set(spec.get("devices")),
                page_categories=_lower_set(spec.get("page_categories")),
                within_seconds=float(days) * 86400.0 if days else None,
                position=max(int(spec.get("position") or 1) - 1, 0),
                pin_idx=catalog.key_to_idx.get(pin_key, -2) if pin_key else -1,
                log_factor=sign * float(np.log(max(float(spec.get("factor") or 1.0), 1e-9))),
                additive=sign * float(spec.get("additive") or 0.0),
                cap_count=int(spec.get("cap_count") or 0),
                cap_by=spec.get("cap_by") or "",
            )
        )
    return CompiledRules(rules=compiled, masks=masks)
