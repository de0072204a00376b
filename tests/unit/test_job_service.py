"""``JobService`` over the in-memory job store and real local processes: submitting (saved
before the runner is asked, a refusal kept as ERROR), looking runs up (refreshed from the
runner), listing, cancelling, and one refresher pass (runs a restarted gateway lost, runs
never handed to a runner, jobs no longer declared). A wrapper that makes the real runner
fail stands in only for what local processes cannot do: throttling, a refused cancel."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lockgate.errors import (
    ConfigError,
    JobNotFoundError,
    JobRunnerError,
    RunFinishedError,
    http_status,
)
from lockgate.gateways.interfaces import IJobRunner
from lockgate.gateways.job_runners.local_process import LocalProcessJobRunner
from lockgate.gateways.stores.jobs.memory import InMemoryJobStore
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail
from lockgate.use_cases.jobs.service import JobService, check_parameters
from tests.support import ManualClock

PY = sys.executable
# Bounds a wait for a process to end; not a timing claim.
GUARD = 30.0


def job(name: str, *code: str, **fields: Any) -> JobDefinition:
    return JobDefinition(name=name, command=(PY, "-c", *code), **fields)


JOBS = {
    definition.name: definition
    for definition in (
        job("ok", "pass"),
        job("fails", "import sys; print('boom', file=sys.stderr); sys.exit(3)"),
        job("sleeps", "import time; time.sleep(600)"),
        JobDefinition(name="missing", command=("/nonexistent/lockgate-job",)),
    )
}


class RecordingStore(InMemoryJobStore):
    """The in-memory store, remembering every save and its open/close calls."""

    def __init__(self) -> None:
        super().__init__()
        self.saves: list[JobRun] = []
        self.calls: list[str] = []

    async def open(self) -> None:
        self.calls.append("open")

    async def close(self) -> None:
        self.calls.append("close")

    async def save(self, run: JobRun) -> None:
        self.saves.append(run)
        await super().save(run)


class FailingRunner:
    """The real local runner, but ``describe_run``/``cancel_run`` raise ``error`` when set:
    failures a local process cannot produce (AWS throttling, a refused terminate)."""

    def __init__(self, real: LocalProcessJobRunner) -> None:
        self.real = real
        self.describe_error: Exception | None = None
        self.cancel_error: Exception | None = None

    async def submit_run(self, definition: JobDefinition, run: JobRun) -> JobRun:
        return await self.real.submit_run(definition, run)

    async def describe_run(self, run: JobRun) -> JobStatusDetail:
        if self.describe_error is not None:
            raise self.describe_error
        return await self.real.describe_run(run)

    async def cancel_run(self, run: JobRun, reason: str) -> None:
        if self.cancel_error is not None:
            raise self.cancel_error
        await self.real.cancel_run(run, reason)

    async def close(self) -> None:
        await self.real.close()


@pytest.fixture
async def runner() -> AsyncIterator[LocalProcessJobRunner]:
    real = LocalProcessJobRunner(kill_grace=5.0)
    yield real
    await real.close()


@pytest.fixture
def store() -> RecordingStore:
    return RecordingStore()


@pytest.fixture
def service(store: RecordingStore, runner: LocalProcessJobRunner) -> JobService:
    return JobService(store, {"local": runner}, JOBS)


async def until_finished(service: JobService, run_id: str) -> JobRun:
    async with asyncio.timeout(GUARD):
        # Another process's state: nothing to wait on but the state itself.
        while not (run := await service.get(run_id)).status.finished:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return run


def alive(run: JobRun) -> bool:
    assert run.external_id is not None
    pid = int(run.external_id.split(":")[2])
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- construction --------------------------------------------------------------------------


def test_a_job_whose_runner_is_not_configured_is_a_config_error(
    store: RecordingStore, runner: LocalProcessJobRunner
) -> None:
    batch = JobDefinition(name="batch", runner="aws-batch", job_queue="q", job_definition="d")
    with pytest.raises(ConfigError, match=r"job 'batch' runs on runner 'aws-batch'.*local"):
        JobService(store, {"local": runner}, {"batch": batch})


def test_a_definition_filed_under_another_name_is_a_config_error(
    store: RecordingStore, runner: LocalProcessJobRunner
) -> None:
    with pytest.raises(ConfigError, match="filed as 'other' is named 'ok'"):
        JobService(store, {"local": runner}, {"other": JOBS["ok"]})


def test_the_real_runner_and_the_failing_wrapper_are_job_runners(
    runner: LocalProcessJobRunner,
) -> None:
    assert isinstance(runner, IJobRunner)
    assert isinstance(FailingRunner(runner), IJobRunner)


async def test_start_opens_the_store_and_stop_closes_it_once(
    store: RecordingStore, service: JobService
) -> None:
    await service.start()
    await service.stop()
    await service.stop()
    assert store.calls == ["open", "close"]


# -- submit --------------------------------------------------------------------------------


async def test_submit_saves_the_run_queued_then_with_the_runners_id(
    store: RecordingStore, service: JobService
) -> None:
    run = await service.submit("sleeps", {"day": "2024-01-15"})

    assert run.status is JobStatus.RUNNING
    assert run.external_id is not None
    assert run.external_id.startswith("local:pid:")
    assert dict(run.parameters) == {"day": "2024-01-15"}
    assert [(s.status, s.external_id) for s in store.saves] == [
        (JobStatus.QUEUED, None),
        (JobStatus.RUNNING, run.external_id),
    ]
    assert await store.get(run.run_id) == run
    assert alive(run)


async def test_a_finished_run_is_done_with_exit_code_0(service: JobService) -> None:
    run = await service.submit("ok", {})

    finished = await until_finished(service, run.run_id)

    assert (finished.status, finished.exit_code, finished.message) == (JobStatus.DONE, 0, "")
    assert finished.finished_at is not None
    assert finished.finished_at >= finished.created_at


async def test_a_failed_run_is_error_with_its_exit_code_and_last_stderr_line(
    service: JobService,
) -> None:
    run = await service.submit("fails", {})

    finished = await until_finished(service, run.run_id)

    assert finished.status is JobStatus.ERROR
    assert finished.exit_code == 3
    assert finished.message == "exit status 3: boom"


async def test_submitting_an_unknown_job_saves_nothing(
    store: RecordingStore, service: JobService
) -> None:
    with pytest.raises(JobNotFoundError, match=r"no job 'nope' \(declared: fails, missing, ok"):
        await service.submit("nope", {})
    assert store.saves == []


@pytest.mark.parametrize(
    ("parameters", "match"),
    [
        ({"day": 5}, "parameter 'day': the value must be a string, got int"),
        ({"ok": "1", "n": None}, "parameter 'n': the value must be a string, got NoneType"),
        ({7: "x"}, "parameter names must be strings, got int"),
        ({"a=b": "x"}, r"parameter 'a=b': a name must be 1-255 characters without '='"),
        ({"": "x"}, "parameter '': a name must be"),
        ({"nul": "a\0b"}, "parameter 'nul': the value holds a NUL character"),
        (["day"], "parameters must map names to strings, got list"),
    ],
)
async def test_malformed_parameters_are_refused_naming_the_key_and_nothing_is_saved(
    store: RecordingStore, service: JobService, parameters: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await service.submit("ok", parameters)
    assert store.saves == []


def test_a_refused_value_is_never_quoted() -> None:
    with pytest.raises(ValueError, match="parameter 'password'") as raised:
        check_parameters({"password": b"hunter2-secret"})
    assert "hunter2" not in str(raised.value)


async def test_a_run_the_runner_cannot_start_is_kept_as_error_and_the_error_raised(
    store: RecordingStore, service: JobService
) -> None:
    with pytest.raises(JobRunnerError, match="could not start run") as raised:
        await service.submit("missing", {"k": "v"})

    assert http_status(raised.value) == 502
    queued, failed = store.saves
    assert queued.status is JobStatus.QUEUED
    assert failed.run_id == queued.run_id
    assert failed.status is JobStatus.ERROR
    assert failed.message == raised.value.message
    assert failed.finished_at is not None
    assert await service.list_runs() == [failed]


# -- get and list --------------------------------------------------------------------------


async def test_getting_an_unknown_run_is_job_not_found(service: JobService) -> None:
    with pytest.raises(JobNotFoundError, match="no job run 'nope'") as raised:
        await service.get("nope")
    assert http_status(raised.value) == 404


async def test_a_finished_run_is_read_from_the_store_without_asking_the_runner(
    runner: LocalProcessJobRunner,
) -> None:
    store = InMemoryJobStore()
    failing = FailingRunner(runner)
    service = JobService(store, {"local": failing}, JOBS)
    run = await until_finished(service, (await service.submit("ok", {})).run_id)
    failing.describe_error = AssertionError("the runner was asked about a finished run")

    assert await service.get(run.run_id) == run


async def test_list_filters_by_job_and_unfinished_newest_first(service: JobService) -> None:
    done = await until_finished(service, (await service.submit("ok", {})).run_id)
    sleeping = await service.submit("sleeps", {})
    failed = await until_finished(service, (await service.submit("fails", {})).run_id)

    everything = await service.list_runs()
    assert [r.run_id for r in everything] == [failed.run_id, sleeping.run_id, done.run_id]
    assert [r.run_id for r in await service.list_runs(job="ok")] == [done.run_id]
    assert [r.run_id for r in await service.list_runs(unfinished=True)] == [sleeping.run_id]
    assert [r.run_id for r in await service.list_runs(limit=1)] == [failed.run_id]
    with pytest.raises(ValueError, match="limit"):
        await service.list_runs(limit=-1)


# -- cancel --------------------------------------------------------------------------------


async def test_cancelling_a_running_run_kills_it_and_keeps_the_reason(
    service: JobService,
) -> None:
    run = await service.submit("sleeps", {})

    cancelled = await service.cancel(run.run_id, "not needed")

    assert cancelled.status is JobStatus.ERROR
    assert cancelled.message == "cancelled: not needed"
    assert cancelled.finished_at is not None
    assert not alive(run)
    assert await service.get(run.run_id) == cancelled


async def test_cancelling_a_finished_run_is_run_finished_409(service: JobService) -> None:
    run = await until_finished(service, (await service.submit("ok", {})).run_id)

    with pytest.raises(RunFinishedError, match="already finished \\(DONE\\)") as raised:
        await service.cancel(run.run_id, "too late")

    assert http_status(raised.value) == 409
    assert await service.get(run.run_id) == run


async def test_cancelling_an_unknown_run_is_job_not_found(service: JobService) -> None:
    with pytest.raises(JobNotFoundError):
        await service.cancel("nope", "why")


async def test_a_cancel_the_runner_refuses_leaves_the_run_running(
    runner: LocalProcessJobRunner,
) -> None:
    failing = FailingRunner(runner)
    service = JobService(InMemoryJobStore(), {"local": failing}, JOBS)
    run = await service.submit("sleeps", {})
    failing.cancel_error = JobRunnerError("AWS Batch refused: AccessDenied", aws_code="x")

    with pytest.raises(JobRunnerError, match="AccessDenied"):
        await service.cancel(run.run_id, "stop")

    assert (await service.get(run.run_id)).status is JobStatus.RUNNING
    assert alive(run)


async def test_a_run_never_handed_to_a_runner_is_cancelled_without_asking_one(
    store: RecordingStore, service: JobService
) -> None:
    await store.save(JobRun(run_id="r0", job="sleeps", parameters={}, created_at=1.0))

    cancelled = await service.cancel("r0", "  ")

    assert (cancelled.status, cancelled.message) == (JobStatus.ERROR, "cancelled: no reason given")


# -- the refresher's pass ------------------------------------------------------------------


async def test_a_pass_saves_runs_that_finished_and_leaves_running_ones(
    store: RecordingStore, service: JobService
) -> None:
    sleeping = await service.submit("sleeps", {})
    quick = await service.submit("ok", {})
    async with asyncio.timeout(GUARD):
        while (await service.refresh()) == 0:  # noqa: ASYNC110 - another process's state
            await asyncio.sleep(0.01)

    assert (await store.get(quick.run_id)).status is JobStatus.DONE  # type: ignore[union-attr]
    assert (await store.get(sleeping.run_id)) == sleeping
    assert await service.refresh() == 0


async def test_a_run_started_before_a_restart_becomes_error_with_the_runners_reason(
    store: RecordingStore, runner: LocalProcessJobRunner
) -> None:
    before = JobService(store, {"local": runner}, JOBS)
    run = await before.submit("sleeps", {})
    restarted = LocalProcessJobRunner()  # a new gateway process: it never started the run
    after = JobService(store, {"local": restarted}, JOBS)

    assert await after.refresh() == 1

    lost = await after.get(run.run_id)
    assert lost.status is JobStatus.ERROR
    assert "was not started by this gateway process" in lost.message
    assert lost.finished_at is not None
    await restarted.close()


async def test_a_throttled_runner_leaves_the_run_as_it_was(runner: LocalProcessJobRunner) -> None:
    failing = FailingRunner(runner)
    service = JobService(InMemoryJobStore(), {"local": failing}, JOBS)
    run = await service.submit("sleeps", {})
    failing.describe_error = JobRunnerError("AWS Batch kept throttling", retryable=True)

    assert await service.refresh() == 0
    assert await service.get(run.run_id) == run


async def test_a_runner_failing_every_call_says_nothing_about_the_run(
    runner: LocalProcessJobRunner,
) -> None:
    """Not retryable, but not about this run either (no ``external_id``): AccessDenied."""
    failing = FailingRunner(runner)
    service = JobService(InMemoryJobStore(), {"local": failing}, JOBS)
    run = await service.submit("sleeps", {})
    failing.describe_error = JobRunnerError("AWS Batch refused: AccessDenied", aws_code="x")

    assert await service.refresh() == 0
    assert await service.get(run.run_id) == run


async def test_a_runner_raising_unexpectedly_is_logged_and_the_run_left_as_it_was(
    store: RecordingStore, runner: LocalProcessJobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingRunner(runner)
    service = JobService(store, {"local": failing}, JOBS)
    run = await service.submit("sleeps", {})
    failing.describe_error = RuntimeError("a bug")

    assert await service.refresh() == 0
    assert "following run" in caplog.text
    assert await store.get(run.run_id) == run


async def test_a_run_never_handed_to_a_runner_is_error_once_the_submit_grace_passed(
    store: RecordingStore, runner: LocalProcessJobRunner, clock: ManualClock
) -> None:
    service = JobService(store, {"local": runner}, JOBS, clock=clock, submit_grace=60)
    orphan = JobRun(run_id="r0", job="ok", parameters={}, created_at=clock())
    await store.save(orphan)

    clock.advance(59)
    assert await service.refresh() == 0
    assert await service.get("r0") == orphan  # another gateway may still be starting it

    clock.advance(2)
    assert await service.refresh() == 1
    lost = await service.get("r0")
    assert lost.status is JobStatus.ERROR
    assert lost.message == "the gateway stopped before the run was handed to its runner"
    assert lost.finished_at == clock()


async def test_a_run_of_a_job_no_longer_declared_is_error(
    store: RecordingStore, runner: LocalProcessJobRunner
) -> None:
    await store.save(
        JobRun(run_id="r0", job="gone", parameters={}, created_at=1.0, external_id="local:pid:1:1")
    )
    service = JobService(store, {"local": runner}, JOBS)

    lost = await service.get("r0")

    assert lost.status is JobStatus.ERROR
    assert (
        lost.message
        == "job 'gone' is no longer declared on this gateway; its run cannot be followed"
    )


async def test_an_unchanged_run_is_not_saved_again(
    store: RecordingStore, service: JobService
) -> None:
    run = await service.submit("sleeps", {})
    saves = len(store.saves)

    assert await service.get(run.run_id) == run
    assert await service.refresh() == 0
    assert len(store.saves) == saves
