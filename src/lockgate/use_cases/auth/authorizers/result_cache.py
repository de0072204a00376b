"""``ResultCache``: Lambda authorizers' answers by identity values, for ``ttl`` seconds, in a
bounded number of entries (callers choose the keys: made-up identities must not grow it
without end)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["MAX_ENTRIES", "ResultCache"]

MAX_ENTRIES = 10_000
V = TypeVar("V")


class ResultCache(Generic[V]):
    """Values that expire ``ttl`` seconds after they were put.

    Args:
        ttl: Seconds an entry lives.
        max_entries: Entries kept; past it the oldest goes (it expires first).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        """The value put under ``key`` less than ``ttl`` seconds ago, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: Hashable, value: V) -> None:
        self._entries.pop(key, None)  # re-put: it becomes the newest
        if len(self._entries) >= self._max:
            # One ttl for all: the oldest entry is also the first to expire.
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + self._ttl, value)
