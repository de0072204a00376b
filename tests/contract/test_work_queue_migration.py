"""Databases written before event deliveries and ``Event`` invocations shared one work
queue open in place: ``fixtures/queues_v1.*.sql`` are the SQLite file and PostgreSQL schema
the earlier stores left (rows in every status, two leases held by ``node-old``), and the
stores of today read them, claim what was pending and re-drive what was dead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import asyncpg
import pytest

from lockgate.gateways.interfaces import IAsyncInvocationStore, IEventStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.schema import (
    POSTGRES_EVENT_MIGRATIONS,
    SQLITE_EVENT_MIGRATIONS,
)
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.gateways.stores.invocations.postgres import PostgresAsyncInvocationStore
from lockgate.gateways.stores.invocations.sqlite import SQLiteAsyncInvocationStore
from lockgate.models.async_invocation import AsyncInvocationStatus
from lockgate.models.event import DeliveryStatus
from tests.contract.backends import PG_DSN, drop_schema, fresh_schema

NOW = 1_700_000_000.0
LEASE = 30.0
FIXTURES = Path(__file__).parent / "fixtures"
Stores = tuple[IEventStore, IAsyncInvocationStore]


@pytest.fixture(params=["sqlite", "postgres"])
async def old_stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """Today's stores opened on the earlier stores' data."""
    script = (FIXTURES / f"queues_v1.{request.param}.sql").read_text()
    schema = fresh_schema()
    stores: Stores
    if request.param == "sqlite":
        path = tmp_path / "old.sqlite3"
        with closing(sqlite3.connect(path)) as database:
            database.executescript(script)
        stores = (SQLiteEventStore(path), SQLiteAsyncInvocationStore(path))
    else:
        connection = await asyncpg.connect(PG_DSN)
        try:
            await connection.execute(script.replace("lockgate_queue_v1", schema))
        finally:
            await connection.close()
        stores = (
            PostgresEventStore(PG_DSN, schema=schema),
            PostgresAsyncInvocationStore(PG_DSN, schema=schema),
        )
    try:
        for store in stores:
            await store.open()
        yield stores
    finally:
        for store in stores:
            await store.close()
        if request.param == "postgres":
            await drop_schema(schema)


async def test_event_deliveries_are_read_claimed_and_redriven(old_stores: Stores) -> None:
    events, _ = old_stores

    listed = await events.deliveries()
    assert [(d.id, d.status, d.attempts) for d in listed] == [
        ("e1:dead:b", DeliveryStatus.DEAD, 1),
        ("e1:done:a", DeliveryStatus.COMPLETED, 1),
        ("e1:fresh:e", DeliveryStatus.PENDING, 1),
        ("e1:held:d", DeliveryStatus.PENDING, 1),
        ("e1:retry:c", DeliveryStatus.PENDING, 1),
        ("e2:fresh:e", DeliveryStatus.PENDING, 0),
    ]
    assert listed[0].event.data == {"n": 1}
    assert listed[0].event.trace is None  # stored before events kept their trace
    # node-old's leases lapse at NOW + 60; what nobody held is due at once.
    assert [d.id for d in await events.claim_due("new", NOW + 10, LEASE, 10)] == ["e2:fresh:e"]
    assert await events.queue.release("node-old", NOW + 11) == 2
    claimed = await events.claim_due("new", NOW + 11, LEASE, 10)
    assert [(d.id, d.attempts) for d in claimed] == [("e1:fresh:e", 2), ("e1:held:d", 2)]

    assert await events.redrive(NOW + 12, ["e1:dead:b", "e1:done:a"]) == ["e1:dead:b"]
    redriven = await events.get_delivery("e1:dead:b")
    assert redriven is not None
    assert (redriven.status, redriven.attempts, redriven.error) == (DeliveryStatus.PENDING, 0, None)
    assert [d.id for d in await events.claim_due("new", NOW + 12, LEASE, 10)] == ["e1:dead:b"]
    assert await events.purge_completed(NOW + 2) == 1  # e1:done:a, finished at NOW + 1


async def test_event_invocations_are_read_claimed_and_redriven(old_stores: Stores) -> None:
    _, invocations = old_stores
    statuses = {i.request_id: i.status for i in await invocations.list_invocations()}
    assert statuses == {
        "r-dead": AsyncInvocationStatus.DEAD,
        "r-done": AsyncInvocationStatus.SUCCEEDED,
        "r-fresh": AsyncInvocationStatus.QUEUED,
        "r-held": AsyncInvocationStatus.QUEUED,
        "r-retry": AsyncInvocationStatus.QUEUED,
    }
    assert await invocations.release("node-old", NOW + 10) == 1
    claimed = await invocations.claim_due("new", NOW + 10, LEASE, 10)
    assert [(i.request_id, i.attempts) for i in claimed] == [("r-fresh", 1), ("r-held", 2)]
    assert claimed[0].payload == b"\x00raw"

    assert await invocations.redrive(NOW + 11, function="f") == ["r-dead"]
    again = await invocations.get("r-dead")
    assert again is not None
    assert (again.status, again.attempts, again.error) == (AsyncInvocationStatus.QUEUED, 0, None)
    assert [i.request_id for i in await invocations.claim_due("new", NOW + 11, LEASE, 10)] == [
        "r-dead"
    ]


async def test_the_event_schema_moved_to_its_latest_version(
    old_stores: Stores, tmp_path: Path
) -> None:
    events, _ = old_stores
    if isinstance(events, SQLiteEventStore):
        with closing(sqlite3.connect(tmp_path / "old.sqlite3")) as database:
            version = database.execute("SELECT max(version) FROM lockgate_event_schema")
            assert version.fetchone()[0] == len(SQLITE_EVENT_MIGRATIONS)
        return
    assert isinstance(events, PostgresEventStore)
    connection = await asyncpg.connect(PG_DSN)
    try:
        query = f'SELECT max(version) FROM "{events.schema}".lockgate_event_schema'
        assert await connection.fetchval(query) == len(POSTGRES_EVENT_MIGRATIONS)
    finally:
        await connection.close()
