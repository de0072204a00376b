"""The transactional outbox against the real PostgreSQL on this machine: a publisher's
business write and its event commit together, or neither does (a rollback, an exception
after publishing); the stores and the bus that cannot join a transaction say so.

Each test has a fresh schema holding both the events and a business table, dropped after.
The publisher's pool keeps PostgreSQL's default search_path, which does not name that
schema: the store must name it itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import pytest

from lockgate.gateways.interfaces import IEventStore
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.models.event import DeliveryStatus
from lockgate.use_cases.events.bus import EventBus, current_event
from tests.contract.backends import PG_DSN, drop_schema, fresh_schema
from tests.support import eventually

if TYPE_CHECKING:
    _Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]

EVENT = "therapy_session.scheduled"
GUARD = 10.0  # a guard against a hang, not a timing claim
FAST: dict[str, Any] = {"poll_interval": 0.02, "backoff": 0.01, "max_backoff": 0.05}


class Notifications:
    """The subscriber: every delivery's event id and data, in arrival order."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def on_scheduled(self, data: Any) -> None:
        await self.received.put((current_event().event_id, data))


@dataclass
class Outbox:
    schema: str
    store: PostgresEventStore
    bus: EventBus
    pool: _Pool  # the publisher's own
    notifications: Notifications

    @property
    def sessions(self) -> str:
        return f'"{self.schema}".sessions'

    async def session_ids(self) -> list[int]:
        rows = await self.pool.fetch(f"SELECT id FROM {self.sessions} ORDER BY id")
        return [row[0] for row in rows]

    async def delivers_only_a_sentinel(self, event_id: str) -> None:
        """Publish a sentinel outside any transaction; once it is delivered and nothing is
        under way, ``event_id`` and the sentinel must be all there ever was."""
        sentinel = await self.bus.publish(EVENT, {"session_id": 0}, "mentalhealth")
        async with asyncio.timeout(GUARD):
            assert await self.notifications.received.get() == (sentinel, {"session_id": 0})
        await eventually(lambda: self.bus.stats()["in_flight"] == 0)
        assert self.notifications.received.empty()
        deliveries = await self.store.deliveries()
        assert [d.event.event_id for d in deliveries] == [sentinel]
        assert event_id not in {d.event.event_id for d in deliveries}


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    schema = fresh_schema()
    store = PostgresEventStore(PG_DSN, schema=schema)
    bus = EventBus(store, **FAST)
    notifications = Notifications()
    bus.subscribe(EVENT, notifications.on_scheduled, "notifications")
    pool = None
    try:
        await store.open()
        await bus.start()
        pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=2)
        await pool.execute(
            f'CREATE TABLE "{schema}".sessions (id integer PRIMARY KEY, patient text NOT NULL)'
        )
        yield Outbox(schema, store, bus, pool, notifications)
    finally:
        await bus.stop(grace=0)
        await store.close()
        if pool is not None:
            await pool.close()
        await drop_schema(schema)


async def schedule(outbox: Outbox, connection: Any, session_id: int) -> str:
    """The publisher's use case: a session row and its event, on ``connection``."""
    await connection.execute(f"INSERT INTO {outbox.sessions} VALUES ($1, 'p1')", session_id)
    data = {"session_id": session_id, "patient_id": 1, "therapist_id": 2}
    return await outbox.bus.publish(EVENT, data, "mentalhealth", connection=connection)


async def schedule_and_commit(outbox: Outbox, connection: Any) -> str:
    async with connection.transaction():
        event_id = await schedule(outbox, connection, 7)
        assert await outbox.store.deliveries() == []  # the poller sees nothing yet
    return event_id


@pytest.mark.parametrize("acquire", ["pool", "connect"])
async def test_a_commit_records_and_delivers_the_event(outbox: Outbox, acquire: str) -> None:
    if acquire == "pool":
        async with outbox.pool.acquire() as connection:
            event_id = await schedule_and_commit(outbox, connection)
    else:
        plain = await asyncpg.connect(PG_DSN)
        try:
            event_id = await schedule_and_commit(outbox, plain)
        finally:
            await plain.close()

    async with asyncio.timeout(GUARD):
        (delivered, data) = await outbox.notifications.received.get()
    assert (delivered, data["session_id"]) == (event_id, 7)
    assert await outbox.session_ids() == [7]
    await eventually(lambda: outbox.bus.stats()["delivered"] == 1)
    (completed,) = await outbox.store.deliveries(DeliveryStatus.COMPLETED)
    assert (completed.event.event_id, completed.attempts) == (event_id, 1)


async def test_a_rollback_records_and_delivers_nothing(outbox: Outbox) -> None:
    async with outbox.pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        event_id = await schedule(outbox, connection, 8)
        await transaction.rollback()

    await outbox.delivers_only_a_sentinel(event_id)
    assert await outbox.session_ids() == []


class TherapistUnavailableError(Exception):
    pass


async def test_an_exception_after_publishing_records_and_delivers_nothing(outbox: Outbox) -> None:
    event_ids: list[str] = []

    async def schedule_then_fail() -> None:
        async with outbox.pool.acquire() as connection, connection.transaction():
            event_ids.append(await schedule(outbox, connection, 9))
            raise TherapistUnavailableError("therapist 2 is fully booked")

    with pytest.raises(TherapistUnavailableError):
        await schedule_then_fail()
    await outbox.delivers_only_a_sentinel(event_ids[0])
    assert await outbox.session_ids() == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_stores_that_cannot_join_refuse_the_connection(
    outbox: Outbox, kind: str, tmp_path: Path
) -> None:
    store: IEventStore = (
        InMemoryEventStore() if kind == "memory" else SQLiteEventStore(tmp_path / "e.sqlite3")
    )
    await store.open()
    bus = EventBus(store, **FAST)
    bus.subscribe(EVENT, Notifications().on_scheduled, "notifications")
    await bus.start()
    try:
        async with outbox.pool.acquire() as connection, connection.transaction():
            with pytest.raises(ValueError, match=r"only the PostgreSQL event store") as caught:
                await schedule(replace(outbox, bus=bus), connection, 10)
            assert type(store).__name__ in str(caught.value)
            # Refused before any SQL: the caller's transaction is unharmed and commits.
            await connection.execute(f"INSERT INTO {outbox.sessions} VALUES (11, 'p2')")
        assert await store.deliveries() == []
    finally:
        await bus.stop(grace=0)
        await store.close()
    assert await outbox.session_ids() == [10, 11]


async def test_a_bus_in_memory_refuses_the_connection(outbox: Outbox) -> None:
    bus = EventBus(**FAST)
    await bus.start()
    try:
        async with outbox.pool.acquire() as connection:
            with pytest.raises(ValueError, match=r"connection=.*keeps events in memory"):
                bus.publish(EVENT, {"session_id": 12}, "mentalhealth", connection=connection)
    finally:
        await bus.stop(grace=0)
