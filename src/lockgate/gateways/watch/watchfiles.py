"""``WatchfilesWatcher``: the operating system's file notifications (inotify, FSEvents,
ReadDirectoryChangesW) through watchfiles, whose Rust core also debounces bursts."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

__all__ = ["WatchfilesWatcher"]

# watchfiles says "N changes detected" at INFO for every batch; the reloader says what it did.
logging.getLogger("watchfiles").setLevel(logging.WARNING)


class _CodeFilter(DefaultFilter):
    """watchfiles' defaults (bytecode, VCS folders, .venv, swap and backup files) and what
    is Lockgate's state or an editor's scratch rather than code."""

    ignore_dirs = (*DefaultFilter.ignore_dirs, ".lockgate", ".ruff_cache")
    ignore_entity_patterns = (
        *DefaultFilter.ignore_entity_patterns,
        r"\.(sqlite3?|db)(-wal|-shm|-journal)?$",  # a run store beside the code
        r"^4913$",  # vim's probe that a folder is writable
        r"^#.*#$",  # emacs's auto-save
        r"\.tmp$",
    )


class WatchfilesWatcher:
    """Batches of changed files under some folders.

    Args:
        debounce_ms: The longest a batch collects a continuing burst of changes.
        step_ms: The quiet that ends a batch early (an editor's save is over in a few ms).
    """

    def __init__(self, *, debounce_ms: int = 500, step_ms: int = 50) -> None:
        self._debounce = debounce_ms
        self._step = step_ms
        self._filter = _CodeFilter()

    async def changes(self, roots: Sequence[Path]) -> AsyncGenerator[frozenset[Path], None]:
        async for batch in awatch(
            *roots, watch_filter=self._filter, debounce=self._debounce, step=self._step
        ):
            # A file made and gone within one batch is a tool's scratch (sed -i, some
            # editors' atomic saves), not a change of the code.
            scratch = {p for change, p in batch if change is Change.added and not _exists(p)}
            changed = frozenset(Path(p) for _, p in batch if p not in scratch)
            if changed:
                yield changed


def _exists(path: str) -> bool:
    return Path(path).exists()
