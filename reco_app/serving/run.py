"""One uncached run of a placement's pipeline (:func:`run`): the shopper's profile, the
candidate sources, blend, filters, the merchandising rules, ranking, and the fallback fill,
so a list is never empty while the catalog has available products."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import numpy as np
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from reco_app import conf
from reco_app.models.events import visitor_subject
from reco_app.serving.filters import Available
from reco_app.serving.model_store import get_model
from reco_app.serving.placements import Pipeline
from reco_app.serving.profile import Profile, load_profile
from reco_app.serving.ranking import EXPLORE, blend
from reco_app.serving.sources import CandidateSource, SourceInputs
from reco_app.serving.subjects import Who
from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

logger = logging.getLogger("reco_app.serving.pipeline")

Row = tuple[str, float, str, str, list[str]]  # key, score, source, reason, rules that moved it


@cache
def rules_stage() -> Any:
    return import_string(conf.get("RULES_STAGE"))()


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "RECO_APP":
        rules_stage.cache_clear()


def _profile(pipeline: Pipeline, who: Who, catalog: CatalogIndex, known_users: dict[str, int], ctx: ServingContext) -> Profile:
    if not (pipeline.personal and who.personalised and who.subject):
        return Profile()
    # (the shared cache's copy of their history, read with their namespace: .histories)
    kept = (*ctx.extra["history"], ctx.extra.get("subject_version")) if "history" in ctx.extra else None
    profile = load_profile(who.subject, catalog, kept=kept)
    if who.guess_visitor and profile.empty and who.subject not in known_users:
        guess = load_profile(visitor_subject(who.subject), catalog)
        if not guess.empty:
            return guess
    return profile


def run(pipeline: Pipeline, catalog: CatalogIndex, ctx: ServingContext, who: Who, model_ns: int | None, with_rules: bool = True) -> tuple[int | None, list[Row]]:
    """One uncached pipeline run: (model version id or None, rows)."""
    model = get_model(catalog, model_ns)
    profile = _profile(pipeline, who, catalog, model.user_index if model else {}, ctx)
    ctx.extra["profile"] = profile
    anchors = catalog.indices([ctx.product_key] if ctx.product_key else ctx.cart_keys)
    eligible = catalog.available.copy()
    eligible[catalog.indices([ctx.product_key, *ctx.cart_keys, *ctx.extra["exclude"]])] = False
    inputs = SourceInputs(catalog, ctx, model, profile, anchors, eligible)

    owners: dict[str, CandidateSource] = {}
    parts = []
    for source, weight in pipeline.sources:
        name = source.name if source.name not in owners else f"{source.name}:{len(owners)}"
        owners[name] = source
        parts.append((name, weight, *_generate(source, inputs)))
    cands = blend(parts)
    for stage in pipeline.filters:
        cands = stage.apply(cands, catalog, ctx)
    if with_rules and pipeline.rules:
        try:
            cands = rules_stage().apply(cands, catalog, ctx)
            cands = Available().apply(cands, catalog, ctx)
        except Exception:
            logger.exception("reco_app: rules stage failed; serving without rules")
    ranked = pipeline.ranker.rank(cands, catalog, ctx, ctx.limit)
    rows = [_row(int(i), float(s), ranked.source_names[c], ranked, owners, inputs) for i, s, c in zip(ranked.idx, ranked.score, ranked.source)]
    if len(rows) < ctx.limit:
        rows += _fill(pipeline, inputs, {r[0] for r in rows}, ctx.limit - len(rows))
    return (model.version_id if model else None), rows


def _generate(source: CandidateSource, inputs: SourceInputs) -> tuple[np.ndarray, np.ndarray]:
    if source.only_without_model and inputs.model is not None:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    try:
        return source.generate(inputs)
    except Exception:
        logger.exception("reco_app: candidate source %s failed", type(source).__name__)
        return np.zeros(0, np.int64), np.zeros(0, np.float64)


def _row(i: int, score: float, source: str, ranked: Candidates, owners: dict[str, CandidateSource], inputs: SourceInputs) -> Row:
    reason = ranked.reasons.get(i)
    if not reason:
        owner = owners.get(source)
        if owner is not None:
            reason = owner.reason(i, inputs)
        elif source == EXPLORE:
            cat = inputs.catalog.category_name(i)
            reason = f"New in {cat}" if cat else "Just arrived"
    return (str(inputs.catalog.keys[i]), round(score, 6), source, reason or "", list(ranked.trace.get(i, [])))


def _fill(pipeline: Pipeline, inputs: SourceInputs, taken: set[str], n: int) -> list[Row]:
    """The fallback chain: trending, then all-time popular, then newest available products."""
    rows: list[Row] = []
    for source in pipeline.fallback:
        idx, scores = _generate(source, inputs)
        cands = Candidates(idx, scores, np.zeros(len(idx), np.int16), [source.name])
        for stage in pipeline.filters:
            cands = stage.apply(cands, inputs.catalog, inputs.ctx)
        for j in np.argsort(-cands.score, kind="stable"):
            i = int(cands.idx[j])
            key = str(inputs.catalog.keys[i])
            if key in taken:
                continue
            taken.add(key)
            rows.append((key, round(float(cands.score[j]), 6), source.name, source.reason(i, inputs), []))
            if len(rows) == n:
                return rows
    return rows

