"""The async invocation store's schema, as numbered migrations versioned in their own table
(``lockgate_async_invocation_schema``) so it evolves apart from the run store's in the same
database, and what its memory, SQLite and PostgreSQL implementations share: argument checks
and row encoding/decoding. Never edit a released script: append a new one.

The table is a work queue (``work_queue``): ``INVOCATION_QUEUE`` says how the queue's
statements read it.
"""

from __future__ import annotations

from typing import Any

from lockgate.gateways.stores.work_queue.table import QueueTable
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = [
    "ASYNC_INVOCATION_VERSIONS",
    "INVOCATION_COLUMNS",
    "INVOCATION_QUEUE",
    "POSTGRES_ASYNC_INVOCATION_MIGRATIONS",
    "SQLITE_ASYNC_INVOCATION_MIGRATIONS",
    "invocation",
    "new_invocation_row",
]

ASYNC_INVOCATION_VERSIONS = "lockgate_async_invocation_schema"
# In AsyncInvocation's field order.
INVOCATION_COLUMNS = (
    "request_id, function_name, payload, qualifier, status, attempts, created_at, "
    "next_attempt_at, error, finished_at, trace"
)


def invocation(row: Any) -> AsyncInvocation:
    """An ``AsyncInvocation`` from a row (tuple or asyncpg Record) of ``INVOCATION_COLUMNS``."""
    return AsyncInvocation(
        request_id=row[0],
        function=row[1],
        payload=bytes(row[2]),
        qualifier=row[3],
        status=AsyncInvocationStatus(row[4]),
        attempts=row[5],
        created_at=row[6],
        next_attempt_at=row[7],
        error=row[8],
        finished_at=row[9],
        trace=row[10],
    )


# The work queue's view of the table (``work_queue.table``): an invocation's id is its
# request id, its group its function.
INVOCATION_QUEUE: QueueTable[AsyncInvocation] = QueueTable(
    table="lockgate_async_invocations",
    ids="request ids",
    key="d.request_id",
    order="d.request_id",
    group="d.function_name",
    created="d.created_at",
    joins="",
    columns=", ".join(f"d.{column}" for column in INVOCATION_COLUMNS.split(", ")),
    decode=invocation,
    waiting=AsyncInvocationStatus.QUEUED.value,
    done=AsyncInvocationStatus.SUCCEEDED.value,
)


def new_invocation_row(value: AsyncInvocation) -> tuple[Any, ...]:
    """The row ``enqueue`` inserts (``INVOCATION_COLUMNS``' order) for a new invocation.

    Raises:
        TypeError: The payload is not bytes (a str would be stored as text, and re-encoded).
        ValueError: It is not new: not queued, or with attempts, an error or a finish time.
    """
    name = value.request_id
    if not isinstance(name, str) or not name:
        raise ValueError(f"request_id must be a non-empty string, got {name!r}")
    if not isinstance(value.payload, bytes):
        raise TypeError(
            f"payload of async invocation {name} must be bytes, got {type(value.payload).__name__}"
        )
    if (
        value.status is not AsyncInvocationStatus.QUEUED
        or value.attempts != 0
        or value.error is not None
        or value.finished_at is not None
    ):
        raise ValueError(
            f"async invocation {name} is not new (status {value.status}, {value.attempts} "
            "attempts): enqueue takes a queued invocation with no attempts, error or finish"
        )
    return (
        name,
        value.function,
        value.payload,
        value.qualifier,
        AsyncInvocationStatus.QUEUED.value,
        0,
        value.created_at,
        value.next_attempt_at,
        None,
        None,
        value.trace,
    )


# Rowid tables, not WITHOUT ROWID: payloads (up to Lambda's 256 KiB) are large rows.
SQLITE_ASYNC_INVOCATION_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE lockgate_async_invocations (
            request_id      TEXT PRIMARY KEY,
            function_name   TEXT NOT NULL,
            payload         BLOB NOT NULL,
            qualifier       TEXT,
            status          TEXT NOT NULL,
            attempts        INTEGER NOT NULL,
            created_at      REAL NOT NULL,
            next_attempt_at REAL NOT NULL,
            lease_owner     TEXT,
            lease_until     REAL,
            error           TEXT,
            finished_at     REAL
        )
        """,
        "CREATE INDEX lockgate_async_invocations_due ON lockgate_async_invocations "
        "(next_attempt_at, request_id) WHERE status = 'queued'",
        "CREATE INDEX lockgate_async_invocations_accepted ON lockgate_async_invocations "
        "(created_at, request_id)",
        "CREATE INDEX lockgate_async_invocations_dead ON lockgate_async_invocations "
        "(function_name, created_at, request_id) WHERE status = 'dead'",
        "CREATE INDEX lockgate_async_invocations_finished ON lockgate_async_invocations "
        "(finished_at) WHERE status = 'succeeded'",
    ),
    # 2: a function's queued invocations, counted when one more is accepted (async_max_queued).
    (
        "CREATE INDEX lockgate_async_invocations_queued ON lockgate_async_invocations "
        "(function_name) WHERE status = 'queued'",
    ),
    # 3: the trace the invocation was accepted in (a traceparent), which its attempts join.
    ("ALTER TABLE lockgate_async_invocations ADD COLUMN trace TEXT",),
)

# SQLite's layout in the store's schema (``{schema}``, quoted by the store). Payloads are
# bytea: the bytes as they arrived, never re-encoded. Ids compare bytewise (COLLATE "C"),
# so ties order as in SQLite and in memory.
POSTGRES_ASYNC_INVOCATION_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE {schema}.lockgate_async_invocations (
            request_id      text COLLATE "C" PRIMARY KEY,
            function_name   text NOT NULL,
            payload         bytea NOT NULL,
            qualifier       text,
            status          text NOT NULL,
            attempts        integer NOT NULL,
            created_at      double precision NOT NULL,
            next_attempt_at double precision NOT NULL,
            lease_owner     text,
            lease_until     double precision,
            error           text,
            finished_at     double precision
        )
        """,
        "CREATE INDEX lockgate_async_invocations_due ON {schema}.lockgate_async_invocations "
        "(next_attempt_at, request_id) WHERE status = 'queued'",
        "CREATE INDEX lockgate_async_invocations_accepted "
        "ON {schema}.lockgate_async_invocations (created_at, request_id)",
        "CREATE INDEX lockgate_async_invocations_dead ON {schema}.lockgate_async_invocations "
        "(function_name, created_at, request_id) WHERE status = 'dead'",
        "CREATE INDEX lockgate_async_invocations_finished "
        "ON {schema}.lockgate_async_invocations (finished_at) WHERE status = 'succeeded'",
    ),
    # 2: a function's queued invocations, counted when one more is accepted (async_max_queued).
    (
        "CREATE INDEX lockgate_async_invocations_queued ON {schema}.lockgate_async_invocations "
        "(function_name) WHERE status = 'queued'",
    ),
    # 3: the trace the invocation was accepted in (a traceparent), which its attempts join.
    ("ALTER TABLE {schema}.lockgate_async_invocations ADD COLUMN trace TEXT",),
)
