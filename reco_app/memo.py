"""A process's memory of answers that are cheap to find again but asked on every request."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(dict[K, V]):
    """At most ``limit`` answers, all forgotten at once when full: no order is kept, so a
    request that finds its answer pays one dict lookup, and one that does not pays the
    work it saves others plus one insert."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (after forgetting everything, when full)."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
