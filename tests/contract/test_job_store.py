"""The ``IJobStore`` contract, one suite run against memory, SQLite and the real PostgreSQL
on this machine (a fresh schema per test, dropped afterwards; PostgreSQL down fails, not
skips). ``durable`` tests run on the two that keep data across a restart. Also
``JobRun``'s own checks on its parameters, which every store relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from lockgate.gateways.interfaces import IAsyncInvocationStore, IJobStore, IRunStore
from lockgate.gateways.stores.invocations.postgres import PostgresAsyncInvocationStore
from lockgate.gateways.stores.invocations.sqlite import SQLiteAsyncInvocationStore
from lockgate.gateways.stores.jobs.memory import InMemoryJobStore
from lockgate.gateways.stores.jobs.postgres import PostgresJobStore
from lockgate.gateways.stores.jobs.sqlite import SQLiteJobStore
from lockgate.gateways.stores.runs.postgres import PostgresRunStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore
from lockgate.models.job import JobRun, JobStatus
from tests.contract.backends import PG_DSN, Backend, Makers
from tests.contract.queue_stores import (
    postgres_hides_the_password,
    refuses_a_newer_schema,
    refuses_when_closed,
    sqlite_durability_setting,
    sqlite_open_failure,
)

NOW = 1_700_000_000.0
PARAMETERS = {"INPUT": "s3://bucket/key ✓", "empty": "", "quote": "'\"\\ \x00"}

Store = IJobStore
MAKERS: dict[str, Callable[[Path, str], Store]] = {
    "memory": lambda _path, _schema: InMemoryJobStore(),
    "sqlite": lambda path, _schema: SQLiteJobStore(path),
    "postgres": lambda _path, schema: PostgresJobStore(PG_DSN, schema=schema),
}


@pytest.fixture
def makers() -> Makers:
    return MAKERS


def run(
    run_id: str = "run-1",
    *,
    job: str = "report",
    at: float = NOW,
    status: JobStatus = JobStatus.QUEUED,
    parameters: dict[str, str] | None = None,
) -> JobRun:
    return JobRun(
        run_id=run_id,
        job=job,
        parameters=PARAMETERS if parameters is None else parameters,
        created_at=at,
        status=status,
    )


def ids(runs: list[JobRun]) -> list[str]:
    return [r.run_id for r in runs]


async def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, IJobStore)


async def test_save_then_get(store: Store) -> None:
    finished = JobRun(
        run_id="run-2",
        job="etl",
        parameters={},
        created_at=NOW + 0.25,
        external_id="d8b1a0e2-batch-job",
        status=JobStatus.ERROR,
        message="Essential container in task exited",
        exit_code=-9,
        finished_at=NOW + 60.5,
    )
    await store.save(run())
    await store.save(finished)

    assert await store.get("run-1") == run()
    assert await store.get("run-2") == finished
    assert await store.get("unknown") is None


async def test_the_runs_handed_out_cannot_be_changed(store: Store) -> None:
    await store.save(run())
    got = await store.get("run-1")
    [listed] = await store.list_runs()

    for seen in (got, listed):
        assert seen is not None
        assert isinstance(seen.parameters, MappingProxyType)
        with pytest.raises(TypeError):
            seen.parameters["INPUT"] = "changed"  # type: ignore[index]
        assert dict(seen.parameters) == PARAMETERS
        assert isinstance(seen.status, JobStatus)


async def test_save_replaces_by_run_id(store: Store) -> None:
    await store.save(run())
    submitted = replace(run(), external_id="4242", status=JobStatus.RUNNING, message="RUNNING")
    await store.save(submitted)
    assert await store.get("run-1") == submitted

    done = replace(
        submitted,
        parameters={"other": "x"},
        status=JobStatus.DONE,
        message="Essential container in task exited",
        exit_code=0,
        finished_at=NOW + 9,
    )
    await store.save(done)

    assert await store.get("run-1") == done
    assert await store.list_runs() == [done]
    await store.save(replace(done, status=JobStatus.ERROR, exit_code=None, finished_at=None))
    stored = await store.get("run-1")
    assert stored is not None
    assert (stored.status, stored.exit_code, stored.finished_at) == (JobStatus.ERROR, None, None)


async def test_list_newest_first_with_filters(store: Store) -> None:
    # Newest created first, not saved order; ties by run id (descending, too).
    await store.save(run("a", job="etl", at=NOW + 1, status=JobStatus.DONE))
    await store.save(run("d", job="report", at=NOW + 3, status=JobStatus.RUNNING))
    await store.save(run("b", job="report", at=NOW + 1))
    await store.save(run("c", job="etl", at=NOW + 2, status=JobStatus.ERROR))
    await store.save(run("e", job="etl", at=NOW, status=JobStatus.QUEUED))

    assert ids(await store.list_runs()) == ["d", "c", "b", "a", "e"]
    assert ids(await store.list_runs(limit=2)) == ["d", "c"]
    assert await store.list_runs(limit=0) == []
    assert ids(await store.list_runs(job="etl")) == ["c", "a", "e"]
    assert ids(await store.list_runs(unfinished=True)) == ["d", "b", "e"]
    assert ids(await store.list_runs(job="etl", unfinished=True)) == ["e"]
    assert ids(await store.list_runs(job="report", unfinished=True, limit=1)) == ["d"]
    assert await store.list_runs(job="unknown") == []


async def test_a_run_leaves_the_unfinished_list_when_it_finishes(store: Store) -> None:
    await store.save(run(status=JobStatus.RUNNING))
    assert ids(await store.list_runs(unfinished=True)) == ["run-1"]
    await store.save(run(status=JobStatus.DONE))
    assert await store.list_runs(unfinished=True) == []
    assert ids(await store.list_runs()) == ["run-1"]


@pytest.mark.parametrize("limit", [-1, 1.5, True, "3"])
async def test_limits_are_checked(store: Store, limit: object) -> None:
    bad: int = limit  # type: ignore[assignment]
    with pytest.raises(ValueError, match="limit must be a whole number"):
        await store.list_runs(limit=bad)


async def test_a_bad_status_is_refused_and_stores_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="'FINISHED' is not a valid JobStatus"):
        await store.save(run(status="FINISHED"))  # type: ignore[arg-type]
    assert await store.list_runs() == []


# -- JobRun's parameters ------------------------------------------------------------------


def test_job_run_freezes_its_parameters() -> None:
    given = {"A": "1"}
    frozen = run(parameters=given)
    given["A"] = "changed"
    given["B"] = "added"

    assert dict(frozen.parameters) == {"A": "1"}
    assert isinstance(frozen.parameters, MappingProxyType)
    assert replace(frozen, status=JobStatus.DONE).parameters == {"A": "1"}


@pytest.mark.parametrize(
    ("parameters", "named"),
    [({"A": 1}, "'A' is str, its value int"), ({2: "x"}, "2 is int, its value str")],
)
def test_job_run_refuses_parameters_that_are_not_strings(
    parameters: dict[object, object], named: str
) -> None:
    with pytest.raises(ValueError, match=f"job run 'run-1': parameters must map .*{named}"):
        run(parameters=parameters)  # type: ignore[arg-type]


# -- durability, several stores, schema ---------------------------------------------------


async def test_reopening_keeps_everything(durable: Backend[Store]) -> None:
    first = await durable.open()
    await first.save(run("a", at=NOW))
    await first.save(run("b", at=NOW + 1, status=JobStatus.RUNNING))
    await first.save(
        replace(run("c", at=NOW + 2), status=JobStatus.DONE, exit_code=0, finished_at=NOW + 3)
    )
    before = await first.list_runs()
    await first.close()

    second = await durable.open()

    assert await second.list_runs() == before
    assert ids(before) == ["c", "b", "a"]
    assert ids(await second.list_runs(unfinished=True)) == ["b", "a"]


async def test_two_stores_see_each_others_writes(durable: Backend[Store]) -> None:
    one, two = await durable.open(), await durable.open()
    await one.save(run())
    assert await two.get("run-1") == run()

    await two.save(run(status=JobStatus.RUNNING))
    stored = await one.get("run-1")
    assert stored is not None
    assert stored.status is JobStatus.RUNNING
    assert ids(await one.list_runs(unfinished=True)) == ["run-1"]


async def test_parameters_are_stored_as_json(durable: Backend[Store]) -> None:
    store = await durable.open()
    await store.save(run(parameters={"b": "2", "a": "é"}))
    stored = await durable.fetchval("SELECT parameters FROM {t}lockgate_job_runs")
    assert bytes(stored).decode() == '{"b":"2","a":"é"}'


async def test_a_newer_schema_is_refused(durable: Backend[Store]) -> None:
    await refuses_a_newer_schema(durable, "lockgate_job_schema")


async def test_lives_beside_the_run_and_async_invocation_stores(
    tmp_path: Path, pg_schema_name: str
) -> None:
    path = tmp_path / "x.sqlite3"
    groups: list[tuple[IRunStore, IAsyncInvocationStore, Store]] = [
        (SQLiteRunStore(path), SQLiteAsyncInvocationStore(path), SQLiteJobStore(path)),
        (
            PostgresRunStore(PG_DSN, schema=pg_schema_name),
            PostgresAsyncInvocationStore(PG_DSN, schema=pg_schema_name),
            PostgresJobStore(PG_DSN, schema=pg_schema_name),
        ),
    ]
    for runs, invocations, jobs in groups:
        await runs.open()
        await invocations.open()
        await jobs.open()
        try:
            await jobs.save(run())
            assert ids(await jobs.list_runs()) == ["run-1"]
            assert await invocations.list_invocations() == []
        finally:
            await jobs.close()
            await jobs.close()  # idempotent
            await invocations.close()
            await runs.close()


async def test_closed_store_refuses(tmp_path: Path, pg_schema_name: str) -> None:
    stores: list[Store] = [
        SQLiteJobStore(tmp_path / "x.sqlite3"),
        PostgresJobStore(PG_DSN, schema=pg_schema_name),
    ]
    for candidate in stores:
        await refuses_when_closed(
            candidate, "job store", lambda s: s.list_runs(), lambda s: s.save(run())
        )


async def test_sqlite_durability_setting(tmp_path: Path) -> None:
    await sqlite_durability_setting(SQLiteJobStore, tmp_path / "x.sqlite3")


async def test_sqlite_open_failure_is_a_store_error(tmp_path: Path) -> None:
    await sqlite_open_failure(SQLiteJobStore, tmp_path, "the job store")


def test_postgres_schema_is_validated() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresJobStore(PG_DSN, schema='x"; DROP TABLE y; --')


async def test_postgres_errors_hide_the_password() -> None:
    await postgres_hides_the_password(PostgresJobStore)
