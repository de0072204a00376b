"""``SQLiteDatabase``: asyncpg's pool API over the standard library's ``sqlite3``.

Why: a step written for PostgreSQL (``async with db.acquire() as conn: await conn.fetch(
"... WHERE id = $1", 7)``) should run unchanged on an embedded SQLite file. So this module
offers the same calls (``acquire``, ``release``, ``fetch``, ``fetchrow``, ``fetchval``,
``execute``, ``executemany``, ``close``) and holds the pool: opening connections on demand,
handing released ones to waiters, and closing them all. The connection's query and
transaction methods live in ``sqlite_connection``; placeholder rewriting and asyncpg-like
rows in ``sqlite_sql``.
"""

# Each query's ``timeout`` argument is asyncpg's API, kept so step code runs on both drivers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lockgate.errors import ResourceUnavailableError
from lockgate.gateways.resources.database.sqlite_connection import SQLiteConnection
from lockgate.gateways.resources.database.sqlite_sql import Row

__all__ = ["SQLiteDatabase"]


class _Acquire:
    """``SQLiteDatabase.acquire()``: ``async with`` it, or ``await`` it and ``release``."""

    def __init__(self, database: SQLiteDatabase, timeout: float | None) -> None:
        self._database = database
        self._timeout = timeout
        self._conn: SQLiteConnection | None = None

    def __await__(self) -> Generator[Any, None, SQLiteConnection]:
        return self._database._acquire(self._timeout).__await__()

    async def __aenter__(self) -> SQLiteConnection:
        self._conn = await self._database._acquire(self._timeout)
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._database._release(self._conn)
            self._conn = None


