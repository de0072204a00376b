"""Runs one workflow run to its end, checkpointing every step through the run store.

The invariant: a step's output is committed before any step that depends on it starts, so
after a crash a resumed run (given its committed steps) never runs a committed step again.
Independent steps run concurrently; with one ready step and nothing else in flight, the step
runs inline (no task), and a run's last step is committed together with its final status,
so a chain of N steps costs N commits.

Which steps may start, and when the run is over, is ``DagFrontier``'s answer
(``lockgate.models.workflow``, pure and tested on its own); ``execute`` is the loop around
it: start what is ready, wait for a step to finish, record it, again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate import json_codec
from lockgate.gateways.interfaces import NO_TRACER, IRunStore, ITracer, IWorkflowMetrics, StepWrite
from lockgate.models.log_context import run_id_var
from lockgate.models.run import RunRecord, RunStatus, StepRecord, StepStatus
from lockgate.models.workflow import DagFrontier, Workflow
from lockgate.use_cases.workflows.live_run import LiveRun
from lockgate.use_cases.workflows.run_context import ResourceLookup
from lockgate.use_cases.workflows.step_runner import FunctionCaller, StepRunner

__all__ = ["FunctionCaller", "LiveRun", "WorkflowExecutor"]


class WorkflowExecutor:
    """Executes runs; one instance serves every run of the gateway.

    Args:
        store: Where checkpoints and final statuses are committed.
        call_function: Invokes a Lockgate function (for ``add_function_step`` steps).
        metrics: Counts runs and steps by outcome, if given.
        max_output_bytes: The largest step result kept (as JSON); a larger one fails the
            step rather than bloat every read of the run.
        clock: Unix time, for records (tests pass a fake).
        tracer: Makes a span for each run (``run NAME``) and each step (``step NAME``).
    """

    def __init__(
        self,
        store: IRunStore,
        call_function: FunctionCaller,
        *,
        metrics: IWorkflowMetrics | None = None,
        max_output_bytes: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        tracer: ITracer = NO_TRACER,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._tracer = tracer
        self._steps = StepRunner(
            call_function,
            metrics=metrics,
            max_output_bytes=max_output_bytes,
            clock=clock,
            tracer=tracer,
        )

    async def execute(self, workflow: Workflow, live: LiveRun, lookup: ResourceLookup) -> RunStatus:
        """Run ``live.run`` from its committed steps to its end and commit the outcome.

        Returns:
            The final status (also committed, and set on ``live``'s records).

        Raises:
            CancelledError: The task was cancelled without ``cancel_requested`` (the gateway
                is stopping): nothing is marked, and the run resumes on restart.
        """
        token = run_id_var.set(live.run.run_id)  # every line logged for this run names it
        try:
            if not self._tracer.enabled:
                return await self._execute(workflow, live, lookup)
            run = live.run
            attributes = {"lockgate.workflow": workflow.name, "lockgate.run_id": run.run_id}
            with self._tracer.span(f"run {workflow.name}", attributes=attributes) as span:
                status = await self._execute(workflow, live, lookup)
                span.set_attribute("lockgate.run_status", status.value)
                if status is not RunStatus.COMPLETED:
                    span.fail(status.value)
                return status
        finally:
            run_id_var.reset(token)

    async def _execute(
        self, workflow: Workflow, live: LiveRun, lookup: ResourceLookup
    ) -> RunStatus:
        restored = _restored(workflow, live)
        dag = DagFrontier.of(workflow, restored)
        ledger = _Ledger(dag, {name: record.output for name, record in restored.items()})
        tasks = _StepTasks()
        try:
            async with self._time_limit(live.run):
                while not dag.finished:
                    ready = dag.start_ready()
                    if len(ready) == 1 and not tasks:  # alone: run inline, no task to make
                        await self._run_inline(workflow, live, ready[0], ledger, lookup)
                        continue
                    for name in ready:
                        step = self._step_task(workflow, live, name, ledger.outputs, lookup)
                        tasks.start(name, step)
                    for name, write in await tasks.finished():
                        ledger.record(name, write)
        except (Exception, asyncio.CancelledError) as exc:
            await tasks.cancel()
            if (ending := _interruption(workflow, live, exc)) is None:
                raise  # the store failed, or the gateway is stopping
            status, reason = ending
            writes = ledger.failures + self._interrupted(live, reason)
            return await self._finish(live, status, reason, writes)
        if ledger.failures:
            return await self._finish(live, RunStatus.FAILED, ledger.error, ledger.failures)
        return await self._finish(live, RunStatus.COMPLETED, None, ledger.final)

    async def _run_inline(
        self,
        workflow: Workflow,
        live: LiveRun,
        name: str,
        ledger: _Ledger,
        lookup: ResourceLookup,
    ) -> None:
        """Run the one startable step in the run's own task (nothing else runs, so a task
        would only cost); the run's last step is committed with its final status."""
        write = await self._steps.run(workflow, live, name, ledger.outputs, lookup)
        if write[0].status is StepStatus.COMPLETED:
            if ledger.dag.is_last(name):
                ledger.final.append(write)
            else:
                await self._store.save_step(live.run.run_id, write)
        ledger.record(name, write)

    def _time_limit(self, run: RunRecord) -> contextlib.AbstractAsyncContextManager[Any]:
        """The run's deadline (across restarts) as a timeout on the loop's clock.

        Raises:
            TimeoutError: The run resumed past its deadline (``timeout_at`` would only fire
                at the first await, after a step had started).
        """
        if run.deadline is None:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (run.deadline - self._clock())
        if deadline <= loop.time():
            raise TimeoutError
        return asyncio.timeout_at(deadline)

    async def _finish(
        self, live: LiveRun, status: RunStatus, error: str | None, writes: list[StepWrite]
    ) -> RunStatus:
        """Commit the outcome. Shielded: a cancellation arriving meanwhile (a cancel racing
        the run's own end) does not stop the commit nor ``live``'s update; whoever
        cancelled waits for ``live.finishing``."""
        live.finishing = asyncio.ensure_future(self._commit_outcome(live, status, error, writes))
        return await asyncio.shield(live.finishing)

    async def _commit_outcome(
        self, live: LiveRun, status: RunStatus, error: str | None, writes: list[StepWrite]
    ) -> RunStatus:
        now = self._clock()
        if await self._store.finish_run(live.run.run_id, status, error, writes, now):
            live.status, live.error, live.finished_at = status, error, now
            if self._metrics is not None:
                self._metrics.run_finished(
                    live.run.workflow_id, status.value, now - live.run.created_at
                )
        else:
            # Another node (or a cancel by id) finished it first; its verdict stands.
            stored = await self._store.get_run(live.run.run_id)
            if stored is not None:
                live.status, live.error, live.finished_at = (
                    stored.status,
                    stored.error,
                    stored.updated_at,
                )
        return live.status

    def _interrupted(self, live: LiveRun, reason: str) -> list[StepWrite]:
        """Records for the steps that were still running when the run ended."""
        now = self._clock()
        writes: list[StepWrite] = []
        for name, record in live.steps.items():
            if record.status is StepStatus.RUNNING:
                ended = StepRecord(
                    name,
                    StepStatus.CANCELLED,
                    error=reason,
                    attempts=record.attempts,
                    started_at=record.started_at,
                    finished_at=now,
                )
                live.steps[name] = ended
                writes.append((ended, None))
        return writes

    async def _step_task(
        self,
        workflow: Workflow,
        live: LiveRun,
        name: str,
        outputs: Mapping[str, Any],
        lookup: ResourceLookup,
    ) -> StepWrite:
        write = await self._steps.run(workflow, live, name, outputs, lookup)
        if write[0].status is StepStatus.COMPLETED:
            await self._store.save_step(live.run.run_id, write)
        return write


