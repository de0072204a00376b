"""The durable events' schema, as numbered migrations versioned in their own table
(``lockgate_event_schema``) so it evolves apart from the run store's in the same database,
and what the three event stores share: argument checks, JSON encoding and row decoding.
Never edit a released script: append a new one.

The deliveries' table is a work queue (``work_queue``): ``DELIVERY_QUEUE`` says how the
queue's statements read it (a delivery's id is ``event_id:subscriber``, its group its
subscriber).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lockgate import json_codec
from lockgate.gateways.stores.work_queue.table import QueueTable
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = [
    "DELIVERY_COLUMNS",
    "DELIVERY_QUEUE",
    "POSTGRES_EVENT_MIGRATIONS",
    "SQLITE_EVENT_MIGRATIONS",
    "check_subscribers",
    "checked_record",
    "delivery",
    "encode_data",
    "refuse_connection",
]

# Selected from ``lockgate_event_deliveries d JOIN lockgate_events e``, in ``delivery``'s order.
DELIVERY_COLUMNS = (
    "d.event_id, e.name, e.data, e.source_module, e.created_at, "
    "d.subscriber, d.status, d.attempts, d.next_attempt_at, d.error, e.trace"
)


def delivery(row: Sequence[Any]) -> Delivery:
    """A ``Delivery`` from a row of ``DELIVERY_COLUMNS`` (the data decoded afresh, so no two
    deliveries share a mutable payload)."""
    event = EventRecord(
        event_id=row[0],
        name=row[1],
        data=json_codec.loads(bytes(row[2])),
        source_module=row[3],
        created_at=row[4],
        trace=row[10],
    )
    return Delivery(
        event=event,
        subscriber=row[5],
        status=DeliveryStatus(row[6]),
        attempts=row[7],
        next_attempt_at=row[8],
        error=row[9],
    )


# The id as the expression the unique index of migration 2 holds (so lookups by id use it).
_DELIVERY_ID = "(d.event_id || ':' || d.subscriber)"
DELIVERY_QUEUE: QueueTable[Delivery] = QueueTable(
    table="lockgate_event_deliveries",
    ids="delivery ids",
    key=_DELIVERY_ID,
    order="d.event_id, d.subscriber",
    group="d.subscriber",
    created="e.created_at",
    joins="JOIN {s}lockgate_events e USING (event_id)",
    columns=DELIVERY_COLUMNS,
    decode=delivery,
    waiting=DeliveryStatus.PENDING.value,
    done=DeliveryStatus.COMPLETED.value,
    # A dead delivery that a holder whose lease had lapsed finally delivered is completed.
    late_success_revives_dead=True,
    # An event goes with its last delivery (its payload is often personal data).
    cleanup_column="event_id",
    sqlite_cleanup=(
        "DELETE FROM lockgate_events WHERE event_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM lockgate_event_deliveries d WHERE d.event_id = lockgate_events.event_id)"
    ),
    postgres_cleanup=(
        "DELETE FROM {s}lockgate_events e WHERE e.event_id = ANY($1::text[]) AND NOT EXISTS "
        "(SELECT 1 FROM {s}lockgate_event_deliveries d WHERE d.event_id = e.event_id)"
    ),
)


def encode_data(event: EventRecord) -> bytes:
    """The event's data as JSON text.

    Raises:
        TypeError: The data holds something that is not JSON; names the event.
    """
    try:
        return json_codec.dumps(event.data)
    except TypeError as exc:
        raise TypeError(
            f"data of event {event.name!r} ({event.event_id}) is not JSON: {exc}"
        ) from None


def check_subscribers(subscribers: Sequence[str]) -> list[str]:
    """The distinct subscribers, in order.

    Raises:
        TypeError: ``subscribers`` is a single string (which would record one delivery per
            character) or holds something that is not a string.
    """
    if isinstance(subscribers, str):
        raise TypeError(f"subscribers must be a sequence of ids, not the string {subscribers!r}")
    for subscriber in subscribers:
        if not isinstance(subscriber, str) or not subscriber:
            raise TypeError(f"subscriber ids must be non-empty strings, got {subscriber!r}")
    return list(dict.fromkeys(subscribers))


def refuse_connection(store: object, event: EventRecord, connection: object | None) -> None:
    """Refuse ``record``'s ``connection`` in a store that cannot join a caller's transaction.

    Raises:
        ValueError: ``connection`` is not None; names the store and the event.
    """
    if connection is not None:
        raise ValueError(
            f"cannot record event {event.event_id} ({event.name}) on the caller's connection: "
            f"only the PostgreSQL event store can join a caller's transaction, and this is "
            f"{type(store).__name__}; publish without connection=, or keep durable events "
            "in PostgreSQL (the run store's database)"
        )


def checked_record(
    store: object,
    event: EventRecord,
    subscribers: Sequence[str],
    connection: object | None,
) -> tuple[list[str], bytes]:
    """What a store that cannot join a caller's transaction records: the distinct
    subscribers and the event's data as JSON (see the three checks above).

    Raises:
        TypeError, ValueError: As ``check_subscribers``, ``encode_data`` and
            ``refuse_connection``.
    """
    refuse_connection(store, event, connection)
    return check_subscribers(subscribers), encode_data(event)


SQLITE_EVENT_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: events and their deliveries. No foreign key (SQLite would need a pragma on every
    # connection): both are only ever written together, in one transaction.
    (
        """
        CREATE TABLE lockgate_events (
            event_id      TEXT PRIMARY KEY,
            name          TEXT NOT NULL,
            data          BLOB NOT NULL,
            source_module TEXT NOT NULL,
            created_at    REAL NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE lockgate_event_deliveries (
            event_id        TEXT NOT NULL,
            subscriber      TEXT NOT NULL,
            status          TEXT NOT NULL,
            attempts        INTEGER NOT NULL,
            next_attempt_at REAL NOT NULL,
            lease_owner     TEXT,
            lease_until     REAL,
            error           TEXT,
            finished_at     REAL,
            PRIMARY KEY (event_id, subscriber)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX lockgate_event_deliveries_due ON lockgate_event_deliveries "
        "(next_attempt_at, event_id, subscriber) WHERE status = 'pending'",
        "CREATE INDEX lockgate_event_deliveries_finished ON lockgate_event_deliveries "
        "(finished_at) WHERE status = 'completed'",
    ),
    # 2: the work queue's delivery ids (event_id:subscriber) looked up and re-driven by
    # id, and the dead ones listed by subscriber; the rows are as they were.
    (
        "CREATE UNIQUE INDEX lockgate_event_deliveries_id ON lockgate_event_deliveries "
        "((event_id || ':' || subscriber))",
        "CREATE INDEX lockgate_event_deliveries_dead ON lockgate_event_deliveries "
        "(subscriber, event_id) WHERE status = 'dead'",
    ),
    # 3: the trace an event was published in (a traceparent), which its deliveries join.
    ("ALTER TABLE lockgate_events ADD COLUMN trace TEXT",),
)

