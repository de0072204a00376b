"""``JobService`` with real local processes over the durable job stores (a SQLite file, the
PostgreSQL on this machine in a fresh schema): the refresher follows runs on its own, a
restarted gateway reports the runs it lost, parameters and declared variables reach the
process, and the runner's timeout ends a run ERROR.

PostgreSQL being down fails the PostgreSQL cases, never skips them."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lockgate.gateways.interfaces import IJobStore
from lockgate.gateways.job_runners.local_process import LocalProcessJobRunner
from lockgate.gateways.stores.jobs.postgres import PostgresJobStore
from lockgate.gateways.stores.jobs.sqlite import SQLiteJobStore
from lockgate.models.job import JobDefinition, JobRun, JobStatus
from lockgate.use_cases.jobs.service import JobService
from tests.contract.backends import PG_DSN, drop_schema, fresh_schema

PY = sys.executable
GUARD = 30.0  # bounds a wait for another process; not a timing claim
WRITE_ENV = (
    "import json, os, sys; "
    "json.dump({k: v for k, v in os.environ.items() if k.startswith(('LOCKGATE_', 'MODE'))}, "
    "open(sys.argv[1], 'w'))"
)


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], IJobStore]]:
    """Makes stores on one set of data: a file, or a fresh schema dropped afterwards."""
    if request.param == "sqlite":
        path = tmp_path / "jobs.sqlite3"
        yield lambda: SQLiteJobStore(path)
        return
    schema = fresh_schema()
    try:
        yield lambda: PostgresJobStore(PG_DSN, schema=schema)
    finally:
        await drop_schema(schema)


@pytest.fixture
async def runner() -> AsyncIterator[LocalProcessJobRunner]:
    real = LocalProcessJobRunner(kill_grace=5.0)
    yield real
    await real.close()


def definitions(tmp_path: Path) -> dict[str, JobDefinition]:
    jobs = (
        JobDefinition(name="ok", command=(PY, "-c", "pass")),
        JobDefinition(name="sleeps", command=(PY, "-c", "import time; time.sleep(600)")),
        JobDefinition(
            name="slow",
            command=(PY, "-c", "import time; time.sleep(600)"),
            timeout_seconds=0.2,
        ),
        JobDefinition(
            name="env",
            command=(PY, "-c", WRITE_ENV, str(tmp_path / "env.json")),
            environment={"MODE": "nightly"},
            code_dir=tmp_path,
        ),
    )
    return {job.name: job for job in jobs}


async def listed_until(service: JobService, done: Callable[[list[JobRun]], bool]) -> list[JobRun]:
    """``list_runs`` (which asks no runner) until ``done``: only the refresher changes runs."""
    async with asyncio.timeout(GUARD):
        while not done(runs := await service.list_runs()):  # noqa: ASYNC110 - others' state
            await asyncio.sleep(0.02)
    return runs


async def test_the_refresher_follows_runs_to_their_end_on_its_own(
    stores: Callable[[], IJobStore], runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    service = JobService(stores(), {"local": runner}, definitions(tmp_path), poll_interval=0.02)
    await service.start()
    try:
        quick = await service.submit("ok", {})
        sleeping = await service.submit("sleeps", {})

        runs = await listed_until(service, lambda runs: runs[-1].status.finished)

        assert [(r.run_id, r.status, r.exit_code) for r in runs] == [
            (sleeping.run_id, JobStatus.RUNNING, None),
            (quick.run_id, JobStatus.DONE, 0),
        ]
    finally:
        await service.stop()


async def test_runs_a_restarted_gateway_lost_become_error_and_finished_ones_stay(
    stores: Callable[[], IJobStore], tmp_path: Path
) -> None:
    jobs = definitions(tmp_path)
    first_runner = LocalProcessJobRunner()
    first = JobService(stores(), {"local": first_runner}, jobs)
    await first.start()
    done = await first.submit("ok", {})
    async with asyncio.timeout(GUARD):
        while not (await first.get(done.run_id)).status.finished:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    lost = await first.submit("sleeps", {"day": "monday"})
    # The lead's order on shutdown: the service, then the runners (which kill the process).
    await first.stop()
    await first_runner.close()

    second_runner = LocalProcessJobRunner()
    second = JobService(stores(), {"local": second_runner}, jobs, poll_interval=0.02)
    await second.start()
    try:
        runs = await listed_until(service=second, done=lambda runs: runs[0].status.finished)

        after = {run.run_id: run for run in runs}
        assert after[lost.run_id].status is JobStatus.ERROR
        assert "was not started by this gateway process" in after[lost.run_id].message
        assert dict(after[lost.run_id].parameters) == {"day": "monday"}
        assert after[done.run_id].status is JobStatus.DONE
        assert await second.list_runs(unfinished=True) == []
    finally:
        await second.stop()
        await second_runner.close()


async def test_parameters_and_declared_variables_reach_the_process(
    stores: Callable[[], IJobStore], runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    service = JobService(stores(), {"local": runner}, definitions(tmp_path), poll_interval=0.02)
    await service.start()
    try:
        run = await service.submit("env", {"day": "2024-01-15", "note": "a b ✓"})
        await listed_until(service, lambda runs: runs[0].status.finished)
        finished = await service.get(run.run_id)
    finally:
        await service.stop()

    assert finished.status is JobStatus.DONE
    seen = json.loads((tmp_path / "env.json").read_text())
    assert seen["MODE"] == "nightly"
    assert seen["LOCKGATE_JOB_NAME"] == "env"
    assert seen["LOCKGATE_JOB_RUN_ID"] == run.run_id
    assert seen["LOCKGATE_JOB_PARAM_day"] == "2024-01-15"
    assert json.loads(seen["LOCKGATE_JOB_PARAMETERS"]) == {"day": "2024-01-15", "note": "a b ✓"}


async def test_a_run_past_its_timeout_ends_error_saying_so(
    stores: Callable[[], IJobStore], runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    service = JobService(stores(), {"local": runner}, definitions(tmp_path), poll_interval=0.02)
    await service.start()
    try:
        await service.submit("slow", {})
        [run] = await listed_until(service, lambda runs: runs[0].status.finished)
    finally:
        await service.stop()

    assert run.status is JobStatus.ERROR
    assert run.message == "timed out after 0.2 s"


async def test_a_run_stopped_with_the_gateway_is_saved_with_why(
    stores: Callable[[], IJobStore], tmp_path: Path
) -> None:
    runner = LocalProcessJobRunner(kill_grace=5.0)
    service = JobService(
        stores(), {"local": runner}, definitions(tmp_path), close_runners=runner.close
    )
    await service.start()
    run = await service.submit("sleeps", {})

    await service.stop()

    store = stores()
    await store.open()
    try:
        saved = await store.get(run.run_id)
    finally:
        await store.close()
    assert saved is not None
    assert saved.status is JobStatus.ERROR
    assert saved.message.startswith("cancelled: the gateway is shutting down")
