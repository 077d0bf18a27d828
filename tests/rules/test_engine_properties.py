"""Invariants of the rules stage on random candidate sets and rules (no database)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reco_app.rules.compile import compile_rules
from reco_app.rules.engine import apply_rules, live_rules
from reco_app.serving.types import Candidates, CatalogIndex, ServingContext

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
CATALOG = CatalogIndex.from_rows(
    [
        {"product_key": f"P{i}", "category": f"c{i % 4}", "brand": f"b{i % 5}", "price": float(i), "stock": i % 7,
         "in_stock": i % 11 != 0, "tags": [f"t{i % 3}"], "launched_at": NOW - dt.timedelta(days=i)}
        for i in range(60)
    ]
)

rule = st.fixed_dictionaries(
    {
        "action": st.sampled_from(["exclude", "filter", "boost", "bury", "pin", "cap"]),
        "brands": st.lists(st.sampled_from([f"b{i}" for i in range(5)]), max_size=2),
        "tags": st.lists(st.sampled_from(["t0", "t1", "t2"]), max_size=1),
        "position": st.integers(1, 5),
        "pin_product_key": st.sampled_from(["", "P3", "P22", "P44"]),
        "factor": st.floats(1, 5),
        "cap_count": st.integers(1, 3),
        "cap_by": st.sampled_from(["brand", "category"]),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(rule, max_size=8),
    picked=st.lists(st.integers(0, 59), min_size=0, max_size=40, unique=True),
    seed=st.integers(0, 1000),
)
def test_invariants(rules: list[dict], picked: list[int], seed: int) -> None:
    specs = [{"name": f"r{i}", "priority": i, **r} for i, r in enumerate(rules)]
    compiled = compile_rules(specs, CATALOG)
    live = live_rules(compiled, ServingContext(placement="home", now=NOW))
    scores = np.random.default_rng(seed).normal(size=len(picked))
    cands = Candidates(np.array(picked, np.int64), scores, np.zeros(len(picked), np.int16), ["model"])
    out = apply_rules(cands, CATALOG, compiled, live, NOW.timestamp())

    assert len(set(out.idx.tolist())) == len(out.idx)  # no duplicates
    assert len(out.idx) == len(out.score) == len(out.source)
    pinned = set(out.pinned.values())
    assert pinned <= set(out.idx.tolist()) and len(pinned) == len(out.pinned)
    assert all(CATALOG.in_stock[i] for i in pinned)  # never pin what cannot be sold
    for col, spec in enumerate(specs):
        mask = compiled.masks[:, col]
        unpinned = np.array([i for i in out.idx if i not in pinned], np.int64)
        if spec["action"] == "exclude" and len(unpinned):
            assert not mask[unpinned].any()
        if spec["action"] == "filter" and len(unpinned):
            assert mask[unpinned].all()
        if spec["action"] == "cap" and len(unpinned):
            groups = (CATALOG.brand if spec["cap_by"] == "brand" else CATALOG.category)[unpinned[mask[unpinned]]]
            assert (np.bincount(groups) <= spec["cap_count"]).all() if len(groups) else True
