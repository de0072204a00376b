"""``SQLiteAsyncInvocationStore``: durable ``Event`` invocations in a SQLite file (the run
store's file may be shared: the table and its version table are its own).

Each call runs plain sqlite3 on one dedicated thread, one ``BEGIN IMMEDIATE`` transaction
per call: SQLite has one writer at a time, so a claim's read and its update can never
interleave with another store's claim on the same file (no invocation is claimed twice).
The queue's statements are ``work_queue.sqlite``'s; accepting one is this store's.
WAL with ``synchronous=FULL`` by default: an accepted event (answered 202) survives a power
cut.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.invocations.schema import (
    ASYNC_INVOCATION_VERSIONS,
    INVOCATION_COLUMNS,
    INVOCATION_QUEUE,
    SQLITE_ASYNC_INVOCATION_MIGRATIONS,
    new_invocation_row,
)
from lockgate.gateways.stores.invocations.view import InvocationQueueView
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker, sqlite_pragmas
from lockgate.gateways.stores.work_queue.sqlite import SQLiteWorkQueue
from lockgate.models.async_invocation import AsyncInvocation

__all__ = ["SQLiteAsyncInvocationStore"]

_TABLE = "lockgate_async_invocations"
_INSERT = (
    f"INSERT INTO {_TABLE} ({INVOCATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
    "ON CONFLICT (request_id) DO NOTHING"
)
_QUEUED = f"SELECT count(*) FROM {_TABLE} WHERE function_name = ? AND status = 'queued'"  # noqa: S608


class SQLiteAsyncInvocationStore(InvocationQueueView, SQLiteStore):
    """Async invocations in the table ``lockgate_async_invocations`` of the SQLite file
    ``path``.

    Args:
        path: The database file (its folder is created).
        synchronous: ``FULL`` survives power loss; ``NORMAL`` only a process crash.

    Raises:
        ValueError: ``synchronous`` is neither.
    """

    def __init__(
        self, path: Path | str, *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        super().__init__(
            SQLiteWorker(
                Path(path),
                what="the async invocation store",
                versions_table=ASYNC_INVOCATION_VERSIONS,
                migrations=SQLITE_ASYNC_INVOCATION_MIGRATIONS,
                error=RunStoreError,
                pragmas=sqlite_pragmas(synchronous),
            )
        )
        self.queue = SQLiteWorkQueue(self._worker, INVOCATION_QUEUE)

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        row = new_invocation_row(invocation)
        name = invocation.request_id

        def insert(connection: sqlite3.Connection) -> bool:
            if max_queued is not None:
                queued = connection.execute(_QUEUED, (invocation.function,)).fetchone()[0]
                if queued >= max_queued:
                    return False
            if connection.execute(_INSERT, row).rowcount == 0:
                raise ValueError(f"async invocation {name} is already stored")
            return True

        return await self._run(f"enqueue of {name}", insert)
