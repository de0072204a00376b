"""What the SQLite stores (runs, secrets, events, queues, jobs) share: versioned migrations,
a connection of their own on a thread of its own, where each call is one transaction, and the
pragmas a store runs on top."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import stamina

from lockgate.errors import LockgateError

__all__ = ["SQLiteStore", "SQLiteWorker", "migrate", "sqlite_pragmas", "use_wal"]

T = TypeVar("T")


def migrate(
    connection: sqlite3.Connection,
    *,
    versions_table: str,
    migrations: Sequence[Sequence[str]],
    error: type[LockgateError],
) -> None:
    """Apply the migrations not yet recorded in ``versions_table``, inside the caller's
    transaction.

    Raises:
        error: The file records a version newer than ``migrations`` knows.
    """
    connection.execute(f"CREATE TABLE IF NOT EXISTS {versions_table} (version INTEGER NOT NULL)")
    current = connection.execute(f"SELECT max(version) FROM {versions_table}").fetchone()[0] or 0
    if current > len(migrations):
        raise error(
            f"{versions_table} is at version {current}, newer than this Lockgate knows "
            f"({len(migrations)}); upgrade Lockgate"
        )
    for version, script in enumerate(migrations, start=1):
        if version > current:
            for statement in script:
                connection.execute(statement)
            connection.execute(f"INSERT INTO {versions_table} VALUES (?)", (version,))


class SQLiteWorker:
    """One connection to ``path`` (WAL, ``synchronous=FULL``), used only from one thread,
    so the event loop never waits on SQLite; each ``run`` is one ``BEGIN IMMEDIATE``
    transaction.

    Args:
        path: The database file (its folder is created).
        what: The store's name in messages (``"the secret store"``).
        versions_table, migrations: Applied when the connection opens.
        error: The store's error type.
        pragmas: Further ``PRAGMA`` statements, run before migrating.
    """

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        versions_table: str,
        migrations: Sequence[Sequence[str]],
        error: type[LockgateError],
        pragmas: Sequence[str] = (),
    ) -> None:
        self.path = path
        self._what = what
        self._versions_table = versions_table
        self._migrations = migrations
        self._error = error
        self._pragmas = pragmas
        self._connection: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        """Connect and migrate. Idempotent.

        Raises:
            error: The file cannot be opened, or is newer than this code.
        """
        if self._connection is not None:
            return
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lockgate-sqlite")
        try:
            self._connection = await asyncio.get_running_loop().run_in_executor(
                thread, self._connect
            )
        except (sqlite3.Error, OSError) as exc:
            thread.shutdown(wait=False)
            raise self._error(f"cannot open {self._what} {self.path}: {exc}") from exc
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self._thread = thread

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        connection, self._connection = self._connection, None
        thread, self._thread = self._thread, None
        if connection is not None and thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, connection.close)
            thread.shutdown(wait=False)

    async def run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` in one transaction on the store's thread.

        Raises:
            error: The store is not open, or SQLite failed (naming ``action``).
        """
        connection, thread = self._connection, self._thread
        if connection is None or thread is None:
            raise self._error(f"{self._what} is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                thread, _transaction, connection, fn
            )
        except sqlite3.Error as exc:
            raise self._error(f"{self._what}: {action} failed ({self.path}): {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            use_wal(connection)
            connection.execute("PRAGMA synchronous = FULL")
            for pragma in self._pragmas:
                connection.execute(pragma)
            _transaction(
                connection,
                lambda c: migrate(
                    c,
                    versions_table=self._versions_table,
                    migrations=self._migrations,
                    error=self._error,
                ),
            )
        except BaseException:
            connection.close()
            raise
        return connection


def use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode. Connections switching a new file at the same moment (two
    gateways starting, a store's writers opening) can deadlock on the switch, and SQLite then
    answers one "database is locked" at once, without its busy timeout: try again, briefly."""
    for attempt in stamina.retry_context(
        on=_locked, attempts=None, timeout=10.0, wait_initial=0.005, wait_max=0.1, wait_jitter=0.01
    ):
        with attempt:
            connection.execute("PRAGMA journal_mode = WAL")


def _locked(error: Exception) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


class SQLiteStore:
    """What a SQLite store does the same as the others through its ``SQLiteWorker``
    (``_worker``): ``open``, ``close``, its ``path``, a repr naming the file, and ``_run``.

    Args:
        worker: The store's worker, not yet open.
    """

    def __init__(self, worker: SQLiteWorker) -> None:
        self._worker = worker
        self.path = worker.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    async def open(self) -> None:
        """Connect and migrate, as ``SQLiteWorker.open``."""
        await self._worker.open()

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        await self._worker.close()

    async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._worker.run(action, fn)


def _transaction(connection: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = fn(connection)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


def sqlite_pragmas(synchronous: str) -> tuple[str, ...]:
    """What a SQLite store runs on top of ``SQLiteWorker``'s ``synchronous = FULL``.

    Raises:
        ValueError: ``synchronous`` is neither ``FULL`` nor ``NORMAL``.
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
    return (f"PRAGMA synchronous = {synchronous}",)
