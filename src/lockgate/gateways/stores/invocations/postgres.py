"""``PostgresAsyncInvocationStore``: durable ``Event`` invocations in PostgreSQL, in the run
store's schema (the table and its version table are its own), one queue shared by every
gateway node.

Nodes claim invocations with ``FOR UPDATE SKIP LOCKED`` and leases, so two nodes never hold
the same invocation; a node that dies lets its leases lapse and another takes over. Each
call is one statement on a small pool. The queue's statements are
``work_queue.postgres``'s; accepting one is this store's.
"""

from __future__ import annotations

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.invocations.schema import (
    ASYNC_INVOCATION_VERSIONS,
    INVOCATION_COLUMNS,
    INVOCATION_QUEUE,
    POSTGRES_ASYNC_INVOCATION_MIGRATIONS,
    new_invocation_row,
)
from lockgate.gateways.stores.invocations.view import InvocationQueueView
from lockgate.gateways.stores.postgres_base import SchemaPool, SchemaPoolStore
from lockgate.gateways.stores.work_queue.postgres import PostgresWorkQueue
from lockgate.models.async_invocation import AsyncInvocation

__all__ = ["PostgresAsyncInvocationStore"]

_MIGRATION_LOCK = 0x4C6B4169  # with hashtext(schema): one advisory lock per schema
_INSERT = (
    f"INSERT INTO lockgate_async_invocations ({INVOCATION_COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (request_id) DO NOTHING"
)
# The count and the insert in one statement: nothing is written when the queue is full.
_INSERT_UNLESS_FULL = (
    "WITH queued AS (SELECT count(*) AS n FROM lockgate_async_invocations "  # noqa: S608
    "WHERE function_name = $2 AND status = 'queued'), "
    f"inserted AS (INSERT INTO lockgate_async_invocations ({INVOCATION_COLUMNS}) "
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM queued WHERE queued.n < $12 "
    "ON CONFLICT (request_id) DO NOTHING RETURNING 1) "
    "SELECT (SELECT n FROM queued) < $12 AS room, (SELECT count(*) FROM inserted) AS stored"
)


class PostgresAsyncInvocationStore(InvocationQueueView, SchemaPoolStore):
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
        self.queue = PostgresWorkQueue(self._tables, INVOCATION_QUEUE)

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
