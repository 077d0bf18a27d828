"""The merchandising rules stage of the serving pipeline.

Per request the cost is one cache read (the "rules" namespace version) plus a handful
of numpy operations on the candidate arrays: rule conditions are compiled to boolean
masks over the whole catalog once per (catalog, rules version) and gathered for the
candidates. Order of effects, whatever the priorities:

1. exclude and filter rules drop candidates;
2. boost and bury rules change scores: all multipliers, then all additive amounts
   (so their order never matters); a multiplier always moves a score in the rule's
   direction, also for negative scores;
3. pin rules, by priority, write ``cands.pinned`` (a taken position keeps its first pin);
   a pinned product missing from the candidates is added; pins win over exclusions;
4. cap rules drop the lowest-scored candidates beyond N per brand or category (pinned
   products are exempt).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from django.utils import timezone
from django.utils.module_loading import import_string

from reco_app import cache, conf
from reco_app.rules.compile import CompiledRule, CompiledRules, compile_rules
from reco_app.rules.trace import LazyTrace
from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

PINNED_SOURCE = "pinned"


def load_specs() -> list[dict[str, Any]]:
    """Enabled rules as plain dicts, by priority (schedules are checked per request)."""
    from reco_app.models.rules import Rule

    return [{"id": r.pk, **r.as_dict()} for r in Rule.objects.enabled().order_by("priority", "id")]


def cached_specs(version: int) -> list[dict[str, Any]]:
    return cache.get_or_set(cache.make_key("rules", "specs", version), load_specs)


# id(catalog) -> (weak reference to it, rules version, compiled rules). Kept beside the
# catalog rather than on it, so a catalog pickled into a cache never carries the masks.
_compiled: dict[int, tuple[weakref.ref[CatalogIndex], int, CompiledRules]] = {}
_MAX_CATALOGS = 4


def compiled_for(catalog: CatalogIndex, version: int | None = None) -> CompiledRules:
    """Compiled rules for this catalog object, rebuilt when the "rules" namespace is bumped."""
    version = cache.ns_version("rules") if version is None else version
    memo = _compiled.get(id(catalog))
    if memo is not None and memo[0]() is catalog and memo[1] == version:
        return memo[2]
    compiled = compile_rules(cached_specs(version), catalog)
    for key in [k for k, (ref, _, _) in list(_compiled.items()) if ref() is None]:
        _compiled.pop(key, None)
    for key in list(_compiled)[: max(len(_compiled) - _MAX_CATALOGS + 1, 0)]:
        _compiled.pop(key, None)  # the oldest first
    _compiled[id(catalog)] = (weakref.ref(catalog), version, compiled)
    return compiled


class RulesStage:
    """``apply(cands, catalog, ctx)``: the rules stage of the serving pipeline.

    ``varies_by(catalog, placement)`` tells serving which parts of the shopper's request the
    stage's answer can depend on besides the candidates and the page context ("segments",
    "device"), so a cached list is shared as widely as the rules allow."""

    @staticmethod
    def _compiled(catalog: CatalogIndex) -> CompiledRules:
        from reco_app.serving.local_cache import ns_versions  # the version recommend() just read

        return compiled_for(catalog, ns_versions(["rules"])["rules"])

    def varies_by(self, catalog: CatalogIndex, placement: str) -> frozenset[str]:
        placement = placement.lower()
        parts: set[str] = set()
        for rule in self._compiled(catalog).rules:
            if rule.placements and placement not in rule.placements:
                continue
            if rule.segments:
                parts.add("segments")
            if rule.devices:
                parts.add("device")
        return frozenset(parts)

    def apply(self, cands: Candidates, catalog: CatalogIndex, ctx: ServingContext) -> Candidates:
        compiled = self._compiled(catalog)
        if not compiled.rules:
            return cands
        live = live_rules(compiled, ctx)
        if not live:
            return cands
        return apply_rules(cands, catalog, compiled, live, (ctx.now or timezone.now()).timestamp())


def live_rules(compiled: CompiledRules, ctx: ServingContext) -> list[CompiledRule]:
    now = (ctx.now or timezone.now()).timestamp()
    placement, device, page = ctx.placement.lower(), (ctx.device or "").lower(), (ctx.page_category or "").lower()
    live = [r for r in compiled.rules if r.in_scope(placement, None, device, page, now)]
    if any(r.segments for r in live):
        segments = {s.lower() for s in shopper_segments(ctx)}
        live = [r for r in live if not r.segments or r.segments & segments]
    return live


def shopper_segments(ctx: ServingContext) -> list[str]:
    """The context's segments; looked up through SEGMENTS_PROVIDER when the pipeline left them empty."""
    if ctx.segments or not ctx.subject or not ctx.personalised:
        return ctx.segments
    provider = import_string(conf.get("SEGMENTS_PROVIDER"))
    ctx.segments = list(provider(ctx.subject) or [])
    return ctx.segments


