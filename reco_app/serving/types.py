"""Shared shapes of the serving pipeline: the catalog as arrays, and candidate sets.

Candidate sources, the rules engine and rankers all work on these arrays, so no stage
loops over products in Python. The catalog type, :class:`CatalogIndex`, is the one training
reads too (:mod:`reco_app.datasets.catalog`); it is importable from here as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reco_app.datasets.catalog import CatalogIndex

__all__ = ["Candidates", "CatalogIndex", "ServingContext", "unique_inverse"]


#: up to this many values, :func:`unique_inverse` works on Python ints
SMALL = 24


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative row numbers. Where they
    are dense (as many values as a sixteenth of their range, the usual candidate pool) a
    count over the range finds them without sorting: three to four times faster, the same
    arrays. Up to ``SMALL`` values, Python's set and sort (1.5 to 3 times faster than
    ``np.unique`` there)."""
    values = np.asarray(values)
    if not len(values) or values.dtype.kind != "i":  # (np.bincount takes no uint64)
        return np.unique(values, return_inverse=True)  # type: ignore[no-any-return]
    if len(values) <= SMALL:  # a few anchors' neighbours: Python's set and sort beat numpy's calls
        items = values.tolist()
        ordered = sorted(set(items))
        where = {v: i for i, v in enumerate(ordered)}
        return np.array(ordered, values.dtype), np.array([where[v] for v in items], np.intp)
    low, high = int(values.min()), int(values.max())
    if low < 0 or len(values) * 16 < high + 1:
        return np.unique(values, return_inverse=True)  # type: ignore[no-any-return]
    uniq = np.flatnonzero(np.bincount(values, minlength=high + 1)).astype(values.dtype)
    position = np.zeros(high + 1, np.intp)
    position[uniq] = np.arange(len(uniq))
    return uniq, position[values]


@dataclass
class Candidates:
    """A scored candidate list: parallel arrays over catalog row indices.

    ``source`` holds, per candidate, the index into ``source_names`` of the source that
    proposed it; ``reasons`` optional short human reasons by catalog index.
    ``pinned`` maps a 0-based output position to a catalog index (set by pin rules,
    honoured by the ranker's truncation).
    """

    idx: np.ndarray  # int64 catalog rows, unique
    score: np.ndarray  # float64
    source: np.ndarray  # int16 codes into source_names
    source_names: list[str] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    pinned: dict[int, int] = field(default_factory=dict)
    trace: dict[int, list[str]] = field(default_factory=dict)  # catalog idx -> rule names that moved it

    def __len__(self) -> int:
        return len(self.idx)

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int16), [])

    def take(self, mask_or_order: np.ndarray) -> Candidates:
        """A subset/reordering (boolean mask or integer positions); side tables are kept."""
        return Candidates(
            idx=self.idx[mask_or_order],
            score=self.score[mask_or_order],
            source=self.source[mask_or_order],
            source_names=self.source_names,
            reasons=self.reasons,
            pinned=self.pinned,
            trace=self.trace,
        )


@dataclass
class ServingContext:
    """Who and where: passed to every pipeline stage."""

    placement: str
    subject: str | None = None  # customer key or ``anon:<visitor id>``; None when unknown
    user: Any = None
    visitor_id: str | None = None
    session_id: str | None = None
    product_key: str | None = None
    cart_keys: list[str] = field(default_factory=list)
    limit: int = 10
    segments: list[str] = field(default_factory=list)
    device: str = ""
    page_category: str = ""
    personalised: bool = True  # False when consent is refused/unknown
    now: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
