"""``PostgresEventStore``: durable events and their deliveries in PostgreSQL, in the run
store's schema (the tables and their version table are its own), shared by every node.

Nodes claim deliveries with ``FOR UPDATE SKIP LOCKED`` and leases, so two nodes never hold
the same delivery; a node that dies lets its leases lapse and another takes over. Each call
is one statement or one transaction on a small pool.

It is also a transactional outbox: ``record(..., connection=conn)`` writes the event on a
publisher's own asyncpg connection, inside its open transaction, so the event commits or
rolls back with the publisher's business writes. Every statement names the store's schema,
since a publisher's connection has its own search_path. The deliveries' queue statements
are ``work_queue.postgres``'s; recording is this store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate.errors import LockgateError, RunStoreError
from lockgate.gateways.stores.events.schema import (
    DELIVERY_QUEUE,
    POSTGRES_EVENT_MIGRATIONS,
    check_subscribers,
    encode_data,
)
from lockgate.gateways.stores.events.view import DeliveryQueueView
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, SchemaPool, SchemaPoolStore
from lockgate.gateways.stores.work_queue.postgres import PostgresWorkQueue
from lockgate.models.event import EventRecord

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
    "created_at, trace) SELECT $1, $2, $3, $4, $5, $8 WHERE current_database() = $7 "
    "ON CONFLICT (event_id) DO NOTHING), "
    "deliveries AS (INSERT INTO {s}lockgate_event_deliveries (event_id, subscriber, status, "
    "attempts, next_attempt_at) SELECT $1, s, 'pending', 0, $5 FROM unnest($6::text[]) AS s "
    "WHERE current_database() = $7 ON CONFLICT (event_id, subscriber) DO NOTHING) "
    "SELECT current_database()"
)


class PostgresEventStore(DeliveryQueueView, SchemaPoolStore):
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
        self.queue = PostgresWorkQueue(self._tables, DELIVERY_QUEUE)

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
                await pool.fetchval(self._record_sql, *args, distinct, self._database, event.trace)
            except DRIVER_ERRORS as exc:
                raise self._error(f"cannot record event {event.event_id}", exc) from exc
            return
        try:
            database = await joined.fetchval(
                self._record_sql, *args, distinct, self._database, event.trace
            )
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
