"""``SQLiteAsyncInvocationStore``: durable ``Event`` invocations in a SQLite file (the run
store's file may be shared: the table and its version table are its own).

Each call runs plain sqlite3 on one dedicated thread, one ``BEGIN IMMEDIATE`` transaction
per call: SQLite has one writer at a time, so a claim's read and its update can never
interleave with another store's claim on the same file (no invocation is claimed twice).
WAL with ``synchronous=FULL`` by default: an accepted event (answered 202) survives a power
cut.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.invocations.schema import (
    ASYNC_INVOCATION_VERSIONS,
    INVOCATION_COLUMNS,
    SQLITE_ASYNC_INVOCATION_MIGRATIONS,
    check_request_ids,
    invocation,
    new_invocation_row,
)
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker, sqlite_pragmas
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["SQLiteAsyncInvocationStore"]

_TABLE = "lockgate_async_invocations"
_INSERT = (
    f"INSERT INTO {_TABLE} ({INVOCATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
    "ON CONFLICT (request_id) DO NOTHING"
)
_QUEUED = f"SELECT count(*) FROM {_TABLE} WHERE function_name = ? AND status = 'queued'"  # noqa: S608
_DUE = (
    f"SELECT {INVOCATION_COLUMNS} FROM {_TABLE} "  # noqa: S608 - constant text
    "WHERE status = 'queued' AND next_attempt_at <= ? "
    "AND function_name NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY next_attempt_at, request_id LIMIT ?"
)
_LEASE = (
    f"UPDATE {_TABLE} SET attempts = attempts + 1, lease_owner = ?, lease_until = ?, "  # noqa: S608
    "next_attempt_at = ? WHERE request_id = ?"
)
# A held row's next_attempt_at is its lease's end: the condition on it lets the due index
# narrow the search to rows due later (held, or waiting for a retry).
_RELEASE = (
    f"UPDATE {_TABLE} SET next_attempt_at = ?2, lease_owner = NULL, lease_until = NULL "  # noqa: S608
    "WHERE status = 'queued' AND next_attempt_at > ?2 AND lease_owner = ?1 AND lease_until > ?2"
)
_SUCCEED = (
    f"UPDATE {_TABLE} SET status = 'succeeded', finished_at = ?, lease_owner = NULL, "  # noqa: S608
    "lease_until = NULL WHERE request_id = ? AND status = 'queued'"
)
# Only a queued invocation can fail: one finished meanwhile (by a node whose claim outlived
# ours) stays as it is. A None retry_at makes it dead and leaves next_attempt_at alone.
_FAIL = (
    f"UPDATE {_TABLE} SET error = coalesce(?2, error), lease_owner = NULL, lease_until = NULL, "  # noqa: S608
    "attempts = CASE WHEN ?5 THEN attempts ELSE max(attempts - 1, 0) END, "
    "status = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'queued' END, "
    "next_attempt_at = coalesce(?3, next_attempt_at), "
    "finished_at = CASE WHEN ?3 IS NULL THEN ?4 END "
    "WHERE request_id = ?1 AND status = 'queued'"
)
_GET = f"SELECT {INVOCATION_COLUMNS} FROM {_TABLE} WHERE request_id = ?"  # noqa: S608
_LIST = (
    f"SELECT {INVOCATION_COLUMNS} FROM {_TABLE} "  # noqa: S608 - constant text
    "WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR function_name = ?2) "
    "ORDER BY created_at, request_id LIMIT ?3"
)
_DEAD = (
    f"SELECT request_id, created_at FROM {_TABLE} "  # noqa: S608 - constant text
    "WHERE status = 'dead' AND (?1 IS NULL OR function_name = ?1)"
)
_DEAD_ONE = f"{_DEAD} AND request_id = ?2"
_REDRIVE = (
    f"UPDATE {_TABLE} SET status = 'queued', attempts = 0, error = NULL, "  # noqa: S608
    "finished_at = NULL, lease_owner = NULL, lease_until = NULL, next_attempt_at = ? "
    "WHERE request_id = ? AND status = 'dead'"
)
_SUCCEEDED = (
    f"SELECT request_id FROM {_TABLE} "  # noqa: S608 - constant text
    "WHERE status = 'succeeded' AND finished_at < ? ORDER BY finished_at, request_id LIMIT ?"
)
_PURGE = f"DELETE FROM {_TABLE} WHERE request_id = ?"  # noqa: S608 - constant text


class SQLiteAsyncInvocationStore(SQLiteStore):
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

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_functions: Collection[str] = (),
    ) -> list[AsyncInvocation]:
        check_claim(lease_seconds, limit)
        until = now + lease_seconds
        skipped = json.dumps(sorted(skip_functions))

        def claim(connection: sqlite3.Connection) -> list[AsyncInvocation]:
            rows = connection.execute(_DUE, (now, skipped, limit)).fetchall()
            connection.executemany(_LEASE, [(owner, until, until, row[0]) for row in rows])
            # As stored now: one more attempt, due again when the lease lapses.
            return [invocation((*row[:5], row[5] + 1, row[6], until, *row[8:])) for row in rows]

        return await self._run("claim", claim)

    async def release(self, owner: str, now: float) -> int:
        return await self._run(
            f"release of {owner}'s leases", lambda c: c.execute(_RELEASE, (owner, now)).rowcount
        )

    async def succeed(self, request_id: str, now: float) -> None:
        await self._run(
            f"success of {request_id}", lambda c: c.execute(_SUCCEED, (now, request_id))
        )

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        args = (request_id, error, retry_at, now, bool(counted))
        await self._run(f"failure of {request_id}", lambda c: c.execute(_FAIL, args))

    async def get(self, request_id: str) -> AsyncInvocation | None:
        def read(connection: sqlite3.Connection) -> AsyncInvocation | None:
            row = connection.execute(_GET, (request_id,)).fetchone()
            return None if row is None else invocation(row)

        return await self._run(f"read of {request_id}", read)

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        check_limit(limit)
        value = None if status is None else AsyncInvocationStatus(status).value

        def read(connection: sqlite3.Connection) -> list[AsyncInvocation]:
            return [invocation(row) for row in connection.execute(_LIST, (value, function, limit))]

        return await self._run("listing", read)

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        ids = check_request_ids(request_ids)

        def requeue(connection: sqlite3.Connection) -> list[str]:
            if ids is None:
                dead = connection.execute(_DEAD, (function,)).fetchall()
            else:
                dead = [
                    row
                    for request_id in ids
                    for row in connection.execute(_DEAD_ONE, (function, request_id))
                ]
            chosen = [row[0] for row in sorted(dead, key=lambda row: (row[1], row[0]))]
            connection.executemany(_REDRIVE, [(now, request_id) for request_id in chosen])
            return chosen

        return await self._run("redrive", requeue)

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)

        def purge(connection: sqlite3.Connection) -> int:
            keys = connection.execute(_SUCCEEDED, (before, limit)).fetchall()
            connection.executemany(_PURGE, keys)
            return len(keys)

        return await self._run("purge", purge)
