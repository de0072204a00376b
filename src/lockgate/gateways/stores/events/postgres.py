"""``PostgresEventStore``: durable events and their deliveries in PostgreSQL, in the run
store's schema (the tables and their version table are its own), shared by every node.

Nodes claim deliveries with ``FOR UPDATE SKIP LOCKED`` and leases, so two nodes never hold
the same delivery; a node that dies lets its leases lapse and another takes over. Each call
is one statement or one transaction on a small pool.

It is also a transactional outbox: ``record(..., connection=conn)`` writes the event on a
publisher's own asyncpg connection, inside its open transaction, so the event commits or
rolls back with the publisher's business writes. Every statement names the store's schema,
since a publisher's connection has its own search_path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import LockgateError, RunStoreError
from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.events.schema import (
    DELIVERY_COLUMNS,
    POSTGRES_EVENT_MIGRATIONS,
    check_subscribers,
    delivery,
    encode_data,
)
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, SchemaPool, SchemaPoolStore
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = ["PostgresEventStore"]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    _Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    )
_MIGRATION_LOCK = 0x4C6B4576  # with hashtext(schema): one advisory lock per schema
# The statements name their tables as ``{s}table`` (``{s}`` is the quoted schema and a dot):
# a publisher's connection, which ``record`` may be given, has a search_path of its own.
#
# One statement, so one transaction of its own or a part of the caller's: the event and its
# deliveries, or nothing. Both inserts ignore rows already there, so a record retried after a
# lost answer changes nothing. A connection to another database that happens to hold the
# same schema writes nothing there, and the database it answers tells the store so.
_RECORD = (
    "WITH event AS (INSERT INTO {s}lockgate_events (event_id, name, data, source_module, "
    "created_at) SELECT $1, $2, $3, $4, $5 WHERE current_database() = $7 "
    "ON CONFLICT (event_id) DO NOTHING), "
    "deliveries AS (INSERT INTO {s}lockgate_event_deliveries (event_id, subscriber, status, "
    "attempts, next_attempt_at) SELECT $1, s, 'pending', 0, $5 FROM unnest($6::text[]) AS s "
    "WHERE current_database() = $7 ON CONFLICT (event_id, subscriber) DO NOTHING) "
    "SELECT current_database()"
)
# Rows another node is claiming (or completing, failing) are skipped, not waited for. A row
# another node claimed since our snapshot is re-checked once locked: its next_attempt_at has
# moved to its lease's end, so it is no longer due. The claim order is kept in due_at.
_CLAIM = (
    "WITH due AS (SELECT event_id, subscriber, next_attempt_at AS due_at "  # noqa: S608
    "FROM {s}lockgate_event_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 "
    "ORDER BY next_attempt_at, event_id, subscriber LIMIT $2 FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE {s}lockgate_event_deliveries d SET attempts = d.attempts + 1, "
    "lease_owner = $3, lease_until = $4, next_attempt_at = $4 FROM due "
    "WHERE d.event_id = due.event_id AND d.subscriber = due.subscriber "
    "RETURNING d.*, due.due_at) "
    f"SELECT {DELIVERY_COLUMNS} FROM claimed d JOIN {{s}}lockgate_events e USING (event_id) "
    "ORDER BY d.due_at, d.event_id, d.subscriber"
)
# A dead delivery that a holder whose lease had lapsed finally delivered becomes completed.
_COMPLETE = (
    "UPDATE {s}lockgate_event_deliveries SET status = 'completed', finished_at = $3, "
    "lease_owner = NULL, lease_until = NULL "
    "WHERE event_id = $1 AND subscriber = $2 AND status <> 'completed'"
)
# Only a pending delivery can fail: one finished meanwhile (by a node whose claim outlived
# ours) stays as it is. A None retry_at makes it dead and leaves next_attempt_at alone.
_FAIL = (
    "UPDATE {s}lockgate_event_deliveries SET error = $3, "
    "status = CASE WHEN $4::float8 IS NULL THEN 'dead' ELSE 'pending' END, "
    "next_attempt_at = coalesce($4::float8, next_attempt_at), "
    "lease_owner = NULL, lease_until = NULL "
    "WHERE event_id = $1 AND subscriber = $2 AND status = 'pending'"
)
_LIST = (
    f"SELECT {DELIVERY_COLUMNS} FROM {{s}}lockgate_event_deliveries d "  # noqa: S608
    "JOIN {s}lockgate_events e USING (event_id) WHERE $1::text IS NULL OR d.status = $1 "
    "ORDER BY e.created_at, d.event_id, d.subscriber LIMIT $2"
)
_PURGE = (
    "DELETE FROM {s}lockgate_event_deliveries WHERE (event_id, subscriber) IN ("
    "SELECT event_id, subscriber FROM {s}lockgate_event_deliveries WHERE status = 'completed' "
    "AND finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "RETURNING event_id"
)
# A second statement: within the first, the deleted deliveries would still be visible.
_ORPHANS = (
    "DELETE FROM {s}lockgate_events e WHERE e.event_id = ANY($1::text[]) AND NOT EXISTS "
    "(SELECT 1 FROM {s}lockgate_event_deliveries d WHERE d.event_id = e.event_id)"
)


class PostgresEventStore(SchemaPoolStore):
    """Events and deliveries in ``{schema}.lockgate_events`` and
    ``{schema}.lockgate_event_deliveries``.

    An event recorded with no subscribers is not stored (nothing would ever read it). A
    repeated ``record`` of the same event id keeps what is stored and adds only deliveries
    for new subscribers, so a publisher may retry a record whose outcome it did not learn.
    The only event store that can join a publisher's transaction (``record``'s
    ``connection``).

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the tables (created if missing).
        max_size: Connections in the store's pool.

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(self, dsn: str, *, schema: str = "lockgate", max_size: int = 4) -> None:
        super().__init__(
            SchemaPool(
                dsn,
                schema=schema,
                what="the event store",
                versions_table="lockgate_event_schema",
                migrations=POSTGRES_EVENT_MIGRATIONS,
                lock_key=_MIGRATION_LOCK,
                error=RunStoreError,
                max_size=max_size,
            )
        )
        self._redactor = self._tables.redactor
        self._database = ""  # the database the pool is connected to, learnt at open
        prefix = f'"{schema}".'
        self._record_sql = _RECORD.format(s=prefix)
        self._claim_sql = _CLAIM.format(s=prefix)
        self._complete_sql = _COMPLETE.format(s=prefix)
        self._fail_sql = _FAIL.format(s=prefix)
        self._list_sql = _LIST.format(s=prefix)
        self._purge_sql = _PURGE.format(s=prefix)
        self._orphans_sql = _ORPHANS.format(s=prefix)

    def _error(self, action: str, exc: BaseException) -> LockgateError:
        return self._tables.fail(action, exc)

    async def open(self) -> None:
        await super().open()
        try:
            async with self._tables.ready().acquire() as connection:
                self._database = await connection.fetchval("SELECT current_database()")
        except DRIVER_ERRORS as exc:
            await self._tables.close()
            raise self._error("cannot open the event store", exc) from exc

    def _ready(self) -> _Pool:
        return self._tables.ready()

    async def record(
        self, event: EventRecord, subscribers: Sequence[str], *, connection: object | None = None
    ) -> None:
        """See ``IEventStore.record``; with ``connection`` (an asyncpg connection, or one
        acquired from a pool, to this store's database) the rows are written on it, inside
        the caller's open transaction if there is one (else committed at once).

        Raises:
            TypeError: ``connection`` is not an asyncpg connection.
            ValueError: ``connection`` is closed or released, its transaction has already
                failed, or it is connected to another database; nothing is recorded.
            RunStoreError: The write failed (on ``connection``: its transaction is aborted).
        """
        distinct = check_subscribers(subscribers)
        data = encode_data(event)
        joined = None if connection is None else _joinable(connection, event)
        pool = self._ready()
        if not distinct:
            return
        args = (event.event_id, event.name, data, event.source_module, event.created_at)
        if joined is None:
            try:
                await pool.fetchval(self._record_sql, *args, distinct, self._database)
            except DRIVER_ERRORS as exc:
                raise self._error(f"cannot record event {event.event_id}", exc) from exc
            return
        try:
            database = await joined.fetchval(self._record_sql, *args, distinct, self._database)
        except asyncpg.InFailedSQLTransactionError:
            raise ValueError(
                f"cannot record event {event.event_id} ({event.name}): the transaction on the "
                "given connection has already failed (an earlier statement raised); roll it back"
            ) from None
        except asyncpg.UndefinedTableError as exc:
            raise ValueError(
                f"cannot record event {event.event_id} ({event.name}): the given connection's "
                f"database has no {self.schema}.lockgate_events; it must be connected to the "
                f"event store's database ({self._redactor.where}); roll its transaction back"
            ) from exc
        except DRIVER_ERRORS as exc:
            raise self._error(
                f"cannot record event {event.event_id} on the given connection "
                "(roll its transaction back)",
                exc,
            ) from exc
        if database != self._database:
            raise ValueError(
                f"cannot record event {event.event_id} ({event.name}): the given connection is "
                f"to database {database!r}, not to the event store's {self._database!r} "
                f"({self._redactor.where}); nothing was written"
            )

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        check_claim(lease_seconds, limit)
        rows = await self._tables.fetch(
            "cannot claim deliveries", self._claim_sql, now, limit, owner, now + lease_seconds
        )
        return [delivery(tuple(row)) for row in rows]

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        action = f"cannot complete {event_id}/{subscriber}"
        await self._tables.execute(action, self._complete_sql, event_id, subscriber, now)

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        action = f"cannot record the failure of {event_id}/{subscriber}"
        await self._tables.execute(action, self._fail_sql, event_id, subscriber, error, retry_at)

    async def deliveries(
        self, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[Delivery]:
        check_limit(limit)
        value = None if status is None else DeliveryStatus(status).value
        rows = await self._tables.fetch("cannot list deliveries", self._list_sql, value, limit)
        return [delivery(tuple(row)) for row in rows]

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        pool = self._ready()
        try:
            async with pool.acquire() as connection, connection.transaction():
                rows = await connection.fetch(self._purge_sql, before, limit)
                event_ids = sorted({row[0] for row in rows})
                if event_ids:
                    await connection.execute(self._orphans_sql, event_ids)
        except DRIVER_ERRORS as exc:
            raise self._error("cannot purge deliveries", exc) from exc
        return len(rows)


def _joinable(connection: object, event: EventRecord) -> _Connection:
    """``connection`` if it is an open asyncpg connection to write ``event`` on.

    Raises:
        TypeError: It is not an asyncpg connection.
        ValueError: It is closed, or released back to its pool.
    """
    if not isinstance(connection, asyncpg.Connection | PoolConnectionProxy):
        raise TypeError(
            f"cannot record event {event.event_id} ({event.name}) on connection="
            f"{type(connection).__name__}: the PostgreSQL event store joins an asyncpg "
            "connection's transaction (asyncpg.Connection, or one acquired from a pool)"
        )
    try:
        closed = connection.is_closed()
    except asyncpg.InterfaceError:  # a pool's proxy once the connection went back
        closed = True
    if closed:
        raise ValueError(
            f"cannot record event {event.event_id} ({event.name}): the given connection is "
            "closed or was released to its pool; pass the connection holding your transaction"
        )
    return connection
