"""``PostgresAsyncInvocationStore``: durable ``Event`` invocations in PostgreSQL, in the run
store's schema (the table and its version table are its own), one queue shared by every
gateway node.

Nodes claim invocations with ``FOR UPDATE SKIP LOCKED`` and leases, so two nodes never hold
the same invocation; a node that dies lets its leases lapse and another takes over. Each
call is one statement on a small pool.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.invocations.schema import (
    ASYNC_INVOCATION_VERSIONS,
    INVOCATION_COLUMNS,
    POSTGRES_ASYNC_INVOCATION_MIGRATIONS,
    check_request_ids,
    invocation,
    new_invocation_row,
)
from lockgate.gateways.stores.postgres_base import SchemaPool, SchemaPoolStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["PostgresAsyncInvocationStore"]

_MIGRATION_LOCK = 0x4C6B4169  # with hashtext(schema): one advisory lock per schema
_INSERT = (
    f"INSERT INTO lockgate_async_invocations ({INVOCATION_COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (request_id) DO NOTHING"
)
# The count and the insert in one statement: nothing is written when the queue is full.
_INSERT_UNLESS_FULL = (
    "WITH queued AS (SELECT count(*) AS n FROM lockgate_async_invocations "  # noqa: S608
    "WHERE function_name = $2 AND status = 'queued'), "
    f"inserted AS (INSERT INTO lockgate_async_invocations ({INVOCATION_COLUMNS}) "
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM queued WHERE queued.n < $11 "
    "ON CONFLICT (request_id) DO NOTHING RETURNING 1) "
    "SELECT (SELECT n FROM queued) < $11 AS room, (SELECT count(*) FROM inserted) AS stored"
)
# Rows another node is claiming (or finishing) are skipped, not waited for. A row another
# node claimed since our snapshot is re-checked once locked: its next_attempt_at has moved
# to its lease's end, so it is no longer due. The claim order is kept in due_at.
_CLAIM = (
    "WITH due AS (SELECT request_id, next_attempt_at AS due_at "  # noqa: S608
    "FROM lockgate_async_invocations WHERE status = 'queued' AND next_attempt_at <= $1 "
    "AND NOT (function_name = ANY($5::text[])) "
    "ORDER BY next_attempt_at, request_id LIMIT $2 FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE lockgate_async_invocations i SET attempts = i.attempts + 1, "
    "lease_owner = $3, lease_until = $4, next_attempt_at = $4 FROM due "
    "WHERE i.request_id = due.request_id RETURNING i.*, due.due_at) "
    f"SELECT {INVOCATION_COLUMNS} FROM claimed ORDER BY due_at, request_id"
)
# A held row's next_attempt_at is its lease's end: the condition on it lets the due index
# narrow the search to rows due later (held, or waiting for a retry).
_RELEASE = (
    "UPDATE lockgate_async_invocations SET next_attempt_at = $2, lease_owner = NULL, "
    "lease_until = NULL WHERE status = 'queued' AND next_attempt_at > $2 "
    "AND lease_owner = $1 AND lease_until > $2"
)
_SUCCEED = (
    "UPDATE lockgate_async_invocations SET status = 'succeeded', finished_at = $2, "
    "lease_owner = NULL, lease_until = NULL WHERE request_id = $1 AND status = 'queued'"
)
# Only a queued invocation can fail: one finished meanwhile (by a node whose claim outlived
# ours) stays as it is. A None retry_at makes it dead and leaves next_attempt_at alone.
_FAIL = (
    "UPDATE lockgate_async_invocations SET error = coalesce($2, error), "
    "lease_owner = NULL, lease_until = NULL, "
    "attempts = CASE WHEN $5 THEN attempts ELSE greatest(attempts - 1, 0) END, "
    "status = CASE WHEN $3::double precision IS NULL THEN 'dead' ELSE 'queued' END, "
    "next_attempt_at = coalesce($3, next_attempt_at), "
    "finished_at = CASE WHEN $3::double precision IS NULL THEN $4::double precision END "
    "WHERE request_id = $1 AND status = 'queued'"
)
_GET = f"SELECT {INVOCATION_COLUMNS} FROM lockgate_async_invocations WHERE request_id = $1"  # noqa: S608
_LIST = (
    f"SELECT {INVOCATION_COLUMNS} FROM lockgate_async_invocations "  # noqa: S608
    "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR function_name = $2) "
    "ORDER BY created_at, request_id LIMIT $3"
)
_REDRIVE = (
    "WITH requeued AS (UPDATE lockgate_async_invocations SET status = 'queued', attempts = 0, "
    "error = NULL, finished_at = NULL, lease_owner = NULL, lease_until = NULL, "
    "next_attempt_at = $1 WHERE status = 'dead' AND ($2::text IS NULL OR function_name = $2) "
    "AND ($3::text[] IS NULL OR request_id = ANY($3)) RETURNING request_id, created_at) "
    "SELECT request_id FROM requeued ORDER BY created_at, request_id"
)
_PURGE = (
    "DELETE FROM lockgate_async_invocations WHERE request_id IN (SELECT request_id "
    "FROM lockgate_async_invocations WHERE status = 'succeeded' AND finished_at < $1 "
    "ORDER BY finished_at, request_id LIMIT $2 FOR UPDATE SKIP LOCKED)"
)


class PostgresAsyncInvocationStore(SchemaPoolStore):
    """Async invocations in ``{schema}.lockgate_async_invocations``.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the table (created if missing).
        max_size: Connections in the store's pool.

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(self, dsn: str, *, schema: str = "lockgate", max_size: int = 4) -> None:
        super().__init__(
            SchemaPool(
                dsn,
                schema=schema,
                what="the async invocation store",
                versions_table=ASYNC_INVOCATION_VERSIONS,
                migrations=POSTGRES_ASYNC_INVOCATION_MIGRATIONS,
                lock_key=_MIGRATION_LOCK,
                error=RunStoreError,
                max_size=max_size,
            )
        )

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        row = new_invocation_row(invocation)
        action = f"cannot enqueue async invocation {row[0]}"
        if max_queued is None:
            if await self._tables.execute(action, _INSERT, *row) == "INSERT 0 0":
                raise ValueError(f"async invocation {row[0]} is already stored")
            return True
        found = await self._tables.fetchrow(action, _INSERT_UNLESS_FULL, *row, max_queued)
        assert found is not None  # the statement always answers one row
        if not found["room"]:
            return False
        if not found["stored"]:
            raise ValueError(f"async invocation {row[0]} is already stored")
        return True

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
        rows = await self._tables.fetch(
            "cannot claim async invocations",
            _CLAIM,
            now,
            limit,
            owner,
            now + lease_seconds,
            sorted(skip_functions),
        )
        return [invocation(row) for row in rows]

    async def release(self, owner: str, now: float) -> int:
        action = f"cannot release the leases of {owner}"
        status = await self._tables.execute(action, _RELEASE, owner, now)
        return int(status.split()[-1])

    async def succeed(self, request_id: str, now: float) -> None:
        action = f"cannot record the success of {request_id}"
        await self._tables.execute(action, _SUCCEED, request_id, now)

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        action = f"cannot record the failure of {request_id}"
        await self._tables.execute(action, _FAIL, request_id, error, retry_at, now, bool(counted))

    async def get(self, request_id: str) -> AsyncInvocation | None:
        action = f"cannot read async invocation {request_id}"
        row = await self._tables.fetchrow(action, _GET, request_id)
        return None if row is None else invocation(row)

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        check_limit(limit)
        value = None if status is None else AsyncInvocationStatus(status).value
        rows = await self._tables.fetch(
            "cannot list async invocations", _LIST, value, function, limit
        )
        return [invocation(row) for row in rows]

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        ids = check_request_ids(request_ids)
        rows = await self._tables.fetch(
            "cannot re-drive async invocations", _REDRIVE, now, function, ids
        )
        return [row[0] for row in rows]

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        status = await self._tables.execute("cannot purge async invocations", _PURGE, before, limit)
        return int(status.split()[-1])