class SQLiteDatabase:
    """A pool of at most ``max_size`` connections to one SQLite file, used like an
    ``asyncpg.Pool``.

    Connections open on demand, in WAL mode (by default) with ``synchronous=FULL`` and
    foreign keys enforced. Released connections go straight to the longest waiter; an
    open transaction left behind by a holder is rolled back on release.

    Args:
        path: The database file (created if missing) or ``":memory:"`` (then ``max_size``
            must be 1: each connection would otherwise see its own empty database).
        max_size: Most connections open at once.
        busy_timeout: Seconds a statement waits for another connection's lock.
        journal_mode: ``wal``, ``delete``, ``truncate`` or ``persist``, set by ``open``.
        close_timeout: Seconds ``close`` waits for acquired connections to be released
            before interrupting them.
    """

    def __init__(
        self,
        path: str,
        *,
        max_size: int = 4,
        busy_timeout: float = 5.0,
        journal_mode: str = "wal",
        close_timeout: float = 5.0,
    ) -> None:
        if path == ":memory:" and max_size != 1:
            raise ValueError("an in-memory SQLite database needs max_size=1")
        self._path = path
        self._max_size = max_size
        self._busy_timeout = busy_timeout
        self._journal_mode = journal_mode
        self._close_timeout = close_timeout
        self._idle: list[SQLiteConnection] = []  # LIFO: the most recently used is warmest
        self._waiters: deque[asyncio.Future[SQLiteConnection | None]] = deque()
        self._size = 0  # connections open or opening
        self._open: set[SQLiteConnection] = set()
        self._closes: list[ThreadFuture[None]] = []  # connections being closed
        self._closing: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()

    @property
    def path(self) -> str:
        return self._path

    @property
    def target(self) -> str:
        """How messages name it: ``SQLite database at /var/lib/app.db``."""
        return f"SQLite database at {self._path}"

    @property
    def max_size(self) -> int:
        return self._max_size

    def get_size(self) -> int:
        """Connections open (or opening) now, as ``asyncpg.Pool.get_size``."""
        return self._size

    def is_closing(self) -> bool:
        return self._closing is not None

    async def open(self) -> None:
        """Open the first connection and set the journal mode, so a bad path fails here.

        Raises:
            sqlite3.Error: The file cannot be opened or is not a database.
        """
        first = await self._acquire(None)
        try:
            mode = self._journal_mode
            await first._run(lambda: first._raw.execute(f"PRAGMA journal_mode={mode}").close())
        finally:
            self._release(first)

    def acquire(self, *, timeout: float | None = None) -> _Acquire:
        """A connection for ``async with``, or to ``await`` and later ``release``.

        Raises:
            ResourceUnavailableError: The database is closed (or closes while waiting).
            TimeoutError: No connection was free within ``timeout`` seconds.
        """
        return _Acquire(self, timeout)

    async def release(self, connection: SQLiteConnection) -> None:
        """Give back a connection obtained with ``await db.acquire()``."""
        self._release(connection)

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Row]:
        async with self.acquire() as conn:
            return await conn.fetch(sql, *args, timeout=timeout)

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Row | None:
        async with self.acquire() as conn:
            return await conn.fetchrow(sql, *args, timeout=timeout)

    async def fetchval(
        self, sql: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(sql, *args, column=column, timeout=timeout)

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        async with self.acquire() as conn:
            return await conn.execute(sql, *args, timeout=timeout)

    async def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        async with self.acquire() as conn:
            await conn.executemany(sql, args, timeout=timeout)

    async def close(self) -> None:
        """Close every connection: wait up to ``close_timeout`` for acquired ones, then
        interrupt them. Idempotent; concurrent calls all wait for the one closing.

        Side Effects:
            Wakes waiting ``acquire()`` calls with ``ResourceUnavailableError``.
        """
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(self._closed_error())
        idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)
        self._size -= len(idle)
        if self._size:
            try:
                async with asyncio.timeout(self._close_timeout):
                    await self._drained.wait()
            except TimeoutError:
                # Holders kept theirs too long: stop their statements and close under them
                # (their slots are freed when they release).
                for conn in list(self._open):
                    conn._raw.interrupt()
                    self._discard(conn)
        if self._closes:
            closes = [asyncio.wrap_future(f) for f in self._closes]
            await asyncio.wait(closes, timeout=self._close_timeout)

    def _closed_error(self) -> ResourceUnavailableError:
        return ResourceUnavailableError(f"the {self.target} is closed", path=self._path)

    async def _acquire(self, timeout: float | None) -> SQLiteConnection:
        async with asyncio.timeout(timeout):
            if self._closing is not None:
                raise self._closed_error()
            if self._idle:
                return self._idle.pop()
            if self._size < self._max_size:
                self._size += 1
                return await self._open_reserved()
            waiter: asyncio.Future[SQLiteConnection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                if not waiter.done():
                    self._waiters.remove(waiter)
                elif not waiter.cancelled() and waiter.exception() is None:
                    self._hand_over(waiter.result())  # handed to us as we were cancelled
                raise
            return conn if conn is not None else await self._open_reserved()

    async def _open_reserved(self) -> SQLiteConnection:
        """Open a connection in a slot already counted in ``_size``."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lockgate-sqlite")
        future = asyncio.wrap_future(executor.submit(self._connect))
        try:
            raw = await asyncio.shield(future)
        except BaseException:
            future.add_done_callback(_close_abandoned)
            executor.shutdown(wait=False)
            self._hand_over(None)
            raise
        conn = SQLiteConnection(raw, executor)
        self._open.add(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        raw = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,  # autocommit; transaction() issues BEGIN itself
            check_same_thread=False,  # each connection has one thread of its own
        )
        try:
            raw.row_factory = Row
            raw.execute("PRAGMA synchronous=FULL").close()
            raw.execute("PRAGMA foreign_keys=ON").close()
        except BaseException:
            raw.close()
            raise
        return raw

    def _release(self, conn: SQLiteConnection) -> None:
        if conn._closed:  # closed under its holder by close()
            self._hand_over(None)
            return
        # Roll back on the connection's own thread, after whatever it still runs; no await,
        # so a release during cancellation cannot be lost.
        reset = asyncio.wrap_future(conn._submit(conn._reset))
        reset.add_done_callback(lambda done: self._returned(conn, done))

    def _returned(self, conn: SQLiteConnection, reset: asyncio.Future[None]) -> None:
        if reset.cancelled() or reset.exception() is not None or self._closing is not None:
            self._discard(conn)
            self._hand_over(None)
        else:
            self._hand_over(conn)

    def _hand_over(self, conn: SQLiteConnection | None) -> None:
        """Give ``conn`` (or, for None, its freed slot) to the oldest waiter, else keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)
            return
        self._size -= 1
        if self._size == 0 and self._closing is not None:
            self._drained.set()

    def _discard(self, conn: SQLiteConnection) -> None:
        self._open.discard(conn)
        if not conn._closed:
            self._closes = [f for f in self._closes if not f.done()]
            self._closes.append(conn._close_soon())


def _close_abandoned(future: asyncio.Future[sqlite3.Connection]) -> None:
    """A connection opened for an acquirer that was cancelled meanwhile: close it."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()
