"""Manual segments: merchandiser-defined conditions over each shopper's history.

A definition is ``{"match": "all" | "any", "conditions": [condition, ...]}`` where a
condition is one of::

    {"field": "bought_category", "value": "Shoes"}        # bought from this category
    {"field": "viewed_category", "value": "Shoes"}        # viewed a product of this category
    {"field": "total_spend", "op": "gte", "value": 200}   # numeric fields, op: gte lte gt lt eq
    {"field": "orders", "op": "gte", "value": 2}
    {"field": "days_since_visit", "op": "lte", "value": 7}    # visited in the last 7 days
    {"field": "days_since_purchase", "op": "lte", "value": 30}
    {"field": "lifecycle", "value": "vip"}                 # a lifecycle stage
    {"field": "rfm", "value": "champions"}                 # a named RFM segment
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from reco_app.models.segments import Segment, SegmentKind
from reco_app.segments import lifecycle, rfm
from reco_app.segments.history import History
from reco_app.segments.profile import Profile, build_profile
from reco_app.segments.types import SegmentResult

OPS: dict[str, Callable[[Any, Any], Any]] = {"gte": operator.ge, "lte": operator.le, "gt": operator.gt, "lt": operator.lt, "eq": operator.eq}
NUMERIC = {
    "total_spend": ("spend", "total spend"),
    "orders": ("orders", "orders"),
    "days_since_visit": ("days_since_seen", "days since last visit"),
    "days_since_purchase": ("days_since_purchase", "days since last purchase"),
    "events": ("n_events", "events"),
}
CATEGORY = {"bought_category": "purchase", "viewed_category": "product_view"}
STAGE = {"lifecycle", "rfm"}
FIELDS = [*NUMERIC, *CATEGORY, *STAGE]
OP_WORDS = {"gte": "≥", "lte": "≤", "gt": ">", "lt": "<", "eq": "="}


def validate(definition: Any) -> list[str]:
    """Problems with a definition, in words (empty when it is valid)."""
    if not isinstance(definition, dict):
        return ["The definition must be an object with 'conditions'."]
    errors = []
    if definition.get("match", "all") not in ("all", "any"):
        errors.append("'match' must be 'all' or 'any'.")
    conditions = definition.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        return [*errors, "Add at least one condition."]
    for n, cond in enumerate(conditions, 1):
        if not isinstance(cond, dict) or cond.get("field") not in FIELDS:
            errors.append(f"Condition {n}: field must be one of {', '.join(FIELDS)}.")
            continue
        value = cond.get("value")
        if cond["field"] in NUMERIC:
            if cond.get("op", "gte") not in OPS:
                errors.append(f"Condition {n}: op must be one of {', '.join(OPS)}.")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"Condition {n}: value must be a number.")
        elif not isinstance(value, str) or not value.strip():
            errors.append(f"Condition {n}: value must be a non-empty text.")
    return errors


def describe(definition: dict[str, Any]) -> str:
    parts = []
    for cond in definition.get("conditions", []):
        f, v = cond["field"], cond["value"]
        if f in NUMERIC:
            parts.append(f"{NUMERIC[f][1]} {OP_WORDS[cond.get('op', 'gte')]} {v:g}")
        elif f in CATEGORY:
            parts.append(f"{'bought' if f == 'bought_category' else 'viewed'} from {v}")
        else:
            parts.append(f"{f} stage {v}" if f == "lifecycle" else f"RFM segment {v}")
    joiner = " and " if definition.get("match", "all") == "all" else " or "
    text = joiner.join(parts)
    return text[:1].upper() + text[1:]


def evaluate(definition: dict[str, Any], h: History, p: Profile, stage: np.ndarray, rfm_names: np.ndarray) -> np.ndarray:
    """Boolean mask over subjects matching the definition."""
    masks = []
    for cond in definition["conditions"]:
        f, v = cond["field"], cond["value"]
        if f in NUMERIC:
            masks.append(OPS[cond.get("op", "gte")](getattr(p, NUMERIC[f][0]), v))
        elif f in CATEGORY:
            cat = h.categories.index(v) if v in h.categories else -2
            hit = (h.cat == cat) & (h.etype == CATEGORY[f])
            masks.append(np.bincount(h.subj[hit], minlength=h.n_subjects) > 0)
        elif f == "lifecycle":
            masks.append(stage == v)
        else:
            masks.append(rfm_names == v)
    combine = np.logical_and if definition.get("match", "all") == "all" else np.logical_or
    return combine.reduce(masks) if masks else np.zeros(h.n_subjects, bool)


def compute(h: History, profile: Profile | None = None, segments: list[Segment] | None = None) -> list[SegmentResult]:
    p = profile or build_profile(h)
    if segments is None:
        segments = list(Segment.objects.filter(kind=SegmentKind.MANUAL, enabled=True))
    if not segments:
        return []
    stage = lifecycle.stages(p)
    scores = rfm.score(h, p)
    rfm_names = np.full(h.n_subjects, "", dtype=object)
    rfm_names[scores.buyers] = scores.names
    results = []
    for seg in segments:
        if validate(seg.definition):
            continue
        ids = np.flatnonzero(evaluate(seg.definition, h, p, stage, rfm_names))
        reason = f"matches: {describe(seg.definition)}"
        results.append(SegmentResult(seg.key, seg.name, SegmentKind.MANUAL, seg.description or describe(seg.definition), ids, p.spend[ids], [reason] * len(ids)))
    return results
