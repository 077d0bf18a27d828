"""Benchmark: time the rules stage adds to one request.

50 active rules of every kind over a 100k-product catalog, applied to 500-candidate
sets. Prints the time per request without rules (baseline: the stage with no active
rules), with 50 rules, the added time and the ratio; plus the one-off compile time
per (catalog, rules version).

    DJANGO_SETTINGS_MODULE is set here; run with ``python benchmarks/bench_rules.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

import numpy as np

from reco_app import cache
from reco_app.rules.compile import compile_rules
from reco_app.rules.engine import RulesStage
from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

N_ITEMS, N_CANDS, N_RULES, REPEATS = 100_000, 500, 50, 1000
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
rng = np.random.default_rng(7)


def make_catalog() -> CatalogIndex:
    cats = [f"cat{i}" for i in range(200)]
    brands = [f"brand{i}" for i in range(500)]
    tags = [f"tag{i}" for i in range(300)]
    rows = [
        {
            "product_key": f"P{i}",
            "name": f"Product {i}",
            "category": cats[i % 200],
            "brand": brands[(i * 7) % 500],
            "price": float(5 + (i * 13) % 300),
            "stock": int((i * 31) % 120) - 1,
            "tags": [tags[(i * 3) % 300], tags[(i * 11) % 300]],
            "launched_at": NOW - dt.timedelta(days=(i * 17) % 720),
        }
        for i in range(N_ITEMS)
    ]
    return CatalogIndex.from_rows(rows, version="bench")


def make_specs() -> list[dict]:
    specs = []
    kinds = ["boost"] * 18 + ["bury"] * 12 + ["exclude"] * 8 + ["filter"] * 1 + ["pin"] * 6 + ["cap"] * 5
    for i, action in enumerate(kinds):
        spec = {
            "name": f"rule {i}", "action": action, "priority": i, "enabled": True,
            "categories": [], "brands": [], "tags": [], "product_keys": [],
            "placements": ["for_you"] if i % 3 else [], "segments": [], "devices": [], "page_categories": [],
            "starts_at": NOW - dt.timedelta(days=1) if i % 4 == 0 else None,
            "ends_at": NOW + dt.timedelta(days=1) if i % 5 == 0 else None,
            "factor": 1.5, "additive": 0.1, "position": None, "pin_product_key": "", "cap_count": None, "cap_by": "",
        }
        criterion = i % 5
        if criterion == 0:
            spec["categories"] = [f"cat{j}" for j in range(i, i + 40)]
        elif criterion == 1:
            spec["brands"] = [f"brand{j}" for j in range(i * 3, i * 3 + 60)]
        elif criterion == 2:
            spec["tags"] = [f"tag{i}", f"tag{i + 100}"]
        elif criterion == 3:
            spec.update(price_min=20.0, price_max=200.0, stock_min=1)
        else:
            spec["launched_within_days"] = 180
        if action == "exclude":  # narrow, as exclusions usually are
            spec.update(categories=[], brands=[], price_min=None, price_max=None, stock_min=None,
                        launched_within_days=None, tags=[f"tag{i}"])
        if action == "filter":
            spec.update(categories=[], brands=[], tags=[], price_max=250.0)
        if action == "pin":
            spec["position"] = i % 10 + 1
            spec["pin_product_key"] = f"P{i * 997}" if i % 2 else ""
        if action == "cap":
            spec.update(cap_count=3, cap_by="brand" if i % 2 else "category")
        specs.append(spec)
    return specs


def time_stage(stage: RulesStage, cat: CatalogIndex, cand_sets: list[Candidates]) -> tuple[float, float]:
    """Best of 5 batches (the machine may be shared): (wall ms, CPU ms) per request."""
    ctx = ServingContext(placement="for_you", now=NOW, device="mobile")
    for c in cand_sets[:50]:
        stage.apply(c, cat, ctx)
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(REPEATS):
            stage.apply(cand_sets[i % len(cand_sets)], cat, ctx)
        walls.append((time.perf_counter() - wall) / REPEATS * 1000)
        cpus.append((time.process_time() - cpu) / REPEATS * 1000)
    return min(walls), min(cpus)


def main() -> None:
    cat = make_catalog()
    cand_sets = []
    for _ in range(200):
        idx = rng.choice(N_ITEMS, N_CANDS, replace=False).astype(np.int64)
        cand_sets.append(Candidates(idx, rng.normal(size=N_CANDS), np.zeros(N_CANDS, np.int16), ["model"]))
    stage = RulesStage()

    def install(specs: list[dict]) -> None:
        version = cache.bump("rules")
        cache.set(cache.make_key("rules", "specs", version), specs, timeout=3600)

    install([])
    base = time_stage(stage, cat, cand_sets)
    specs = make_specs()
    start = time.perf_counter()
    compile_rules(specs, cat)
    compile_ms = (time.perf_counter() - start) * 1000
    install(specs)
    with_rules = time_stage(stage, cat, cand_sets)
    live = ServingContext(placement="for_you", now=NOW)
    out = stage.apply(cand_sets[0], cat, live)
    print(f"catalog {N_ITEMS} products, {N_CANDS} candidates, {len(specs)} active rules, best of 5 x {REPEATS} requests")
    print(f"rules stage, no rules (baseline): {base[0]:.3f} ms/request wall, {base[1]:.3f} ms CPU")
    print(f"rules stage, {len(specs)} rules:           {with_rules[0]:.3f} ms/request wall, {with_rules[1]:.3f} ms CPU")
    print(f"added per request:                {with_rules[0] - base[0]:.3f} ms wall (target <= 1 ms)")
    print(f"ratio vs no rules:                {with_rules[0] / base[0]:.1f}x")
    print(f"compile (once per catalog and rules version): {compile_ms:.0f} ms")
    print(f"sample request: {len(cand_sets[0])} -> {len(out)} candidates, {len(out.pinned)} pins")


if __name__ == "__main__":
    main()
