"""``SQLiteEventStore``: durable events and their deliveries in a SQLite file (the run
store's file may be shared: the tables and their version table are its own).

Each call runs plain sqlite3 on one dedicated thread, one ``BEGIN IMMEDIATE`` transaction
per call: SQLite has one writer at a time, so a claim's read and its update can never
interleave with another store's claim on the same file (no delivery is claimed twice).
WAL with ``synchronous=FULL`` like the run store: a recorded event survives a power cut.
The deliveries' queue statements are ``work_queue.sqlite``'s; recording is this store's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.events.schema import (
    DELIVERY_QUEUE,
    SQLITE_EVENT_MIGRATIONS,
    checked_record,
)
from lockgate.gateways.stores.events.view import DeliveryQueueView
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker
from lockgate.gateways.stores.work_queue.sqlite import SQLiteWorkQueue
from lockgate.models.event import EventRecord

__all__ = ["SQLiteEventStore"]

_INSERT_EVENT = (
    "INSERT INTO lockgate_events (event_id, name, data, source_module, created_at, trace) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)
_INSERT_DELIVERY = (
    "INSERT INTO lockgate_event_deliveries (event_id, subscriber, status, attempts, "
    "next_attempt_at) VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (event_id, subscriber) DO NOTHING"
)


class SQLiteEventStore(DeliveryQueueView, SQLiteStore):
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
        self.queue = SQLiteWorkQueue(self._worker, DELIVERY_QUEUE)

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
        event_row = (
            event.event_id,
            event.name,
            data,
            event.source_module,
            event.created_at,
            event.trace,
        )
        rows = [(event.event_id, subscriber, event.created_at) for subscriber in distinct]

        def write(connection: sqlite3.Connection) -> None:
            connection.execute(_INSERT_EVENT, event_row)
            connection.executemany(_INSERT_DELIVERY, rows)

        await self._run(f"record of event {event.event_id}", write)
