"""The ``IRunStore`` contract, one suite run against every implementation.

``backend`` runs a test on memory, SQLite and PostgreSQL; ``durable`` on the two that keep
data across a restart (fixtures of ``conftest.py``, made from ``makers`` below); the last
tests are PostgreSQL's own (several nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lockgate import json_codec
from lockgate.errors import RunStoreError
from lockgate.gateways.interfaces import IRunStore, StepWrite
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.gateways.stores.runs.postgres import PostgresRunStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore
from lockgate.models.ids import new_run_id
from lockgate.models.run import RunRecord, RunStatus, StepRecord, StepStatus
from tests.contract.backends import PG_DSN, Backend, Makers
from tests.tcp_proxy import TcpProxy

NOW = 1_700_000_000.0
LEASE = 30.0
PAYLOAD: dict[str, Any] = {
    "text": 'héllo ✓ \x00 "quoted" \\',
    "int": 2**62,
    "negative": -7,
    "float": 0.1,
    "tiny": 1e-300,
    "flags": [True, False, None],
    "nested": {"list": [1, [2, [3, {"deep": "yes"}]]], "empty": {}, "none": None},
}


@pytest.fixture
def makers() -> Makers:
    return {
        "memory": lambda _path, _schema: InMemoryRunStore(),
        "sqlite": lambda path, _schema: SQLiteRunStore(path),
        "postgres": lambda _path, schema: PostgresRunStore(PG_DSN, schema=schema),
    }


async def disown(backend: Backend[IRunStore], run_id: str) -> None:
    """Leave the run without an owner, as if its node had let go of it."""
    store = backend.stores[0]
    if isinstance(store, InMemoryRunStore):
        store._leases[run_id] = (None, 0.0)
    else:
        await backend.execute("UPDATE {t}lockgate_runs SET owner = NULL WHERE run_id = $1", run_id)


def make_run(workflow_id: str = "wf", *, key: str | None = None, at: float = NOW) -> RunRecord:
    return RunRecord(
        run_id=new_run_id(),
        workflow_id=workflow_id,
        status=RunStatus.RUNNING,
        parameters=PAYLOAD,
        resources={"db": "@main", "cache": {"url": "redis://cache"}},
        context={"user": "ü", "n": 1},
        idempotency_key=key,
        request_hash="h-" + workflow_id,
        created_at=at,
        updated_at=at,
        deadline=at + 60,
    )


def step(name: str, output: Any = None, *, attempts: int = 1) -> StepWrite:
    record = StepRecord(
        name,
        StepStatus.COMPLETED,
        attempts=attempts,
        started_at=NOW + 1,
        finished_at=NOW + 1.5,
    )
    return record, json_codec.dumps(output)


def failed(name: str, error: str) -> StepWrite:
    return StepRecord(name, StepStatus.FAILED, error=error, attempts=3, started_at=NOW), None


async def create(store: IRunStore, run: RunRecord, owner: str = "node-a") -> RunRecord:
    return await store.create_run(run, owner=owner, lease_seconds=LEASE)


# -- create, get, idempotency -------------------------------------------------------------------


async def test_create_and_get_round_trip(store: IRunStore) -> None:
    run = make_run()
    assert await create(store, run) == run
    await store.save_step(run.run_id, step("a", PAYLOAD))
    await store.save_step(run.run_id, failed("b", "boom"))

    stored = await store.get_run(run.run_id)

    assert stored is not None
    assert stored.parameters == PAYLOAD
    # Byte-identical JSON: no int became a float, no key moved.
    assert json_codec.dumps(stored.parameters) == json_codec.dumps(PAYLOAD)
    assert stored.resources == run.resources
    assert stored.context == run.context
    assert (stored.deadline, stored.request_hash) == (run.deadline, run.request_hash)
    assert stored.steps["a"].output == PAYLOAD
    assert stored.steps["a"] == StepRecord(
        "a", StepStatus.COMPLETED, PAYLOAD, None, 1, NOW + 1, NOW + 1.5
    )
    assert stored.steps["b"] == StepRecord("b", StepStatus.FAILED, None, "boom", 3, NOW, None)
    assert stored == replace(run, steps=stored.steps)
    assert await store.get_run(new_run_id()) is None


async def test_same_idempotency_key_returns_the_earlier_run(store: IRunStore) -> None:
    first = make_run(key="order-1")
    await create(store, first)
    await store.save_step(first.run_id, step("a", {"n": 1}))

    again = await create(store, make_run(key="order-1"))
    other = await create(store, make_run(key="order-2"))

    assert again.run_id == first.run_id
    assert again.steps["a"].output == {"n": 1}
    assert other.idempotency_key == "order-2"
    assert other.run_id != first.run_id
    assert await store.get_run(other.run_id) is not None
    page = await store.list_runs()
    assert {run.run_id for run in page.runs} == {first.run_id, other.run_id}


async def test_create_without_waiting_is_durable_by_the_next_write(
    backend: Backend[IRunStore],
) -> None:
    store = await backend.open()
    run = make_run()
    await store.create_run(run, owner="node-a", lease_seconds=LEASE, wait=False)
    await store.save_step(run.run_id, step("a", [1, 2]))

    reader = await backend.open()  # a second store on the same file or schema
    stored = await reader.get_run(run.run_id)

    assert stored is not None
    assert stored.steps["a"].output == [1, 2]
    with pytest.raises(ValueError, match="idempotency key"):
        await store.create_run(make_run(key="k"), owner="node-a", lease_seconds=LEASE, wait=False)


async def test_a_run_created_without_waiting_is_flushed_on_its_own(
    backend: Backend[IRunStore],
) -> None:
    store = await backend.open()
    run = make_run()
    await store.create_run(run, owner="node-a", lease_seconds=LEASE, wait=False)
    reader = await backend.open()
    for _ in range(200):
        if await reader.get_run(run.run_id) is not None:
            break
        await asyncio.sleep(0.005)
    assert await reader.get_run(run.run_id) is not None


async def test_saving_a_step_twice_keeps_the_latest(store: IRunStore) -> None:
    run = await create(store, make_run())
    await store.save_step(run.run_id, failed("a", "first try"))
    await store.save_step(run.run_id, step("a", "second", attempts=2))

    stored = await store.get_run(run.run_id)

    assert stored is not None
    assert stored.steps["a"].status is StepStatus.COMPLETED
    assert (stored.steps["a"].output, stored.steps["a"].attempts) == ("second", 2)
    assert stored.steps["a"].error is None


# -- finish_run --------------------------------------------------------------------------------


async def test_finish_run_writes_status_and_steps_once(store: IRunStore) -> None:
    run = await create(store, make_run())
    await store.save_step(run.run_id, step("a", 1))

    assert await store.finish_run(
        run.run_id, RunStatus.FAILED, "b failed", [failed("b", "x")], NOW + 5
    )
    assert not await store.finish_run(
        run.run_id, RunStatus.COMPLETED, None, [step("c", 3), step("a", "overwritten")], NOW + 9
    )

    stored = await store.get_run(run.run_id)
    assert stored is not None
    assert (stored.status, stored.error, stored.updated_at) == (
        RunStatus.FAILED,
        "b failed",
        NOW + 5,
    )
    assert set(stored.steps) == {"a", "b"}
    assert stored.steps["a"].output == 1
    assert stored.steps["b"].error == "x"


async def test_finish_run_is_atomic(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    run = await create(store, make_run())
    # Too big for an integer column: the step write fails after the status update.
    poisoned = (StepRecord("b", StepStatus.FAILED, attempts=2**70), None)

    with pytest.raises(RunStoreError):
        await store.finish_run(run.run_id, RunStatus.FAILED, "x", [step("a", 1), poisoned], NOW)

    stored = await store.get_run(run.run_id)
    assert stored is not None
    assert (stored.status, stored.steps) == (RunStatus.RUNNING, {})
    assert await store.finish_run(run.run_id, RunStatus.COMPLETED, None, [step("a", 1)], NOW)


async def test_one_bad_write_fails_alone(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    run = await create(store, make_run())
    bad = (StepRecord("bad", StepStatus.COMPLETED, attempts=2**70), None)
    names = [f"s{i}" for i in range(20)]

    outcomes = await asyncio.gather(
        *(store.save_step(run.run_id, step(name, name)) for name in names[:10]),
        store.save_step(run.run_id, bad),
        *(store.save_step(run.run_id, step(name, name)) for name in names[10:]),
        return_exceptions=True,
    )

    assert [type(outcome) for outcome in outcomes].count(RunStoreError) == 1
    assert isinstance(outcomes[10], RunStoreError)
    stored = await store.get_run(run.run_id)
    assert stored is not None
    assert sorted(stored.steps) == sorted(names)


# -- list_runs ---------------------------------------------------------------------------------


async def test_list_runs_newest_first_with_filters(store: IRunStore) -> None:
    runs = [await create(store, make_run("wf-a" if i % 2 else "wf-b")) for i in range(7)]
    for run in runs[:3]:
        await store.finish_run(run.run_id, RunStatus.COMPLETED, None, [step("a", 1)], NOW)
    newest_first = [run.run_id for run in reversed(runs)]

    everything = await store.list_runs()
    only_a = await store.list_runs(workflow_id="wf-a")
    done = await store.list_runs(status=RunStatus.COMPLETED)
    done_a = await store.list_runs(workflow_id="wf-a", status=RunStatus.COMPLETED)

    assert [run.run_id for run in everything.runs] == newest_first
    assert everything.next_cursor is None
    assert all(run.steps == {} for run in everything.runs)
    assert everything.runs[-1].parameters == PAYLOAD
    assert [run.run_id for run in only_a.runs] == [r for r in newest_first if r in _ids(runs, 1)]
    assert [run.run_id for run in done.runs] == [run.run_id for run in reversed(runs[:3])]
    assert [run.run_id for run in done_a.runs] == [runs[1].run_id]
    assert (await store.list_runs(workflow_id="nope")).runs == ()


async def test_runs_keep_who_started_them_and_list_by_it(backend: Backend[IRunStore]) -> None:
    store = await backend.open()
    ann = [await create(store, replace(make_run(), principal="ann")) for _ in range(3)]
    bob = await create(store, replace(make_run(), principal="bob"))
    nobody = await create(store, make_run())  # started inside the gateway
    started = [*ann, bob, nobody]
    await store.finish_run(ann[0].run_id, RunStatus.COMPLETED, None, [step("a", 1)], NOW)

    ann_page = await store.list_runs(principal="ann", limit=2)
    ann_rest = await store.list_runs(principal="ann", cursor=ann_page.next_cursor)
    reopened = await backend.open()

    assert [r.run_id for r in ann_page.runs + ann_rest.runs] == [r.run_id for r in ann[::-1]]
    assert [r.run_id for r in (await store.list_runs(principal="bob")).runs] == [bob.run_id]
    assert (await store.list_runs(principal="carl")).runs == ()
    for run in started:
        stored = await reopened.get_run(run.run_id)
        assert stored is not None
        assert stored.principal == run.principal
    done = await store.list_runs(principal="ann", status=RunStatus.COMPLETED)
    assert [r.run_id for r in done.runs] == [ann[0].run_id]


async def test_a_database_from_before_principals_is_upgraded(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    old = await create(store, make_run())
    await store.close()
    # Back to version 1's layout, as a gateway of the previous release left it.
    await durable.execute("DROP INDEX {t}lockgate_runs_by_principal")
    await durable.execute("ALTER TABLE {t}lockgate_runs DROP COLUMN principal")
    await durable.execute("DELETE FROM {t}lockgate_schema WHERE version = 2")

    upgraded = await durable.open()
    new = await create(upgraded, replace(make_run(), principal="ann"))

    assert (await upgraded.get_run(old.run_id)) == old
    assert [r.run_id for r in (await upgraded.list_runs(principal="ann")).runs] == [new.run_id]


def _ids(runs: list[RunRecord], parity: int) -> set[str]:
    return {run.run_id for i, run in enumerate(runs) if i % 2 == parity}


@pytest.mark.parametrize("filtered", [False, True])
async def test_list_runs_pages_until_none(store: IRunStore, filtered: bool) -> None:
    runs = [await create(store, make_run("wf-a" if i % 3 else "wf-b")) for i in range(23)]
    expected = [r.run_id for r in reversed(runs) if not filtered or r.workflow_id == "wf-a"]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.list_runs(
            workflow_id="wf-a" if filtered else None, limit=4, cursor=cursor
        )
        assert len(page.runs) <= 4
        seen += [run.run_id for run in page.runs]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == expected  # newest first, no duplicates, no omissions
    assert pages == -(-len(expected) // 4)


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "ABC", "1 OR 1=1", "g" * 3])
async def test_list_runs_refuses_a_bad_cursor(store: IRunStore, cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await store.list_runs(cursor=cursor)


# -- claim_runs and renew_leases --------------------------------------------------------------


async def test_claim_takes_own_ownerless_and_expired_runs(backend: Backend[IRunStore]) -> None:
    store = await backend.open()
    own = await store.create_run(make_run(at=NOW), owner="a", lease_seconds=LEASE)
    ownerless = await store.create_run(make_run(at=NOW + 1), owner="gone", lease_seconds=1e6)
    await disown(backend, ownerless.run_id)
    expired = await store.create_run(make_run(at=NOW + 2), owner="b", lease_seconds=5)
    live = await store.create_run(make_run(at=NOW + 3), owner="b", lease_seconds=1000)
    finished = await store.create_run(make_run(at=NOW + 4), owner="a", lease_seconds=5)
    await store.save_step(expired.run_id, step("s1", {"k": "v"}))
    await store.finish_run(finished.run_id, RunStatus.COMPLETED, None, (), NOW + 4)

    claimed = await store.claim_runs("a", LEASE, NOW + 10)

    assert [run.run_id for run in claimed] == [own.run_id, ownerless.run_id, expired.run_id]
    assert claimed[2].steps["s1"].output == {"k": "v"}
    assert claimed[0].parameters == PAYLOAD
    # Now a holds them until NOW + 40: b (restarting) gets only its live run back.
    assert [run.run_id for run in await store.claim_runs("b", LEASE, NOW + 11)] == [live.run_id]
    assert await store.claim_runs("c", LEASE, NOW + 20) == []
    # Past a's leases, c takes a's runs; b's claim at NOW + 11 runs to NOW + 41.
    later = await store.claim_runs("c", LEASE, NOW + 40.5)
    assert [run.run_id for run in later] == [own.run_id, ownerless.run_id, expired.run_id]


async def test_renew_extends_only_the_owners_leases(store: IRunStore) -> None:
    mine = await store.create_run(make_run(at=NOW), owner="a", lease_seconds=10)
    theirs = await store.create_run(make_run(at=NOW + 1), owner="b", lease_seconds=10)
    done = await store.create_run(make_run(at=NOW + 2), owner="a", lease_seconds=10)
    await store.finish_run(done.run_id, RunStatus.CANCELLED, "stop", (), NOW + 2)

    await store.renew_leases("a", 100, NOW + 5)

    claimed = await store.claim_runs("c", LEASE, NOW + 50)
    assert [run.run_id for run in claimed] == [theirs.run_id]
    again = await store.claim_runs("c", LEASE, NOW + 106)
    assert [run.run_id for run in again] == [mine.run_id, theirs.run_id]


# -- group commit, restarts, schema versions ---------------------------------------------------


async def test_concurrent_writers_all_land(backend: Backend[IRunStore]) -> None:
    store = await backend.open()
    runs = [make_run(f"wf-{i % 5}") for i in range(200)]

    async def work(run: RunRecord, wait: bool) -> None:
        await store.create_run(run, owner="a", lease_seconds=LEASE, wait=wait)
        for name in ("a", "b", "c"):
            await store.save_step(run.run_id, step(name, {"run": run.run_id, "step": name}))
        await store.finish_run(run.run_id, RunStatus.COMPLETED, None, [step("d", 4)], NOW)

    await asyncio.gather(*(work(run, i % 2 == 0) for i, run in enumerate(runs)))

    reader = await backend.open()
    for run in runs:
        stored = await reader.get_run(run.run_id)
        assert stored is not None
        assert stored.status is RunStatus.COMPLETED
        assert {name: s.output for name, s in stored.steps.items()} == {
            **{name: {"run": run.run_id, "step": name} for name in ("a", "b", "c")},
            "d": 4,
        }
    listed = await reader.list_runs(limit=500)
    assert [run.run_id for run in listed.runs] == sorted((r.run_id for r in runs), reverse=True)


async def test_a_reopened_store_sees_everything(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    first = await create(store, make_run(key="k1"))
    second = make_run()
    await store.create_run(second, owner="a", lease_seconds=LEASE, wait=False)
    await store.save_step(first.run_id, step("a", PAYLOAD))
    await store.finish_run(first.run_id, RunStatus.COMPLETED, None, [step("b", [1])], NOW + 3)
    before = (await store.get_run(first.run_id), await store.list_runs())
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(RunStoreError):
        await store.save_step(first.run_id, step("c"))

    reopened = await durable.open()

    assert (await reopened.get_run(first.run_id), await reopened.list_runs()) == before
    assert [run.run_id for run in before[1].runs] == [second.run_id, first.run_id]
    assert (await create(reopened, make_run(key="k1"))).run_id == first.run_id
    assert [run.run_id for run in await reopened.claim_runs("a", LEASE, NOW)] == [second.run_id]


async def test_close_commits_a_run_created_without_waiting(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    run = make_run()
    await store.create_run(run, owner="a", lease_seconds=LEASE, wait=False)
    await store.close()  # before the deferred commit would have happened on its own

    reopened = await durable.open()

    assert await reopened.get_run(run.run_id) is not None


async def test_purge_deletes_only_runs_finished_before_the_cutoff(store: IRunStore) -> None:
    old = await create(store, make_run(key="old"))
    await store.save_step(old.run_id, step("a", [1]))
    await store.finish_run(old.run_id, RunStatus.COMPLETED, None, [step("b")], NOW + 1)
    recent = await create(store, make_run())
    await store.finish_run(recent.run_id, RunStatus.FAILED, "boom", [], NOW + 100)
    running = await create(store, make_run())

    assert await store.purge_runs(NOW + 50, limit=10) == 1

    assert await store.get_run(old.run_id) is None
    assert await store.get_run(recent.run_id) is not None
    assert await store.get_run(running.run_id) is not None
    assert await store.purge_runs(NOW + 50) == 0
    reused = await create(store, make_run(key="old"))  # the key is free again
    assert reused.run_id != old.run_id
    assert await store.purge_runs(NOW + 1000, limit=1) == 1  # the limit holds
    assert await store.purge_runs(NOW + 1000) == 0  # running runs are never purged


async def test_a_newer_schema_is_refused(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    await store.close()
    await durable.execute("INSERT INTO {t}lockgate_schema VALUES (999)")

    with pytest.raises(RunStoreError, match="999"):
        await durable.open()


# -- PostgreSQL: several nodes on one database -------------------------------------------------


async def test_concurrent_claimers_never_share_a_run(pg_schema_name: str) -> None:
    nodes = [PostgresRunStore(PG_DSN, schema=pg_schema_name) for _ in range(3)]
    await asyncio.gather(*(node.open() for node in nodes))  # they migrate one at a time
    try:
        for round_ in range(5):
            runs = [make_run(at=NOW) for _ in range(60)]
            for run in runs:
                await nodes[0].create_run(run, owner="dead", lease_seconds=1, wait=False)
            await nodes[0].renew_leases("dead", 1, NOW)  # flushes the creates
            now = NOW + 10 + round_
            claims = await asyncio.gather(
                *(node.claim_runs(f"node-{i}-{round_}", LEASE, now) for i, node in enumerate(nodes))
            )
            taken = [run.run_id for claim in claims for run in claim]
            assert len(taken) == len(set(taken))
            assert set(taken) == {run.run_id for run in runs}
    finally:
        for node in nodes:
            await node.close()


async def test_postgres_errors_hide_the_password() -> None:
    store = PostgresRunStore("postgresql://postgres:hunter2@127.0.0.1:1/test", schema="x")

    with pytest.raises(RunStoreError) as caught:
        await store.open()

    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(store)
    assert "127.0.0.1:1" in str(caught.value)


@pytest.mark.parametrize("schema", ["", "1abc", "a-b", 'x"; DROP TABLE t; --', "a" * 64])
def test_postgres_schema_must_be_an_identifier(schema: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresRunStore(PG_DSN, schema=schema)


async def test_postgres_schema_version_is_recorded(pg_schema_name: str) -> None:
    store = PostgresRunStore(PG_DSN, schema=pg_schema_name)
    await store.open()
    await store.close()
    await store.open()  # a second open applies nothing twice
    await store.close()
    connection = await asyncpg.connect(PG_DSN)
    try:
        versions = await connection.fetch(
            f'SELECT version FROM "{pg_schema_name}".lockgate_schema ORDER BY version'
        )
    finally:
        await connection.close()
    assert [row[0] for row in versions] == [1, 2]


async def test_postgres_writer_replaces_a_lost_connection(pg_schema_name: str) -> None:
    store = PostgresRunStore(PG_DSN, schema=pg_schema_name)
    await store.open()
    try:
        run = await create(store, make_run())
        assert store._connection is not None
        writer_pid = store._connection.get_server_pid()
        admin = await asyncpg.connect(PG_DSN)
        try:  # an administrator (or a failover) ends the writer's session
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", writer_pid)
        finally:
            await admin.close()
        # The write in flight when the session ended may fail (and says so); the next lands.
        with contextlib.suppress(RunStoreError):
            await store.save_step(run.run_id, step("a", 1))
        await store.save_step(run.run_id, step("b", 2))

        stored = await store.get_run(run.run_id)
        assert stored is not None
        assert stored.steps["b"].output == 2
    finally:
        await store.close()


async def test_ping_answers_while_the_store_is_open(store: IRunStore) -> None:
    await store.ping()
    await create(store, make_run())
    await store.ping()


async def test_ping_fails_on_a_closed_store(durable: Backend[IRunStore]) -> None:
    store = await durable.open()
    await store.close()
    with pytest.raises(RunStoreError, match="not open"):
        await store.ping()


async def test_postgres_ping_fails_while_the_database_is_unreachable(pg_schema_name: str) -> None:
    proxy = TcpProxy(5432)
    await proxy.start()
    dsn = f"postgresql://postgres:hunter2@127.0.0.1:{proxy.port}/test"
    store = PostgresRunStore(dsn, schema=pg_schema_name)
    try:
        await store.open()
        await store.ping()
        await proxy.cut()
        for _ in range(2):  # the lost connection, then the refused reconnect
            with pytest.raises(RunStoreError) as caught:
                await store.ping()
            assert "hunter2" not in str(caught.value)
        await proxy.start()
        await store.ping()  # the writer reconnected: reachable again
    finally:
        await store.close()
        await proxy.cut()


async def test_sqlite_store_that_cannot_be_created_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SQLiteRunStore(blocker / "runs.sqlite3")
    with pytest.raises(RunStoreError, match=r"cannot open the run store .*file/runs\.sqlite3"):
        await store.open()


async def test_concurrent_finishes_of_one_run_let_exactly_one_win(store: IRunStore) -> None:
    run = await create(store, make_run())
    results = await asyncio.gather(
        *[
            store.finish_run(run.run_id, RunStatus.COMPLETED, None, [step(f"s{i}")], NOW + i)
            for i in range(10)
        ]
    )
    assert results.count(True) == 1
    stored = await store.get_run(run.run_id)
    assert stored is not None
    assert list(stored.steps) == [f"s{results.index(True)}"]


async def test_many_runs_finishing_at_once_all_land_with_their_steps(store: IRunStore) -> None:
    runs = [make_run() for _ in range(200)]
    await asyncio.gather(
        *[store.create_run(run, owner="a", lease_seconds=LEASE, wait=False) for run in runs]
    )
    finished = await asyncio.gather(
        *[
            store.finish_run(
                run.run_id,
                RunStatus.FAILED if index % 3 else RunStatus.COMPLETED,
                "boom" if index % 3 else None,
                [step("a", index), step("b", [index])],
                NOW + 1,
            )
            for index, run in enumerate(runs)
        ]
    )
    assert all(finished)
    for index, run in enumerate(runs):
        stored = await store.get_run(run.run_id)
        assert stored is not None
        assert stored.status is (RunStatus.FAILED if index % 3 else RunStatus.COMPLETED)
        assert stored.steps["a"].output == index
        assert stored.steps["b"].output == [index]


async def test_a_claim_without_own_leaves_the_claimers_runs_alone(
    backend: Backend[IRunStore],
) -> None:
    store = await backend.open()
    mine = await create(store, make_run(), owner="node-a")
    theirs_expired = await create(store, make_run(), owner="node-b")
    theirs_live = make_run(at=NOW + 100)
    await store.create_run(theirs_live, owner="node-b", lease_seconds=LEASE)

    claimed = await store.claim_runs("node-a", LEASE, NOW + LEASE + 1, own=False)

    assert [run.run_id for run in claimed] == [theirs_expired.run_id]
    again = await store.claim_runs("node-a", LEASE, NOW + LEASE + 2)
    assert {run.run_id for run in again} == {mine.run_id, theirs_expired.run_id}


async def test_renew_returns_the_runs_still_held(store: IRunStore) -> None:
    held = await create(store, make_run(), owner="a")
    finished = await create(store, make_run(), owner="a")
    await store.finish_run(finished.run_id, RunStatus.CANCELLED, "by b", (), NOW + 1)
    await create(store, make_run(), owner="b")

    assert await store.renew_leases("a", LEASE, NOW + 2) == [held.run_id]
