"""``Candidates.trace`` filled lazily: which rules touched which products.

Writing the rule names per product on every request would be a Python loop over the
candidates; instead the engine records (rule names, catalog rows, match matrix) blocks
and the dict is filled the first time anything reads it (the preview does; serving
normally doesn't).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class LazyTrace(dict):  # type: ignore[type-arg]
    """A ``dict[int, list[str]]`` (catalog row → rule names) materialised on first read."""

    def __init__(self, base: dict[int, list[str]] | None = None) -> None:
        super().__init__({k: list(v) for k, v in (base or {}).items()})
        self._pending: list[tuple[list[str], np.ndarray, np.ndarray]] = []
        self._notes: list[tuple[int, str]] = []

    def defer(self, names: list[str], rows: np.ndarray, matrix: np.ndarray) -> None:
        """Rule ``names[j]`` touched catalog row ``rows[i]`` wherever ``matrix[i, j]``."""
        if len(names) and len(rows):
            self._pending.append((names, rows, matrix))

    def note(self, row: int, name: str) -> None:
        self._notes.append((int(row), name))

    def _flush(self) -> None:
        if not self._pending and not self._notes:
            return
        pending, self._pending = self._pending, []
        notes, self._notes = self._notes, []
        for names, rows, matrix in pending:
            hit_rows, hit_cols = np.nonzero(matrix)
            for r, c in zip(rows[hit_rows].tolist(), hit_cols.tolist(), strict=True):
                dict.setdefault(self, r, []).append(names[c])
        for row, name in notes:
            dict.setdefault(self, row, []).append(name)

    # --- every read or write goes through _flush ------------------------------------
    def __getitem__(self, key: Any) -> list[str]:
        self._flush()
        return dict.__getitem__(self, key)

    def __setitem__(self, key: Any, value: list[str]) -> None:
        self._flush()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._flush()
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._flush()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[int]:
        self._flush()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._flush()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        self._flush()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._flush()
        return dict.__repr__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        self._flush()
        return (dict, (dict(dict.items(self)),))

    def get(self, key: Any, default: Any = None) -> Any:
        self._flush()
        return dict.get(self, key, default)

    def keys(self) -> Any:
        self._flush()
        return dict.keys(self)

    def values(self) -> Any:
        self._flush()
        return dict.values(self)

    def items(self) -> Any:
        self._flush()
        return dict.items(self)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._flush()
        return dict.setdefault(self, key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        self._flush()
        return dict.pop(self, key, *default)

    def copy(self) -> dict[int, list[str]]:
        self._flush()
        return {k: list(v) for k, v in dict.items(self)}

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._flush()
        dict.update(self, *args, **kwargs)
