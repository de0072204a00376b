"""The ``IEventStore`` contract, one suite run against memory, SQLite and the real
PostgreSQL on this machine (a fresh schema per test, dropped afterwards; PostgreSQL down
fails, not skips). ``durable`` tests run on the two that keep data across a restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lockgate.errors import RunStoreError
from lockgate.gateways.interfaces import IEventStore, IRunStore
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.gateways.stores.runs.postgres import PostgresRunStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord
from tests.contract.backends import PG_DSN, Backend, Makers, drop_schema, fresh_schema

NOW = 1_700_000_000.0
LEASE = 30.0
PAYLOAD: dict[str, Any] = {
    "text": 'héllo ✓ \x00 "quoted" \\',
    "int": 2**62,
    "float": 0.1,
    "flags": [True, False, None],
    "nested": {"list": [1, [2, {"deep": "yes"}]], "empty": {}},
}
PENDING, COMPLETED, DEAD = DeliveryStatus.PENDING, DeliveryStatus.COMPLETED, DeliveryStatus.DEAD


TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def event(
    event_id: str = "e1", *, at: float = NOW, data: Any = None, trace: str | None = TRACE
) -> EventRecord:
    return EventRecord(
        event_id=event_id,
        name="therapy_session.scheduled",
        data=PAYLOAD if data is None else data,
        source_module="mentalhealth",
        created_at=at,
        trace=trace,
    )


def keys(deliveries: list[Delivery]) -> list[tuple[str, str]]:
    return [(d.event.event_id, d.subscriber) for d in deliveries]


@pytest.fixture
def makers() -> Makers:
    return {
        "memory": lambda _path, _schema: InMemoryEventStore(),
        "sqlite": lambda path, _schema: SQLiteEventStore(path),
        "postgres": lambda _path, schema: PostgresEventStore(PG_DSN, schema=schema),
    }


async def event_count(backend: Backend[IEventStore]) -> int:
    store = backend.stores[0]
    if isinstance(store, InMemoryEventStore):
        return len(store._events)
    return int(await backend.fetchval("SELECT count(*) FROM {t}lockgate_events"))


async def test_implements_the_protocol(store: IEventStore) -> None:
    assert isinstance(store, IEventStore)


async def test_record_then_claim_gives_one_delivery_per_subscriber(store: IEventStore) -> None:
    await store.record(event(), ["notifications:a", "billing:b", "audit:c"])

    claimed = await store.claim_due("node-1", NOW, LEASE, 10)

    assert keys(claimed) == [("e1", "audit:c"), ("e1", "billing:b"), ("e1", "notifications:a")]
    for delivery in claimed:
        assert delivery.event == event()  # its trace too: the deliveries join it
        assert delivery.status is PENDING
        assert delivery.attempts == 1
        assert delivery.next_attempt_at == NOW + LEASE  # due again when the lease lapses
        assert delivery.error is None
    claimed[0].event.data["nested"]["list"].append("changed")  # each its own copy
    assert claimed[1].event.data == PAYLOAD
    assert await store.claim_due("node-2", NOW, LEASE, 10) == []


async def test_nothing_is_due_before_its_event(store: IEventStore) -> None:
    await store.record(event(at=NOW), ["s"])
    assert await store.claim_due("node", NOW - 1, LEASE, 10) == []
    assert keys(await store.claim_due("node", NOW, LEASE, 10)) == [("e1", "s")]


async def test_a_lease_hides_a_delivery_until_it_lapses(store: IEventStore) -> None:
    await store.record(event(), ["s"])
    await store.claim_due("node-1", NOW, LEASE, 10)

    assert await store.claim_due("node-2", NOW + LEASE - 1, LEASE, 10) == []
    again = await store.claim_due("node-2", NOW + LEASE + 1, LEASE, 10)

    assert keys(again) == [("e1", "s")]
    assert again[0].attempts == 2
    assert again[0].event == event()


async def test_complete_ends_the_claims(store: IEventStore) -> None:
    await store.record(event(), ["a", "b"])
    await store.claim_due("node", NOW, LEASE, 10)

    await store.complete("e1", "a", NOW + 1)
    await store.complete("e1", "a", NOW + 2)  # a no-op
    await store.complete("e1", "unknown", NOW + 2)  # a no-op too

    assert keys(await store.claim_due("node", NOW + 2 * LEASE, LEASE, 10)) == [("e1", "b")]
    completed = await store.deliveries(COMPLETED)
    assert keys(completed) == [("e1", "a")]
    assert completed[0].status is COMPLETED
    assert completed[0].event == event()
    assert keys(await store.deliveries(PENDING)) == [("e1", "b")]
    assert keys(await store.deliveries()) == [("e1", "a"), ("e1", "b")]


async def test_fail_with_a_retry_time_hides_it_until_then(store: IEventStore) -> None:
    await store.record(event(), ["s"])
    await store.claim_due("node", NOW, 1.0, 10)

    await store.fail("e1", "s", "ValueError: boom", NOW + 100)

    assert await store.claim_due("node", NOW + 99, 1.0, 10) == []  # the lease released, too
    [pending] = await store.deliveries(PENDING)
    assert (pending.error, pending.next_attempt_at, pending.attempts) == (
        "ValueError: boom",
        NOW + 100,
        1,
    )
    [retried] = await store.claim_due("node", NOW + 100, 1.0, 10)
    assert (retried.attempts, retried.error) == (2, "ValueError: boom")


async def test_fail_without_a_retry_makes_it_dead(store: IEventStore) -> None:
    await store.record(event(), ["a", "b"])
    await store.claim_due("node", NOW, LEASE, 10)

    await store.fail("e1", "a", "RuntimeError: gave up after 1 attempt", None)

    [dead] = await store.deliveries(DEAD)
    assert (dead.subscriber, dead.status, dead.attempts) == ("a", DEAD, 1)
    assert dead.error == "RuntimeError: gave up after 1 attempt"
    assert dead.event == event()
    assert keys(await store.claim_due("node", NOW + 10 * LEASE, LEASE, 10)) == [("e1", "b")]
    await store.fail("e1", "a", "late", NOW)  # only a pending delivery can fail
    assert (await store.deliveries(DEAD))[0].error == dead.error


async def test_a_late_failure_never_reopens_a_completed_delivery(store: IEventStore) -> None:
    await store.record(event(), ["s"])
    await store.claim_due("slow-node", NOW, 1.0, 10)
    await store.claim_due("other-node", NOW + 2, 1.0, 10)  # the first lease lapsed
    await store.complete("e1", "s", NOW + 3)

    await store.fail("e1", "s", "slow-node timed out", NOW + 4)

    assert keys(await store.deliveries(COMPLETED)) == [("e1", "s")]
    assert await store.claim_due("node", NOW + 100, 1.0, 10) == []


async def test_an_event_without_subscribers_stores_nothing(backend: Backend[IEventStore]) -> None:
    store = await backend.open()
    await store.record(event(), [])
    assert await store.deliveries() == []
    assert await store.claim_due("node", NOW, LEASE, 10) == []
    assert await event_count(backend) == 0


async def test_bad_input_is_refused_and_stores_nothing(backend: Backend[IEventStore]) -> None:
    store = await backend.open()
    with pytest.raises(TypeError, match=r"'therapy_session.scheduled' \(e1\) is not JSON.*set"):
        await store.record(event(data={"ids": {1, 2}}), ["s"])
    with pytest.raises(TypeError, match="not the string 'abc'"):
        await store.record(event(), "abc")
    with pytest.raises(TypeError, match="non-empty strings"):
        await store.record(event(), ["s", ""])
    with pytest.raises(ValueError, match="limit"):
        await store.claim_due("node", NOW, LEASE, -1)
    with pytest.raises(ValueError, match="lease_seconds"):
        await store.claim_due("node", NOW, 0, 10)
    with pytest.raises(ValueError, match="limit"):
        await store.deliveries(limit=-1)
    with pytest.raises(ValueError, match="limit"):
        await store.purge_completed(NOW, limit=-1)
    assert await store.deliveries() == []
    assert await event_count(backend) == 0


async def test_a_repeated_record_keeps_what_is_stored(store: IEventStore) -> None:
    await store.record(event(), ["a", "a"])  # duplicates collapse
    await store.claim_due("node", NOW, LEASE, 10)

    await store.record(event(data={"other": 1}), ["a", "b"])

    [held, added] = await store.deliveries()
    assert (held.subscriber, held.attempts, held.event.data) == ("a", 1, PAYLOAD)
    assert (added.subscriber, added.attempts, added.event.data) == ("b", 0, PAYLOAD)


async def test_oldest_first_and_limits(store: IEventStore) -> None:
    for event_id, at in (("e3", NOW + 3), ("e1", NOW + 1), ("e2", NOW + 2), ("e0", NOW)):
        await store.record(event(event_id, at=at), ["y", "x"])
    order = [(f"e{i}", s) for i in range(4) for s in ("x", "y")]

    assert keys(await store.deliveries()) == order
    assert keys(await store.deliveries(limit=3)) == order[:3]
    assert await store.claim_due("node", NOW + 5, LEASE, 0) == []
    assert keys(await store.claim_due("node", NOW + 5, LEASE, 3)) == order[:3]
    assert keys(await store.claim_due("node", NOW + 5, LEASE, 3)) == order[3:6]
    assert keys(await store.claim_due("node", NOW + 5, LEASE, 3)) == order[6:]


async def test_due_longest_comes_first(store: IEventStore) -> None:
    await store.record(event("e1", at=NOW), ["s"])
    await store.record(event("e2", at=NOW + 1), ["s"])
    await store.claim_due("node", NOW, 1.0, 1)
    await store.fail("e1", "s", "retry later", NOW + 50)  # e1 is due after e2 now

    assert keys(await store.claim_due("node", NOW + 60, LEASE, 10)) == [("e2", "s"), ("e1", "s")]


async def test_purge_completed(backend: Backend[IEventStore]) -> None:
    store = await backend.open()
    await store.record(event("e1", at=NOW), ["a", "b"])
    await store.record(event("e2", at=NOW + 1), ["a"])
    await store.record(event("e3", at=NOW + 2), ["a"])
    await store.claim_due("node", NOW + 2, LEASE, 10)
    await store.complete("e3", "a", NOW + 10)
    await store.complete("e1", "a", NOW + 11)
    await store.complete("e2", "a", NOW + 12)
    await store.fail("e1", "b", "gave up", None)

    assert await store.purge_completed(NOW + 12, limit=1) == 1  # the oldest finished: e3
    assert await event_count(backend) == 2
    assert await store.purge_completed(NOW + 12) == 1  # e1/a; e1 keeps its dead delivery
    assert await store.purge_completed(NOW + 12) == 0  # e2/a finished at NOW + 12, not before

    assert keys(await store.deliveries()) == [("e1", "b"), ("e2", "a")]
    assert (await store.deliveries(DEAD))[0].event == event("e1")
    assert await event_count(backend) == 2
    assert await store.purge_completed(NOW + 13) == 1
    assert await event_count(backend) == 1


# -- durability, several nodes, schema ---------------------------------------------------------


async def test_reopening_keeps_everything(durable: Backend[IEventStore]) -> None:
    first = await durable.open()
    await first.record(event("e1", at=NOW), ["done", "dead", "retry", "held"])
    await first.record(event("e2", at=NOW + 1), ["fresh"])
    await first.claim_due("node", NOW, LEASE, 4)
    await first.complete("e1", "done", NOW + 1)
    await first.fail("e1", "dead", "gave up", None)
    await first.fail("e1", "retry", "later", NOW + 100)
    before = await first.deliveries()
    await first.close()

    second = await durable.open()

    assert await second.deliveries() == before
    assert [d.status for d in before] == [DEAD, COMPLETED, PENDING, PENDING, PENDING]
    assert keys(await second.claim_due("node", NOW + 1, LEASE, 10)) == [("e2", "fresh")]
    # held: its lease (from the first store) lapses at NOW + 30; fresh: at NOW + 31.
    assert keys(await second.claim_due("node", NOW + 100, LEASE, 10)) == [
        ("e1", "held"),
        ("e2", "fresh"),
        ("e1", "retry"),
    ]


async def test_concurrent_claimers_never_share_a_delivery(durable: Backend[IEventStore]) -> None:
    nodes = [await durable.open(), await durable.open()]
    for i in range(50):
        await nodes[0].record(event(f"e{i:03}", at=NOW + i), ["a", "b", "c", "d"])

    async def drain(node: IEventStore, owner: str) -> list[tuple[str, str]]:
        taken: list[tuple[str, str]] = []
        while claimed := await node.claim_due(owner, NOW + 100, LEASE, 7):
            taken += keys(claimed)
            await asyncio.sleep(0.001)  # "handles" them: lets the other node in
        return taken

    claims = await asyncio.wait_for(
        asyncio.gather(
            *(drain(node, f"node-{n}-{i}") for n, node in enumerate(nodes) for i in (0, 1))
        ),
        timeout=60,
    )

    taken = [key for claim in claims for key in claim]
    assert len(taken) == 200
    assert len(set(taken)) == 200
    if durable.kind == "postgres":  # SQLite's busy wait may let one node take everything
        assert claims[0] or claims[1], "the first node claimed"
        assert claims[2] or claims[3], "the second node claimed"


async def test_a_newer_schema_is_refused(durable: Backend[IEventStore]) -> None:
    store = await durable.open()
    await store.close()
    if durable.kind == "sqlite":
        with closing(sqlite3.connect(durable.path)) as database, database:
            database.execute("INSERT INTO lockgate_event_schema VALUES (999)")
    else:
        connection = await asyncpg.connect(PG_DSN)
        try:
            await connection.execute(
                f'INSERT INTO "{durable.schema}".lockgate_event_schema VALUES (999)'
            )
        finally:
            await connection.close()

    with pytest.raises(RunStoreError, match=r"lockgate_event_schema.*999"):
        await durable.open()


async def test_lives_beside_the_run_store(tmp_path: Path, pg_schema_name: str) -> None:
    pairs: list[tuple[IRunStore, IEventStore]] = [
        (SQLiteRunStore(tmp_path / "x.sqlite3"), SQLiteEventStore(tmp_path / "x.sqlite3")),
        (
            PostgresRunStore(PG_DSN, schema=pg_schema_name),
            PostgresEventStore(PG_DSN, schema=pg_schema_name),
        ),
    ]
    for runs, events in pairs:
        await runs.open()
        await events.open()
        try:
            await events.record(event(), ["s"])
            assert keys(await events.claim_due("node", NOW, LEASE, 10)) == [("e1", "s")]
        finally:
            await events.close()
            await events.close()  # idempotent
            await runs.close()


async def test_closed_store_refuses(tmp_path: Path) -> None:
    for store in (SQLiteEventStore(tmp_path / "x.sqlite3"), PostgresEventStore(PG_DSN)):
        with pytest.raises(RunStoreError, match="not open"):
            await store.deliveries()


async def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "x.sqlite3")
    await store.open()
    await store.close()
    with closing(sqlite3.connect(tmp_path / "x.sqlite3")) as database:
        assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_open_failure_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(RunStoreError, match="cannot open the event store"):
        await SQLiteEventStore(tmp_path / "dir.sqlite3").open()


def test_postgres_schema_is_validated() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresEventStore(PG_DSN, schema='x"; DROP TABLE y; --')


async def test_postgres_errors_hide_the_password() -> None:
    store = PostgresEventStore("postgresql://u:hunter2@127.0.0.1:1/db")
    with pytest.raises(RunStoreError) as caught:
        await store.open()
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(store)
    assert "127.0.0.1:1" in str(caught.value)


# -- the publisher's transaction (record's connection) ----------------------------------------


async def test_only_postgres_joins_a_callers_connection(backend: Backend[IEventStore]) -> None:
    store = await backend.open()
    if backend.kind == "postgres":
        connection = await asyncpg.connect(PG_DSN)
        try:
            await store.record(event(), ["s"], connection=connection)  # no transaction: at once
        finally:
            await connection.close()
        assert keys(await store.deliveries()) == [("e1", "s")]
        return
    with pytest.raises(ValueError, match=r"only the PostgreSQL event store can join") as caught:
        await store.record(event(), ["s"], connection=object())
    assert type(store).__name__ in str(caught.value)
    assert "e1" in str(caught.value)
    assert await store.deliveries() == []
    assert await event_count(backend) == 0


@pytest.fixture
async def pg_store() -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(PG_DSN, schema=fresh_schema())
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        await drop_schema(store.schema)


async def test_postgres_records_inside_the_callers_transaction(
    pg_store: PostgresEventStore,
) -> None:
    # The caller's search_path is its own: the store's statements name their schema.
    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=2)
    try:
        async with pool.acquire() as connection:
            await connection.execute("SET search_path TO public")
            async with connection.transaction():
                await pg_store.record(event("kept"), ["a", "b"], connection=connection)
                assert await pg_store.deliveries() == []  # not committed: not seen
                assert await pg_store.claim_due("node", NOW, LEASE, 10) == []
            transaction = connection.transaction()
            await transaction.start()
            await pg_store.record(event("dropped"), ["a"], connection=connection)
            await transaction.rollback()
    finally:
        await pool.close()
    assert keys(await pg_store.claim_due("node", NOW, LEASE, 10)) == [("kept", "a"), ("kept", "b")]
    assert keys(await pg_store.deliveries()) == [("kept", "a"), ("kept", "b")]


async def test_postgres_refuses_unusable_connections(pg_store: PostgresEventStore) -> None:
    with pytest.raises(TypeError, match=r"connection=str.*asyncpg"):
        await pg_store.record(event(), ["s"], connection="postgresql://...")

    closed = await asyncpg.connect(PG_DSN)
    await closed.close()
    with pytest.raises(ValueError, match="closed or was released"):
        await pg_store.record(event(), ["s"], connection=closed)

    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=1)
    try:
        async with pool.acquire() as released:
            pass
        with pytest.raises(ValueError, match="closed or was released"):
            await pg_store.record(event(), ["s"], connection=released)

        async with pool.acquire() as connection:
            transaction = connection.transaction()
            await transaction.start()
            with pytest.raises(asyncpg.DivisionByZeroError):
                await connection.execute("SELECT 1 / 0")
            with pytest.raises(ValueError, match=r"has already failed.*roll it back"):
                await pg_store.record(event(), ["s"], connection=connection)
            await transaction.rollback()
    finally:
        await pool.close()
    assert await pg_store.deliveries() == []


async def test_postgres_refuses_a_connection_to_another_database(
    pg_store: PostgresEventStore,
) -> None:
    other_dsn = PG_DSN.rsplit("/", 1)[0] + "/postgres"
    connection = await asyncpg.connect(other_dsn)
    try:
        with pytest.raises(ValueError, match=r"database has no lockgate_test_\w+\.lockgate_events"):
            await pg_store.record(event(), ["s"], connection=connection)
        # The same schema there too (another environment's gateway): nothing is written.
        twin = PostgresEventStore(other_dsn, schema=pg_store.schema)
        await twin.open()
        try:
            with pytest.raises(ValueError, match=r"to database 'postgres', not to .* 'test'"):
                await pg_store.record(event(), ["s"], connection=connection)
            assert await twin.deliveries() == []
        finally:
            await twin.close()
            await connection.execute(f'DROP SCHEMA "{pg_store.schema}" CASCADE')
    finally:
        await connection.close()
    assert await pg_store.deliveries() == []
