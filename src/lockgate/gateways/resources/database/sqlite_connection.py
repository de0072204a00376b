"""``SQLiteConnection``: asyncpg's connection API on one standard-library ``sqlite3`` connection.

Why a module of its own: running statements (``fetch``, ``fetchrow``, ``fetchval``,
``execute``, ``executemany``) and transactions (``transaction()``, nested blocks as savepoints)
on a connection is separate work from the pool's bookkeeping of who holds which connection.
Kept apart from the pool (``sqlite_pool``) both stay small and read on their own.

Every ``sqlite3`` call runs on the connection's own thread, so the event loop never blocks
and one connection's calls run in order. A cancelled or timed-out call interrupts the
statement (``sqlite3.Connection.interrupt``) instead of leaving it running.
"""

# Each query's ``timeout`` argument is asyncpg's API, kept so step code runs on both drivers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from lockgate.errors import ResourceUnavailableError
from lockgate.gateways.resources.database.sqlite_sql import (
    Row,
    split_statements,
    statement_status,
    translate_placeholders,
)

__all__ = ["SQLiteConnection", "Transaction"]

T = TypeVar("T")


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
                    status = statement_status(statement, cursor, rows)
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
