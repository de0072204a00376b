"""Group commit for SQLite: every write queued while the previous commit was syncing is
committed in one transaction.

A thread owns the write connection and commits while the event loop keeps running steps;
when nothing else is waiting and the batch is small, the commit happens on the loop
instead, saving two thread hand-offs (the loop has nothing else to do meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from lockgate.errors import RunStoreError

__all__ = ["SQLiteGroupCommit"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_Write = Callable[[sqlite3.Connection], Any]
_INLINE_BATCH = 2


class _Op:
    __slots__ = ("fn", "future", "heavy")

    def __init__(self, fn: _Write, future: asyncio.Future[Any] | None, heavy: bool = False) -> None:
        self.fn = fn
        self.future = future
        self.heavy = heavy


class SQLiteGroupCommit:
    """Commits writes to ``connection`` in batches; ``loop`` is where callers wait.

    Args:
        connection: The write connection (WAL, autocommit mode); closed by ``close()``.
        loop: The event loop the writes come from.
    """

    def __init__(self, connection: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._connection = connection
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        self._pending: list[_Op] = []
        self._scheduled = False
        self._deferred = False
        self._in_thread = 0
        self._writer: threading.Thread | None = threading.Thread(
            target=self._write_loop,
            args=(connection, loop),
            name="lockgate-sqlite-writer",
            daemon=True,
        )
        self._writer.start()

    async def close(self) -> None:
        """Commit what is queued, stop the thread, close the connection. Idempotent."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        # Writes not yet handed over (a deferred run creation, a flush not yet run) go to
        # the thread ahead of the stop sign: close() loses nothing.
        batch, self._pending = self._pending, []
        if batch:
            self._in_thread += 1
            self._queue.put(batch)
        self._queue.put(None)
        await asyncio.to_thread(writer.join)

    def _write_loop(self, connection: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        """The writer thread: commit each batch the loop hands over (several at once if they
        queued up meanwhile) and settle their futures back on the loop."""
        while True:
            first = self._queue.get()
            if first is None:
                break
            batches = [first]
            stopping = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batches.append(more)
            batch = [op for ops in batches for op in ops]
            outcomes = list(zip(batch, self._apply(connection, batch), strict=True))
            try:
                loop.call_soon_threadsafe(self._settled, len(batches), outcomes)
            except RuntimeError:
                break  # the loop has closed: nobody is waiting any more
            if stopping:
                break
        connection.close()

    def _settled(self, batches: int, outcomes: list[tuple[_Op, tuple[bool, Any]]]) -> None:
        self._in_thread -= batches
        _settle(outcomes)

    @staticmethod
    def _apply(connection: sqlite3.Connection, batch: list[_Op]) -> list[tuple[bool, Any]]:
        """Run the batch in one transaction; if any write fails, run each in its own, so
        one bad write fails alone."""
        try:
            connection.execute("BEGIN IMMEDIATE")
            results = [(True, op.fn(connection)) for op in batch]
            connection.execute("COMMIT")
            return results
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if len(batch) == 1:
                return [SQLiteGroupCommit._apply_one(connection, batch[0])]
        return [SQLiteGroupCommit._apply_one(connection, op) for op in batch]

    @staticmethod
    def _apply_one(connection: sqlite3.Connection, op: _Op) -> tuple[bool, Any]:
        try:
            connection.execute("BEGIN IMMEDIATE")
            result = op.fn(connection)
            connection.execute("COMMIT")
            return True, result
        except Exception as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return False, exc

    async def write(
        self, fn: Callable[[sqlite3.Connection], T], *, wait: bool = True, heavy: bool = False
    ) -> T:
        """Queue ``fn`` for the next commit and wait for it (unless ``wait`` is False: it
        then commits with the next write, or within 2 ms); ``heavy`` ones (claims, purges:
        they read many rows) are always committed on the thread, never on the loop."""
        if self._writer is None:
            raise RunStoreError("the run store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] | None = loop.create_future() if wait else None
        self._pending.append(_Op(fn, future, heavy))
        if future is None:
            if not self._deferred:
                self._deferred = True
                loop.call_later(0.002, self._schedule)
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        if future is None:
            return None  # type: ignore[return-value]
        return await future

    def _schedule(self) -> None:
        self._deferred = False
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._writer is None:  # closed meanwhile: close() handed the batch over
            return
        batch, self._pending = self._pending, []
        if not batch:
            return
        if (
            self._in_thread == 0
            and len(batch) <= _INLINE_BATCH
            and not any(op.heavy for op in batch)
        ):
            # Nothing else is waiting: the loop has nothing to do during this sync, so commit
            # here and skip two thread hand-offs. Under load, the thread commits while the
            # loop keeps running steps.
            _settle(list(zip(batch, self._apply(self._connection, batch), strict=True)))
        else:
            self._in_thread += 1
            self._queue.put(batch)


def _settle(outcomes: list[tuple[_Op, tuple[bool, Any]]]) -> None:
    for op, (ok, value) in outcomes:
        future = op.future
        if future is None:
            if not ok:
                logger.error("run store write failed: %s", value)
            continue
        if future.done():
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, RunStoreError):
            future.set_exception(value)
        else:
            future.set_exception(RunStoreError(f"run store write failed: {value}"))
