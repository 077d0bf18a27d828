"""Stable id maps: which matrix row is which shopper, which column which product."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def stable_keys(*groups: Iterable[str], known: Iterable[str] = ()) -> np.ndarray:
    """Keys of ``known`` first in their order, then every new key sorted.

    A fresh map is therefore sorted (the same data gives the same map), and extending a
    map never moves an existing row.
    """
    known_list = [str(k) for k in known]
    seen = set(known_list)
    new: set[str] = set()
    for group in groups:
        values = group.tolist() if isinstance(group, np.ndarray) else list(group)
        new.update(values)
    new = {str(k) for k in new}  # only the distinct keys are converted
    return np.array(known_list + sorted(new - seen), dtype=object)


def index_of(keys: np.ndarray) -> dict[str, int]:
    return {str(k): i for i, k in enumerate(keys)}


def encode(values: np.ndarray, index: dict[str, int]) -> np.ndarray:
    """Row/column numbers of ``values`` (-1 for keys not in the map)."""
    get = index.get
    return np.array([get(v, -1) for v in values.tolist()], dtype=np.int64)