def apply_rules(
    cands: Candidates, catalog: CatalogIndex, compiled: CompiledRules, live: list[CompiledRule], now: float
) -> Candidates:
    trace = LazyTrace(cands.trace)
    idx, score, source = cands.idx, cands.score.astype(np.float64, copy=True), cands.source
    rows = np.take(compiled.masks, idx, axis=0)
    matches = rows if len(live) == len(compiled.rules) else rows[:, [r.col for r in live]]
    within = [j for j, rule in enumerate(live) if rule.within_seconds is not None]
    if within:  # "launched within N days" depends on the time of the request
        since = now - np.array([live[j].within_seconds for j in within])
        matches[:, within] &= catalog.launched_at[idx][:, None] >= since  # nan (unknown) compares False
    by_action: dict[str, list[int]] = {}
    for j, rule in enumerate(live):
        by_action.setdefault(rule.action, []).append(j)

    def names(cols: list[int]) -> list[str]:
        return [live[j].name for j in cols]

    # 1. exclude / filter
    keep = np.ones(len(idx), dtype=bool)
    if "exclude" in by_action:
        cols = by_action["exclude"]
        keep &= ~matches[:, cols].any(axis=1)
        trace.defer(names(cols), idx, matches[:, cols])
    if "filter" in by_action:
        cols = by_action["filter"]
        keep &= matches[:, cols].all(axis=1)
        trace.defer(names(cols), idx, ~matches[:, cols])
    if not keep.all():
        idx, score, source, matches = idx[keep], score[keep], source[keep], matches[keep]

    # 2. boost / bury
    cols = by_action.get("boost", []) + by_action.get("bury", [])
    if cols and len(idx):
        hit = matches[:, cols]
        weights = hit.astype(np.float64)
        log_mult = weights @ np.array([live[j].log_factor for j in cols])
        mult = np.exp(log_mult)
        score = np.where(score >= 0, score * mult, score / mult) + weights @ np.array([live[j].additive for j in cols])
        trace.defer(names(cols), idx, hit)

    # 3. pins
    pinned = dict(cands.pinned)
    source_names = cands.source_names
    taken = _members(idx, pinned.values())
    added: list[int] = []
    for j in by_action.get("pin", []):
        rule = live[j]
        if rule.position in pinned:
            continue  # an earlier (higher priority) pin holds this position
        target = _pin_target(rule, j, matches, taken, idx, score, catalog)
        if target < 0 or target in pinned.values():
            continue
        pinned[rule.position] = target
        trace.note(target, rule.name)
        where = np.flatnonzero(idx == target)
        if len(where):
            taken[where[0]] = True
        else:
            added.append(target)
    if added:
        if PINNED_SOURCE not in source_names:
            source_names = [*source_names, PINNED_SOURCE]
        top = float(score.max()) if len(score) else 0.0
        idx = np.concatenate([idx, np.array(added, dtype=idx.dtype)])
        score = np.concatenate([score, np.full(len(added), top)])
        code = np.full(len(added), source_names.index(PINNED_SOURCE), dtype=source.dtype)
        source = np.concatenate([source, code])
        matches = np.concatenate([matches, np.zeros((len(added), matches.shape[1]), dtype=bool)])
        taken = np.concatenate([taken, np.ones(len(added), dtype=bool)])

    # 4. caps
    if "cap" in by_action and len(idx):
        keep = np.ones(len(idx), dtype=bool)
        rank = np.empty(len(idx), dtype=np.int64)
        rank[np.argsort(-score, kind="stable")] = np.arange(len(idx))
        for j in by_action["cap"]:
            rule = live[j]
            groups = (catalog.brand if rule.cap_by == "brand" else catalog.category)[idx]
            dropped = _beyond_cap(matches[:, j] & ~taken & keep & (groups >= 0), groups, rank, rule.cap_count)
            keep[dropped] = False
            trace.defer([rule.name], idx[dropped], np.ones((len(dropped), 1), dtype=bool))
        idx, score, source = idx[keep], score[keep], source[keep]

    return Candidates(
        idx=idx,
        score=score,
        source=source,
        source_names=source_names,
        reasons=cands.reasons,
        pinned=pinned,
        trace=trace,
    )


def _pin_target(
    rule: CompiledRule,
    col: int,
    matches: np.ndarray,
    taken: np.ndarray,
    idx: np.ndarray,
    score: np.ndarray,
    catalog: CatalogIndex,
) -> int:
    """The catalog row a pin rule pins now, or -1."""
    if rule.pin_idx >= 0:
        available = catalog.in_stock[rule.pin_idx] and catalog.published[rule.pin_idx]
        return rule.pin_idx if available else -1
    if rule.pin_idx == -2:
        return -1  # the pinned product is not in the catalog (any more)
    sellable = catalog.in_stock[idx] & catalog.published[idx]
    rows = np.flatnonzero(matches[:, col] & ~taken & sellable)
    if not len(rows):
        return -1
    return int(idx[rows[np.argmax(score[rows])]])


def _members(idx: np.ndarray, rows: Any) -> np.ndarray:
    """``idx`` entries among a few catalog rows (cheaper than np.isin for a handful)."""
    out = np.zeros(len(idx), dtype=bool)
    for row in rows:
        out |= idx == row
    return out


def _beyond_cap(members: np.ndarray, groups: np.ndarray, rank: np.ndarray, cap: int) -> np.ndarray:
    """Positions of ``members`` beyond the best ``cap`` of their group (``rank`` 0 = best score)."""
    sel = np.flatnonzero(members)
    if not len(sel):
        return sel
    order = sel[np.argsort(groups[sel].astype(np.int64) * len(rank) + rank[sel])]
    g = groups[order]
    n = len(order)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(g[1:], g[:-1], out=starts[1:])
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return order[(np.arange(n) - first) >= cap]
