"""The evaluation table: one row per model, one column per metric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COLUMNS = ("precision", "recall", "ndcg", "map", "auc", "coverage", "cold_recall")
LABELS = {"cold_recall": "cold recall"}


def header(k: int) -> list[str]:
    out = []
    for c in COLUMNS:
        label = LABELS.get(c, c)
        out.append(f"{label}@{k}" if c in ("precision", "recall", "ndcg", "map", "cold_recall") else label)
    return out


def fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}"


def format_table(evaluation: Mapping[str, Any]) -> str:
    """Plain-text table of ``evaluation["rows"]`` ({model: {metric: value}})."""
    k = int(evaluation.get("k", 10))
    rows = ordered(evaluation.get("rows") or {})
    head = ["model", *header(k)]
    body = [[name, *(fmt(metrics.get(c)) for c in COLUMNS)] for name, metrics in rows.items()]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(r)) for r in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    info = []
    if evaluation.get("cutoff"):
        info.append(f"holdout after {evaluation['cutoff']}")
    if evaluation.get("users") is not None:
        info.append(f"{evaluation['users']} shoppers evaluated")
    if info:
        lines.append("(" + ", ".join(info) + ")")
    return "\n".join(lines)


ORDER = ("lightfm", "popularity", "trending", "cooccurrence")


def ordered(rows: Mapping[str, Any]) -> dict[str, Any]:
    """The model first, then the baselines (a JSON column may not keep key order)."""
    rank = {name: i for i, name in enumerate(ORDER)}
    return {name: rows[name] for name in sorted(rows, key=lambda n: (rank.get(n, len(ORDER)), n))}
