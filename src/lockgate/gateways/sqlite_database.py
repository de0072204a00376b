"""``SQLiteDatabase``: asyncpg's pool API over the standard library's ``sqlite3``.

Why: a step written for PostgreSQL (``async with db.acquire() as conn: await conn.fetch(
"... WHERE id = $1", 7)``) should run unchanged on an embedded SQLite file. So this module
offers the same calls (``acquire``, ``fetch``, ``fetchrow``, ``fetchval``, ``execute``,
``executemany``, ``transaction``), rewrites ``$1`` placeholders to SQLite's ``?1``, and
returns rows that act like ``asyncpg.Record`` (``row["col"]``, ``row[0]``, ``dict(row)``).

Every ``sqlite3`` call runs on the connection's own thread, so the event loop never blocks
and one connection's calls run in order. A cancelled or timed-out call interrupts the
statement (``sqlite3.Connection.interrupt``) instead of leaving it running.
"""

# Each query's ``timeout`` argument is asyncpg's API, kept so step code runs on both drivers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from lockgate.errors import ResourceUnavailableError

__all__ = [
    "Row",
    "SQLiteConnection",
    "SQLiteDatabase",
    "Transaction",
    "split_statements",
    "translate_placeholders",
]

T = TypeVar("T")

# Literals, quoted identifiers and comments are copied as they are; only a bare $N changes.
_SQL_TOKEN = re.compile(
    r"""'[^']*(?:''[^']*)*'?|"[^"]*(?:""[^"]*)*"?|`[^`]*`?|\[[^\]]*\]?"""
    r"|--[^\n]*|/\*.*?(?:\*/|\Z)|\$(\d+)",
    re.DOTALL,
)
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z))*", re.DOTALL)
_OBJECT_WORDS = frozenset({"TABLE", "INDEX", "VIEW", "TRIGGER"})


@functools.lru_cache(maxsize=512)
def translate_placeholders(sql: str) -> str:
    """``sql`` with asyncpg's ``$1, $2`` rewritten as SQLite's ``?1, ?2``, leaving string
    literals, quoted identifiers and comments untouched."""
    return _SQL_TOKEN.sub(lambda m: f"?{m[1]}" if m[1] else m[0], sql)


def split_statements(script: str) -> list[str]:
    """``script``'s statements, split where SQLite itself sees one end (so a ``;`` inside a
    literal or a trigger body does not split)."""
    statements, start = [], 0
    for end in (i + 1 for i, char in enumerate(script) if char == ";"):
        if sqlite3.complete_statement(script[start:end]):
            statements.append(script[start:end])
            start = end
    if script[start:].strip():
        statements.append(script[start:])
    return [s for s in statements if s.strip(" \t\r\n;")]


def _status(sql: str, cursor: sqlite3.Cursor, rows: int) -> str:
    """An asyncpg-style status: ``INSERT 0 n``, ``UPDATE n``, ``DELETE n``, ``SELECT n``;
    otherwise the leading keyword(s) (``CREATE TABLE``, ``BEGIN``)."""
    noise = _LEADING_NOISE.match(sql)
    words = sql[noise.end() if noise else 0 :].split(None, 4)
    verb = words[0].upper() if words else ""
    if cursor.description is not None:
        return f"SELECT {rows}"
    if verb == "INSERT":
        return f"INSERT 0 {cursor.rowcount}"
    if verb in ("UPDATE", "DELETE"):
        return f"{verb} {cursor.rowcount}"
    if verb in ("CREATE", "DROP", "ALTER"):
        kind = next((w.upper() for w in words[1:] if w.upper() in _OBJECT_WORDS), "")
        return f"{verb} {kind}".strip()
    return verb


