"""Runs one workflow run to its end, checkpointing every step through the run store.

The invariant: a step's output is committed before any step that depends on it starts, so
after a crash a resumed run (given its committed steps) never runs a committed step again.
Independent steps run concurrently; with one ready step and nothing else in flight, the step
runs inline (no task), and a run's last step is committed together with its final status,
so a chain of N steps costs N commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from lockgate import json_codec
from lockgate.gateways.interfaces import IRunStore, IWorkflowMetrics, StepWrite
from lockgate.models.run import RunStatus, StepRecord, StepStatus
from lockgate.models.workflow import Workflow
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
    """

    def __init__(
        self,
        store: IRunStore,
        call_function: FunctionCaller,
        *,
        metrics: IWorkflowMetrics | None = None,
        max_output_bytes: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._steps = StepRunner(
            call_function, metrics=metrics, max_output_bytes=max_output_bytes, clock=clock
        )

    async def execute(  # noqa: PLR0912, PLR0915 (one scheduling loop reads best whole)
        self, workflow: Workflow, live: LiveRun, lookup: ResourceLookup
    ) -> RunStatus:
        """Run ``live.run`` from its committed steps to its end and commit the outcome.

        Returns:
            The final status (also committed, and set on ``live``'s records).

        Raises:
            CancelledError: The task was cancelled without ``cancel_requested`` (the gateway
                is stopping): nothing is marked, and the run resumes on restart.
        """
        run = live.run
        outputs = {
            name: record.output
            for name, record in run.steps.items()
            if record.status is StepStatus.COMPLETED and name in workflow.steps
        }
        live.steps.update({name: run.steps[name] for name in outputs})
        waiting = {
            name: sum(1 for d in step.depends_on if d not in outputs)
            for name, step in workflow.steps.items()
            if name not in outputs
        }
        ready = [name for name, count in waiting.items() if count == 0]
        running: dict[asyncio.Task[StepWrite], str] = {}
        failures: list[StepWrite] = []
        final: list[StepWrite] = []
        loop = asyncio.get_running_loop()
        # Steps that ran as tasks report here; one wake-up future per wait, rather than
        # asyncio.wait() re-registering on every running task each time one finishes.
        finished: list[asyncio.Task[StepWrite]] = []
        wakeup: list[asyncio.Future[None]] = []

        def on_done(task: asyncio.Task[StepWrite]) -> None:
            finished.append(task)
            if wakeup and not wakeup[0].done():
                wakeup[0].set_result(None)

        def completed(name: str, output_json: bytes) -> None:
            outputs[name] = json_codec.loads(output_json)
            del waiting[name]
            for dependent in workflow.dependents[name]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    ready.append(dependent)

        deadline = None
        if run.deadline is not None:
            deadline = loop.time() + (run.deadline - self._clock())
        try:
            if deadline is not None and deadline <= loop.time():
                # Resumed past its deadline: timeout_at would only fire at the first await,
                # after a step had started.
                raise TimeoutError
            async with asyncio.timeout_at(deadline) if deadline else contextlib.nullcontext():
                while ready or running:
                    if ready and not failures:
                        if len(ready) == 1 and not running:
                            name = ready.pop()
                            write = await self._steps.run(workflow, live, name, outputs, lookup)
                            record, output_json = write
                            if record.status is not StepStatus.COMPLETED:
                                failures.append(write)
                            elif len(waiting) == 1:
                                # The last step: committed with the run's status below.
                                final.append(write)
                                completed(name, output_json or b"null")
                            else:
                                await self._store.save_step(run.run_id, write)
                                completed(name, output_json or b"null")
                            continue
                        for name in ready:
                            task = asyncio.create_task(
                                self._step_task(workflow, live, name, outputs, lookup)
                            )
                            task.add_done_callback(on_done)
                            running[task] = name
                        ready.clear()
                    if not running:
                        break
                    if not finished:
                        wakeup.append(loop.create_future())
                        try:
                            await wakeup[0]
                        finally:
                            wakeup.clear()
                    for task in finished:
                        name = running.pop(task)
                        write = task.result()
                        if write[0].status is StepStatus.COMPLETED:
                            completed(name, write[1] or b"null")
                        else:
                            failures.append(write)
                    finished.clear()
        except TimeoutError:
            await self._cancel(running)
            timeout_error = f"workflow {workflow.name!r} timed out after {workflow.timeout} s"
            failures.extend(self._interrupted(live, timeout_error))
            return await self._finish(live, RunStatus.FAILED, timeout_error, failures)
        except asyncio.CancelledError:
            await self._cancel(running)
            if not live.cancel_requested:
                raise
            failures.extend(self._interrupted(live, "the run was cancelled"))
            return await self._finish(live, RunStatus.CANCELLED, "the run was cancelled", failures)
        except Exception:
            # The store failed: no step of this run may go on once the run can be claimed
            # (and relaunched) again.
            await self._cancel(running)
            raise
        if failures:
            return await self._finish(live, RunStatus.FAILED, failures[0][0].error, failures)
        return await self._finish(live, RunStatus.COMPLETED, None, final)

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

    @staticmethod
    async def _cancel(running: Mapping[asyncio.Task[StepWrite], str]) -> None:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

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
