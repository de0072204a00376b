"""``WatchfilesWatcher`` on this machine's file notifications: a save is reported by the file
it changed, and what is not code (bytecode, swap files, ``.lockgate/``, a tool's scratch file made
and gone within the save) is left out."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from pathlib import Path

from lockgate.gateways.interfaces import IFileWatcher
from lockgate.gateways.watch.watchfiles import WatchfilesWatcher

GUARD = 30.0  # stops a hang; not a timing claim


async def next_batch(batches: AsyncGenerator[frozenset[Path], None]) -> frozenset[Path]:
    async with asyncio.timeout(GUARD):
        return await anext(batches)


def save(folder: Path) -> None:
    """What an editor and the interpreter leave besides the one real change."""
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "handlers.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".handlers.py.swp").write_text("swap")
    (folder / ".lockgate").mkdir()
    (folder / ".lockgate" / "runs.sqlite3-wal").write_text("wal")
    scratch = folder / "sedX1y2Z3"  # sed -i writes here, then renames it over the file
    scratch.write_text('VERSION = "two"\n')
    os.replace(scratch, folder / "handlers.py")


async def test_a_save_is_reported_by_the_code_it_changed_alone(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text('VERSION = "one"\n')
    probe = tmp_path / "probe.txt"
    watcher = WatchfilesWatcher()
    assert isinstance(watcher, IFileWatcher)
    async with contextlib.aclosing(watcher.changes([tmp_path])) as batches:
        # The watch starts when the generator first runs: touch a probe until it is seen.
        waiting = asyncio.ensure_future(next_batch(batches))
        async with asyncio.timeout(GUARD):
            while not waiting.done():
                probe.write_text("probe")
                await asyncio.sleep(0.05)
        assert probe in waiting.result()
        save(tmp_path)
        seen: set[Path] = set()  # a late probe may come first, in a batch of its own
        while tmp_path / "handlers.py" not in seen:
            seen |= await next_batch(batches)
    assert seen - {probe} == {tmp_path / "handlers.py"}