def _restored(workflow: Workflow, live: LiveRun) -> dict[str, StepRecord]:
    """The run's committed steps that its workflow still has, put back on ``live``."""
    restored = {
        name: record
        for name, record in live.run.steps.items()
        if record.status is StepStatus.COMPLETED and name in workflow.steps
    }
    live.steps.update(restored)
    return restored


def _interruption(
    workflow: Workflow, live: LiveRun, exc: BaseException
) -> tuple[RunStatus, str] | None:
    """How ``exc`` ends the run: failed past its timeout, cancelled when a cancel was
    requested; None when it must propagate (a store failure: no step of the run may go on
    once it can be claimed and relaunched again; or the gateway stopping)."""
    if isinstance(exc, TimeoutError):
        return RunStatus.FAILED, f"workflow {workflow.name!r} timed out after {workflow.timeout} s"
    if isinstance(exc, asyncio.CancelledError) and live.cancel_requested:
        return RunStatus.CANCELLED, "the run was cancelled"
    return None


@dataclass(slots=True)
class _Ledger:
    """What a run has produced, told to its ``dag`` as it comes: the outputs later steps
    read (as a resumed run would read them back: from JSON), the failed steps' records,
    and the write committed together with the run's final status (its last step, when
    that ran inline)."""

    dag: DagFrontier
    outputs: dict[str, Any]
    failures: list[StepWrite] = field(default_factory=list)
    final: list[StepWrite] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """The run's error: its first failed step's."""
        return self.failures[0][0].error

    def record(self, name: str, write: StepWrite) -> None:
        record, output_json = write
        if record.status is StepStatus.COMPLETED:
            self.outputs[name] = json_codec.loads(output_json or b"null")
            self.dag.completed(name)
        else:
            self.failures.append(write)
            self.dag.failed(name)


class _StepTasks:
    """The steps running as tasks, and those that finished since the last ``finished()``.

    Finished tasks report through a done callback to one wake-up future per wait, rather
    than ``asyncio.wait()`` registering on every running task each time one finishes.
    """

    def __init__(self) -> None:
        self._names: dict[asyncio.Task[StepWrite], str] = {}
        self._finished: list[asyncio.Task[StepWrite]] = []
        self._wakeup: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._names)

    def start(self, name: str, step: Coroutine[Any, Any, StepWrite]) -> None:
        task = asyncio.create_task(step)
        task.add_done_callback(self._on_done)
        self._names[task] = name

    def _on_done(self, task: asyncio.Task[StepWrite]) -> None:
        self._finished.append(task)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def finished(self) -> list[tuple[str, StepWrite]]:
        """The steps that finished (waiting for one if none has), in the order they did.

        Raises:
            Exception: A task's store commit failed (the tasks not yet reported stay).
        """
        if not self._finished:
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        done, self._finished = self._finished, []
        return [(self._names.pop(task), task.result()) for task in done]

    async def cancel(self) -> None:
        """Cancel every step still running, and wait until each has stopped."""
        for task in self._names:
            task.cancel()
        for task in self._names:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
