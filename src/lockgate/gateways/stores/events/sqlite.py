"""``SQLiteEventStore``: durable events and their deliveries in a SQLite file (the run
store's file may be shared: the tables and their version table are its own).

Each call runs plain sqlite3 on one dedicated thread, one ``BEGIN IMMEDIATE`` transaction
per call: SQLite has one writer at a time, so a claim's read and its update can never
interleave with another store's claim on the same file (no delivery is claimed twice).
WAL with ``synchronous=FULL`` like the run store: a recorded event survives a power cut.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.events.schema import (
    DELIVERY_COLUMNS,
    SQLITE_EVENT_MIGRATIONS,
    checked_record,
    delivery,
)
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = ["SQLiteEventStore"]

_JOINED = "lockgate_event_deliveries d JOIN lockgate_events e USING (event_id)"
_INSERT_EVENT = (
    "INSERT INTO lockgate_events (event_id, name, data, source_module, created_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)
_INSERT_DELIVERY = (
    "INSERT INTO lockgate_event_deliveries (event_id, subscriber, status, attempts, "
    "next_attempt_at) VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (event_id, subscriber) DO NOTHING"
)
_DUE = (
    f"SELECT {DELIVERY_COLUMNS} FROM {_JOINED} "  # noqa: S608 - constant text
    "WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
    "ORDER BY d.next_attempt_at, d.event_id, d.subscriber LIMIT ?"
)
_LEASE = (
    "UPDATE lockgate_event_deliveries SET attempts = attempts + 1, lease_owner = ?, "
    "lease_until = ?, next_attempt_at = ? WHERE event_id = ? AND subscriber = ?"
)
# A dead delivery that a holder whose lease had lapsed finally delivered becomes completed.
_COMPLETE = (
    "UPDATE lockgate_event_deliveries SET status = 'completed', finished_at = ?, "
    "lease_owner = NULL, lease_until = NULL "
    "WHERE event_id = ? AND subscriber = ? AND status <> 'completed'"
)
# Only a pending delivery can fail: one finished meanwhile (by a node whose claim outlived
# ours) stays as it is.
_RETRY = (
    "UPDATE lockgate_event_deliveries SET error = ?, next_attempt_at = ?, lease_owner = NULL, "
    "lease_until = NULL WHERE event_id = ? AND subscriber = ? AND status = 'pending'"
)
_BURY = (
    "UPDATE lockgate_event_deliveries SET error = ?, status = 'dead', lease_owner = NULL, "
    "lease_until = NULL WHERE event_id = ? AND subscriber = ? AND status = 'pending'"
)
_LIST = (
    f"SELECT {DELIVERY_COLUMNS} FROM {_JOINED} "  # noqa: S608 - constant text
    "WHERE ? IS NULL OR d.status = ? ORDER BY e.created_at, d.event_id, d.subscriber LIMIT ?"
)
_FINISHED = (
    "SELECT event_id, subscriber FROM lockgate_event_deliveries "
    "WHERE status = 'completed' AND finished_at < ? ORDER BY finished_at LIMIT ?"
)
_PURGE = "DELETE FROM lockgate_event_deliveries WHERE event_id = ? AND subscriber = ?"
_ORPHAN = (
    "DELETE FROM lockgate_events WHERE event_id = ? AND NOT EXISTS "
    "(SELECT 1 FROM lockgate_event_deliveries d WHERE d.event_id = lockgate_events.event_id)"
)


class SQLiteEventStore(SQLiteStore):
    """Events and deliveries in the tables ``lockgate_events`` and
    ``lockgate_event_deliveries`` of the SQLite file ``path``.

    An event recorded with no subscribers is not stored (nothing would ever read it). A
    repeated ``record`` of the same event id keeps what is stored and adds only deliveries
    for new subscribers, so a publisher may retry a record whose outcome it did not learn.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            SQLiteWorker(
                Path(path),
                what="the event store",
                versions_table="lockgate_event_schema",
                migrations=SQLITE_EVENT_MIGRATIONS,
                error=RunStoreError,
            )
        )

    async def record(
        self, event: EventRecord, subscribers: Sequence[str], *, connection: object | None = None
    ) -> None:
        """See ``IEventStore.record``.

        Raises:
            ValueError: ``connection`` was given: only the PostgreSQL event store can join
                a caller's transaction.
        """
        distinct, data = checked_record(self, event, subscribers, connection)
        if not distinct:
            return
        event_row = (event.event_id, event.name, data, event.source_module, event.created_at)
        rows = [(event.event_id, subscriber, event.created_at) for subscriber in distinct]

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(_INSERT_EVENT, event_row)
            connection.executemany(_INSERT_DELIVERY, rows)

        await self._run(f"record of event {event.event_id}", write)

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        check_claim(lease_seconds, limit)
        until = now + lease_seconds

        def claim(connection: sqlite3.Connection) -> list[Delivery]:
            rows = connection.execute(_DUE, (now, limit)).fetchall()
            connection.executemany(_LEASE, [(owner, until, until, row[0], row[5]) for row in rows])
            # As stored now: one more attempt, due again when the lease lapses.
            return [delivery((*row[:7], row[7] + 1, until, row[9])) for row in rows]

        return await self._run("claim", claim)

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        await self._run(
            f"completion of {event_id}/{subscriber}",
            lambda c: c.execute(_COMPLETE, (now, event_id, subscriber)),
        )

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        args: tuple[object, ...]
        if retry_at is None:
            sql, args = _BURY, (error, event_id, subscriber)
        else:
            sql, args = _RETRY, (error, retry_at, event_id, subscriber)
        await self._run(f"failure of {event_id}/{subscriber}", lambda c: c.execute(sql, args))

    async def deliveries(
        self, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[Delivery]:
        check_limit(limit)
        value = None if status is None else DeliveryStatus(status).value

        def read(connection: sqlite3.Connection) -> list[Delivery]:
            return [delivery(row) for row in connection.execute(_LIST, (value, value, limit))]

        return await self._run("listing", read)

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)

        def purge(connection: sqlite3.Connection) -> int:
            keys = connection.execute(_FINISHED, (before, limit)).fetchall()
            connection.executemany(_PURGE, keys)
            connection.executemany(_ORPHAN, [(event_id,) for event_id in {k[0] for k in keys}])
            return len(keys)

        return await self._run("purge", purge)