POSTGRES_EVENT_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the layout of SQLite's 1 in the store's schema (``{schema}``, quoted by the store).
    # Data is bytea, as the run store's JSON: orjson bytes in and out, never queried inside.
    # Ids compare bytewise (COLLATE "C"), so ties order as in SQLite and in memory.
    (
        """
        CREATE TABLE {schema}.lockgate_events (
            event_id      text COLLATE "C" PRIMARY KEY,
            name          text NOT NULL,
            data          bytea NOT NULL,
            source_module text NOT NULL,
            created_at    double precision NOT NULL
        )
        """,
        """
        CREATE TABLE {schema}.lockgate_event_deliveries (
            event_id        text COLLATE "C" NOT NULL,
            subscriber      text COLLATE "C" NOT NULL,
            status          text NOT NULL,
            attempts        integer NOT NULL,
            next_attempt_at double precision NOT NULL,
            lease_owner     text,
            lease_until     double precision,
            error           text,
            finished_at     double precision,
            PRIMARY KEY (event_id, subscriber)
        )
        """,
        "CREATE INDEX lockgate_event_deliveries_due ON {schema}.lockgate_event_deliveries "
        "(next_attempt_at, event_id, subscriber) WHERE status = 'pending'",
        "CREATE INDEX lockgate_event_deliveries_finished ON {schema}.lockgate_event_deliveries "
        "(finished_at) WHERE status = 'completed'",
    ),
    # 2: as SQLite's 2.
    (
        "CREATE UNIQUE INDEX lockgate_event_deliveries_id ON {schema}.lockgate_event_deliveries "
        "((event_id || ':' || subscriber))",
        "CREATE INDEX lockgate_event_deliveries_dead ON {schema}.lockgate_event_deliveries "
        "(subscriber, event_id) WHERE status = 'dead'",
    ),
    # 3: as SQLite's 3.
    ("ALTER TABLE {schema}.lockgate_events ADD COLUMN trace text",),
)
