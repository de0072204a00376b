"""``InMemoryFileWatcher``: changes a test reports by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable, Sequence
from pathlib import Path

__all__ = ["InMemoryFileWatcher"]


class InMemoryFileWatcher:
    """Yields the batches ``report`` was given; ``watched`` is what it was last asked for."""

    def __init__(self) -> None:
        self._batches: asyncio.Queue[frozenset[Path]] = asyncio.Queue()
        self.watched: tuple[Path, ...] = ()
        self.watching = asyncio.Event()  # set while a caller iterates ``changes``

    def report(self, paths: Iterable[Path]) -> None:
        self._batches.put_nowait(frozenset(paths))

    async def changes(self, roots: Sequence[Path]) -> AsyncGenerator[frozenset[Path], None]:
        self.watched = tuple(roots)
        self.watching.set()
        try:
            while True:
                yield await self._batches.get()
        finally:
            self.watching.clear()
