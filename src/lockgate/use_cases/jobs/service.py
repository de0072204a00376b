"""Long-running jobs: start declared jobs on their runners, follow their runs, cancel them.

Every run is saved before its runner is asked to start it, so a run the runner refused, or
one the gateway died while starting, is still on record (``ERROR``, with why). A background
refresher asks the runners where the unfinished runs stand and saves what changed; a run
looked up by id is refreshed on the spot. Changes to one run are serialised on this gateway
(a refresh cannot overwrite a cancel, a cancel waits for the submit it races).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from lockgate.errors import ConfigError, JobNotFoundError, JobRunnerError, RunFinishedError
from lockgate.gateways.interfaces import IJobRunner, IJobStore
from lockgate.models.ids import new_run_id
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail

__all__ = ["JobService", "check_parameters"]

logger = logging.getLogger(__name__)

# Unfinished runs followed per pass (the newest). More than this many runs at once is not
# what a gateway's job runner is for; the oldest are followed when the newest finish.
_REFRESH_BATCH = 1000
# Runner calls in flight at once during a pass (AWS calls each take a round trip).
_REFRESH_CONCURRENCY = 8
_MAX_PARAMETER_NAME = 255


def check_parameters(parameters: Any) -> dict[str, str]:
    """``parameters`` as a dict if it maps names to strings a process can be given.

    Raises:
        ValueError: It is not a mapping, or a name is empty, not a string or holds ``=`` or
            NUL, or a value is not a string or holds NUL; the message names the key (never
            a value: parameters may hold credentials).
    """
    if not isinstance(parameters, Mapping):
        raise ValueError(f"parameters must map names to strings, got {type(parameters).__name__}")
    checked: dict[str, str] = {}
    for key, value in parameters.items():
        if not isinstance(key, str):
            raise ValueError(f"parameter names must be strings, got {type(key).__name__}")
        if not key or len(key) > _MAX_PARAMETER_NAME or "=" in key or "\0" in key:
            raise ValueError(
                f"parameter {key[:_MAX_PARAMETER_NAME]!r}: a name must be 1-"
                f"{_MAX_PARAMETER_NAME} characters without '=' or NUL"
            )
        if not isinstance(value, str):
            raise ValueError(
                f"parameter {key!r}: the value must be a string, got {type(value).__name__}"
            )
        if "\0" in value:
            raise ValueError(f"parameter {key!r}: the value holds a NUL character")
        checked[key] = value
    return checked


class _RunLocks:
    """One lock per run id, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, run_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(run_id, (asyncio.Lock(), 0))
        self._locks[run_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[run_id]
            if users == 1:
                del self._locks[run_id]
            else:
                self._locks[run_id] = (lock, users - 1)


class JobService:
    """Declared jobs and their runs.

    Args:
        store: Where runs are kept.
        runners: The runners by kind (``"local"``, ``"aws-batch"``; see ``JOB_RUNNERS``).
        definitions: The declared jobs by name.
        clock: Unix seconds (the runs' ``created_at`` and ``finished_at``).
        poll_interval: Seconds between the refresher's passes over unfinished runs.
        submit_grace: Seconds after which an unfinished run that never got an
            ``external_id`` is taken for one whose gateway died while starting it (it is
            ``ERROR``); until then another gateway sharing the store may still be starting it.
        close_runners: Called by ``stop`` before its last pass over the runs: it stops
            what the runners still run, so those runs are saved with why they ended.

    Raises:
        ConfigError: A job's runner is not among ``runners``, or a definition is filed
            under another name.
        ValueError: ``poll_interval`` or ``submit_grace`` is not positive.
    """

    def __init__(
        self,
        store: IJobStore,
        runners: Mapping[str, IJobRunner],
        definitions: Mapping[str, JobDefinition],
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 2.0,
        submit_grace: float = 300.0,
        close_runners: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._close_runners = close_runners
        if not poll_interval > 0 or not submit_grace > 0:
            raise ValueError(
                f"poll_interval and submit_grace must be positive, got {poll_interval} "
                f"and {submit_grace}"
            )
        for name, definition in definitions.items():
            if name != definition.name:
                raise ConfigError(f"job filed as {name!r} is named {definition.name!r}", key=name)
            if definition.runner not in runners:
                raise ConfigError(
                    f"job {name!r} runs on runner {definition.runner!r}, which this gateway "
                    f"has not configured (configured: {', '.join(sorted(runners)) or 'none'})",
                    key=f"jobs.{name}.runner",
                )
        self._store = store
        self._runners = dict(runners)
        self._definitions = dict(definitions)
        self._clock = clock
        self._poll_interval = poll_interval
        self._submit_grace = submit_grace
        self._locks = _RunLocks()
        self._refresher: asyncio.Task[None] | None = None
        self._opened = False

    @property
    def definitions(self) -> Mapping[str, JobDefinition]:
        """The declared jobs by name."""
        return self._definitions

    async def start(self) -> None:
        """Open the store and start following unfinished runs (those left by a previous
        life of the gateway too).

        Raises:
            RunStoreError: The store cannot be opened.
        """
        await self._store.open()
        self._opened = True
        self._refresher = asyncio.create_task(self._refresh_forever(), name="lockgate-jobs")

    async def stop(self) -> None:
        """Stop following runs, close the runners (``close_runners``), save how the runs
        they stopped ended, and close the store."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        try:
            if self._close_runners is not None:
                await self._close_runners()
            if self._opened:
                try:
                    await self.refresh()  # "cancelled: the gateway is shutting down"
                except Exception:
                    logger.exception("saving the job runs stopped at shutdown failed")
        finally:
            if self._opened:
                self._opened = False
                await self._store.close()

    async def submit(self, job: str, parameters: Mapping[str, str]) -> JobRun:
        """Start a run of ``job``.

        Args:
            job: A declared job's name.
            parameters: Names to strings, given to the run (see ``JobRun.parameters``).

        Returns:
            The run, with its runner's ``external_id`` and status.

        Raises:
            JobNotFoundError: No job by that name.
            ValueError: ``parameters`` are malformed (see ``check_parameters``); nothing
                was saved.
            JobRunnerError: The runner refused or failed to start it; the run is saved
                ``ERROR`` with the runner's message.
            RunStoreError: The run could not be saved.

        Side Effects:
            Saves the run ``QUEUED``, starts it, saves it again with its external id.
        """
        definition = self._definition(job)
        run = JobRun(
            run_id=new_run_id(),
            job=job,
            parameters=check_parameters(parameters),
            created_at=self._clock(),
        )
        runner = self._runners[definition.runner]
        async with self._locks.hold(run.run_id):
            await self._store.save(run)
            try:
                started = await runner.submit_run(definition, run)
            except Exception as exc:
                message = exc.message if isinstance(exc, JobRunnerError) else str(exc)
                failed = self._finish(run, JobStatusDetail(JobStatus.ERROR, message))
                try:
                    await self._store.save(failed)
                except Exception:  # the runner's error is the one to report
                    logger.exception("saving run %s as failed to start", run.run_id)
                raise
            if started.status.finished and started.finished_at is None:
                started = dataclasses.replace(started, finished_at=self._clock())
            await self._store.save(started)
        logger.info("run %s of job %s submitted (%s)", run.run_id, job, started.external_id)
        return started

    async def get(self, run_id: str) -> JobRun:
        """One run; an unfinished one as its runner sees it now.

        A runner that cannot be asked now (throttled, unreachable) leaves the run as last
        saved: looking a run up does not fail because its runner is slow to answer.

        Raises:
            JobNotFoundError: No run by that id.
            RunStoreError: The store failed.
        """
        run = await self._require(run_id)
        if run.status.finished:
            return run
        return await self._refresh(run_id)

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        """Runs as last saved, newest first, optionally only of ``job`` and only those not
        finished.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The store failed.
        """
        return await self._store.list_runs(job, unfinished, limit)

    async def cancel(self, run_id: str, reason: str) -> JobRun:
        """Stop a run that has not finished.

        Returns:
            The run, ``ERROR`` with ``cancelled: <reason>`` (or how it ended, if it ended
            on its own while being stopped).

        Raises:
            JobNotFoundError: No run by that id.
            RunFinishedError: It already finished.
            JobRunnerError: The runner failed to stop it (the run is left as it was).
            RunStoreError: The store failed.

        Side Effects:
            Asks the runner to stop it (kills the process, terminates the Batch job).
        """
        async with self._locks.hold(run_id):
            run = await self._require(run_id)
            if run.status.finished:
                raise RunFinishedError(
                    f"job run {run_id} already finished ({run.status.value}); it cannot be "
                    "cancelled",
                    run_id=run_id,
                )
            cancelled = JobStatusDetail(
                JobStatus.ERROR, f"cancelled: {reason.strip() or 'no reason given'}"
            )
            definition = self._definitions.get(run.job)
            if run.external_id is not None and definition is not None:
                runner = self._runners[definition.runner]
                await runner.cancel_run(run, reason)
                # A runner that stops the run before answering (a local process) knows how
                # it ended, exit code included; one that stops it later (AWS Batch) does not.
                with contextlib.suppress(JobRunnerError):
                    detail = await runner.describe_run(run)
                    if detail.status.finished:
                        cancelled = detail
            finished = self._finish(run, cancelled)
            await self._store.save(finished)
        logger.info("run %s of job %s cancelled", run_id, run.job)
        return finished

    async def refresh(self) -> int:
        """One pass over the unfinished runs: ask each one's runner, save what changed.

        Returns:
            How many runs changed.

        Raises:
            RunStoreError: The unfinished runs could not be listed. A run that cannot be
                refreshed is logged and left for the next pass.
        """
        runs = await self._store.list_runs(unfinished=True, limit=_REFRESH_BATCH)
        slots = asyncio.Semaphore(_REFRESH_CONCURRENCY)

        async def one(run: JobRun) -> bool:
            async with slots:
                try:
                    updated = await self._refresh(run.run_id)
                except Exception:
                    logger.exception("following run %s of job %s failed", run.run_id, run.job)
                    return False
                return updated.status != run.status or updated.message != run.message

        return sum(await asyncio.gather(*(one(run) for run in runs)))

    # -- internals ------------------------------------------------------------------------

    def _definition(self, job: str) -> JobDefinition:
        definition = self._definitions.get(job)
        if definition is None:
            declared = ", ".join(sorted(self._definitions)) or "none"
            raise JobNotFoundError(f"no job {job!r} (declared: {declared})", job=job)
        return definition

    async def _require(self, run_id: str) -> JobRun:
        run = await self._store.get(run_id)
        if run is None:
            raise JobNotFoundError(f"no job run {run_id!r}", run_id=run_id)
        return run

    def _finish(self, run: JobRun, detail: JobStatusDetail) -> JobRun:
        return dataclasses.replace(
            run,
            status=detail.status,
            message=detail.message,
            exit_code=detail.exit_code if detail.exit_code is not None else run.exit_code,
            finished_at=self._clock() if detail.status.finished else None,
        )

    async def _refresh(self, run_id: str) -> JobRun:
        """Ask the run's runner where it stands and save it if that changed."""
        async with self._locks.hold(run_id):
            run = await self._require(run_id)  # again: it may have changed while we waited
            if run.status.finished:
                return run
            detail = await self._describe(run)
            if detail is None:
                return run
            if (detail.status, detail.message, detail.exit_code) == (
                run.status,
                run.message,
                run.exit_code,
            ):
                return run
            updated = self._finish(run, detail)
            await self._store.save(updated)
        if updated.status.finished:
            logger.info("run %s of job %s ended %s", run_id, run.job, updated.status.value)
        return updated

    async def _describe(self, run: JobRun) -> JobStatusDetail | None:
        """Where ``run`` stands, or None when that cannot be told now."""
        definition = self._definitions.get(run.job)
        if definition is None:
            return JobStatusDetail(
                JobStatus.ERROR,
                f"job {run.job!r} is no longer declared on this gateway; its run cannot be "
                "followed",
            )
        if run.external_id is None:
            # Not being submitted here (that holds the run's lock): either another gateway
            # sharing the store is starting it, or a gateway died before its runner took it.
            if self._clock() - run.created_at < self._submit_grace:
                return None
            return JobStatusDetail(
                JobStatus.ERROR,
                "the gateway stopped before the run was handed to its runner",
            )
        try:
            return await self._runners[definition.runner].describe_run(run)
        except JobRunnerError as exc:
            # A runner that cannot follow this run says so naming the run's external id
            # (a local process from before a restart, a Batch job AWS forgot): the run is
            # over as far as anyone can tell. Anything else (throttling, an outage, a
            # refusal of every call) says nothing about the run: try again later.
            if not exc.retryable and exc.fields.get("external_id") == run.external_id:
                return JobStatusDetail(JobStatus.ERROR, exc.message)
            logger.warning("run %s of job %s: %s", run.run_id, run.job, exc.message)
            return None

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the store failed: try again at the next pass
                logger.exception("following unfinished job runs failed")
            await asyncio.sleep(self._poll_interval)
