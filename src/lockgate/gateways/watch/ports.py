"""``IFileWatcher``: reports files that changed under some folders."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["IFileWatcher"]


@runtime_checkable
class IFileWatcher(Protocol):
    """Watches folders for edited, added and removed files."""

    def changes(self, roots: Sequence[Path]) -> AsyncGenerator[frozenset[Path], None]:
        """Batches of changed files under ``roots`` (recursively), until closed.

        Args:
            roots: The folders to watch.

        Returns:
            An async generator of batches: the files one burst of edits touched (an
            editor's save is often several events: they come as one batch).

        Raises:
            OSError: The folders cannot be watched (gone, or the system's limit on watches
                is reached).

        Side Effects:
            Holds the operating system's watches while iterated; closing the generator
            releases them.

        Note:
            Implementations leave out what is not code: bytecode caches, editors'
            swap and backup files, version control folders and Lockgate's own
            ``.lockgate`` state (the run store beside the config is written on every run).
        """
        ...