class Row(sqlite3.Row):
    """A result row: ``row["col"]``, ``row[0]``, ``dict(row)``, ``len(row)``, iteration
    over values, plus ``asyncpg.Record``'s ``get``, ``values`` and ``items``."""

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except (IndexError, KeyError):
            return default

    def values(self) -> Iterator[Any]:
        return iter(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        return zip(self.keys(), self, strict=True)


class SQLiteConnection:
    """One pooled ``sqlite3`` connection with asyncpg's query methods.

    Outside ``transaction()`` each statement commits on its own, as with asyncpg. Every
    method takes ``timeout`` (seconds): on expiry the statement is interrupted and
    ``TimeoutError`` raised. ``sqlite3.Error`` subclasses pass through untranslated, as
    asyncpg lets ``PostgresError`` through.
    """

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._raw = raw
        self._executor = executor
        self._closed = False
        self._depth = 0  # nesting of transaction() blocks

    async def _run(self, call: Callable[[], T], timeout: float | None = None) -> T:
        if self._closed:
            raise ResourceUnavailableError("the SQLite connection is closed")
        future = asyncio.wrap_future(self._executor.submit(call))
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except (asyncio.CancelledError, TimeoutError):
            if not future.done():
                self._raw.interrupt()
                future.add_done_callback(_consume)
            raise

    def _submit(self, call: Callable[[], T]) -> ThreadFuture[T]:
        return self._executor.submit(call)

    def _query(self, sql: str, args: Sequence[Any], many: int | None) -> list[Row]:
        cursor = self._raw.execute(translate_placeholders(sql), args)
        try:
            return cursor.fetchmany(many) if many is not None else cursor.fetchall()
        finally:
            cursor.close()

    async def fetch(self, sql: str, *args: Any, timeout: float | None = None) -> list[Row]:
        """All rows of a query."""
        return await self._run(lambda: self._query(sql, args, None), timeout)

    async def fetchrow(self, sql: str, *args: Any, timeout: float | None = None) -> Row | None:
        """The first row, or None."""
        rows = await self._run(lambda: self._query(sql, args, 1), timeout)
        return rows[0] if rows else None

    async def fetchval(
        self, sql: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        """One value of the first row, or None when there is no row."""
        row = await self.fetchrow(sql, *args, timeout=timeout)
        return None if row is None else row[column]

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        """Run a statement, or without ``args`` a script of several, each committing unless
        inside ``transaction()``.

        Returns:
            The last statement's asyncpg-style status: ``INSERT 0 1``, ``UPDATE 3``,
            ``DELETE 0``, ``SELECT 2``; for others its leading keywords (``CREATE TABLE``).
        """

        def run() -> str:
            status = ""
            for statement in split_statements(sql) if not args else [sql]:
                cursor = self._raw.execute(translate_placeholders(statement), args)
                try:
                    rows = len(cursor.fetchall()) if cursor.description is not None else 0
                    status = _status(statement, cursor, rows)
                finally:
                    cursor.close()
            return status

        return await self._run(run, timeout)

    async def executemany(
        self, sql: str, args: Iterable[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        """Run ``sql`` once per argument tuple, atomically (as asyncpg does)."""
        batch = [tuple(a) for a in args]

        def run() -> None:
            own = not self._raw.in_transaction
            if own:
                self._raw.execute("BEGIN IMMEDIATE")
            try:
                self._raw.executemany(translate_placeholders(sql), batch)
            except BaseException:
                if own and self._raw.in_transaction:
                    self._raw.execute("ROLLBACK")
                raise
            if own:
                self._raw.execute("COMMIT")

        await self._run(run, timeout)

    def transaction(self, *, readonly: bool = False) -> Transaction:
        """An ``async with`` block (or ``start``/``commit``/``rollback``) that commits on
        success and rolls back on error. Nested blocks become savepoints.

        Args:
            readonly: Begin a deferred transaction; by default ``BEGIN IMMEDIATE`` takes the
                write lock at once, so two writers wait (``busy_timeout``) instead of
                failing on a lock upgrade. SQLite transactions are always serializable.
        """
        return Transaction(self, readonly=readonly)

    def is_in_transaction(self) -> bool:
        return self._raw.in_transaction

    def _reset(self) -> None:
        """On release (in the connection's thread): roll back what the holder left open."""
        self._depth = 0
        if self._raw.in_transaction:
            self._raw.rollback()

    def _close_soon(self) -> ThreadFuture[None]:
        """Close after any call already queued; runs on the connection's thread."""
        self._closed = True
        future = self._executor.submit(self._raw.close)
        self._executor.shutdown(wait=False)
        return future


class Transaction:
    """``SQLiteConnection.transaction()``'s block; mirrors ``asyncpg.transaction.Transaction``."""

    def __init__(self, connection: SQLiteConnection, *, readonly: bool) -> None:
        self._conn = connection
        self._readonly = readonly
        self._savepoint: str | None = None

    async def start(self) -> None:
        conn = self._conn
        if conn._depth:
            self._savepoint = f"lockgate_savepoint_{conn._depth}"
            sql = f"SAVEPOINT {self._savepoint}"
        else:
            sql = "BEGIN" if self._readonly else "BEGIN IMMEDIATE"
        await conn._run(lambda: conn._raw.execute(sql).close())
        conn._depth += 1

    async def commit(self) -> None:
        point = self._savepoint
        await self._finish((f"RELEASE {point}",) if point else ("COMMIT",))

    async def rollback(self) -> None:
        point = self._savepoint
        await self._finish((f"ROLLBACK TO {point}", f"RELEASE {point}") if point else ("ROLLBACK",))

    async def _finish(self, statements: tuple[str, ...]) -> None:
        conn = self._conn
        conn._depth -= 1

        def run() -> None:
            # An interrupted statement may already have rolled the whole transaction back.
            if conn._raw.in_transaction:
                for statement in statements:
                    conn._raw.execute(statement).close()

        await conn._run(run)

    async def __aenter__(self) -> Transaction:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned call's outcome so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


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
