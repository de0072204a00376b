"""Runs one workflow run to its end, checkpointing every step through the run store.

The invariant: a step's output is committed before any step that depends on it starts, so
after a crash a resumed run (given its committed steps) never runs a committed step again.
Independent steps run concurrently; with one ready step and nothing else in flight, the step
runs inline (no task), and a run's last step is committed together with its final status,
so a chain of N steps costs N commits.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import FunctionType
from typing import Any, Protocol

from lockgate import json_codec
from lockgate.gateways.interfaces import IRunStore, IWorkflowMetrics, StepWrite
from lockgate.models.run import RunRecord, RunStatus, StepRecord, StepStatus
from lockgate.models.workflow import StepKind, StepSpec, Workflow
from lockgate.use_cases.run_context import (
    ExecutionContext,
    ResourceLookup,
    current_context,
    get_current_context,
    get_resource,
)

__all__ = ["FunctionCaller", "LiveRun", "WorkflowExecutor"]


class FunctionCaller(Protocol):
    async def __call__(self, name: str, payload: Any) -> Any:
        """Invoke Lockgate function ``name`` with ``payload``; its return value, decoded.

        Raises:
            TimeoutError: The function timed out.
            ConnectionError: It could not run (throttled, crashed before the handler).
            RuntimeError: The handler raised or the invocation failed; the message says why.
        """
        ...


@dataclass(eq=False, slots=True)
class LiveRun:
    """An executing run's state, shared with whoever asks about the run meanwhile.

    ``steps`` holds a record for every step that started (running ones included);
    ``cancel_requested`` turns the next cancellation of the run's task into a cancelled run
    rather than a shutdown (after which the run resumes on restart); ``finishing`` is the
    commit of the outcome once it has begun.
    """

    run: RunRecord
    steps: dict[str, StepRecord] = field(default_factory=dict)
    cancel_requested: bool = False
    status: RunStatus = RunStatus.RUNNING
    error: str | None = None
    finished_at: float | None = None
    finishing: asyncio.Future[RunStatus] | None = None

    def snapshot(self) -> RunRecord:
        """The run as it stands now."""
        return replace(
            self.run,
            status=self.status,
            error=self.error,
            steps=dict(self.steps),
            updated_at=self.finished_at or self.run.updated_at,
        )


class _StepFailedError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _OwnTimeoutError(TimeoutError):
    """A ``TimeoutError`` the step raised itself, before its own deadline: still retried as
    a ``TimeoutError``, but reported as what it was."""

    def __init__(self, original: TimeoutError) -> None:
        super().__init__(str(original))
        self.original = original


_BUILTINS = builtins.__dict__


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
        self._call_function = call_function
        self._metrics = metrics
        self._max_output_bytes = max_output_bytes
        self._clock = clock

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
                            write = await self._run_step(workflow, live, name, outputs, lookup)
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
        write = await self._run_step(workflow, live, name, outputs, lookup)
        if write[0].status is StepStatus.COMPLETED:
            await self._store.save_step(live.run.run_id, write)
        return write

    async def _run_step(
        self,
        workflow: Workflow,
        live: LiveRun,
        name: str,
        outputs: Mapping[str, Any],
        lookup: ResourceLookup,
    ) -> StepWrite:
        """Run one step with its retry policy; failures are returned, never raised."""
        step = workflow.steps[name]
        run = live.run
        started = self._clock()
        attempt = 0
        try:
            inputs = self._inputs(step, outputs)
            while True:
                attempt += 1
                live.steps[name] = StepRecord(
                    name, StepStatus.RUNNING, attempts=attempt, started_at=started
                )
                try:
                    value = await self._attempt(step, run, attempt, inputs, lookup)
                    break
                except _StepFailedError:
                    raise
                except Exception as exc:
                    if attempt >= step.retry.max_attempts or not isinstance(
                        exc, step.retry.retry_on
                    ):
                        raise _StepFailedError(self._describe(step, exc)) from exc
                    delay = step.retry.delay(attempt)
                    await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311
            try:
                output_json = json_codec.dumps(value)
            except TypeError as exc:
                raise _StepFailedError(
                    f"step {name!r} returned a result that is not JSON-serialisable: {exc}"
                ) from None
            if len(output_json) > self._max_output_bytes:
                raise _StepFailedError(
                    f"step {name!r} returned {len(output_json):,} bytes of JSON; the limit is "
                    f"{self._max_output_bytes:,} (max_step_output_bytes): store large data "
                    "elsewhere and return a reference to it"
                )
            record = StepRecord(
                name,
                StepStatus.COMPLETED,
                output=value,
                attempts=attempt,
                started_at=started,
                finished_at=self._clock(),
            )
            live.steps[name] = record
            self._step_finished(run, record)
            return record, output_json
        except _StepFailedError as failure:
            record = StepRecord(
                name,
                StepStatus.FAILED,
                error=failure.message,
                attempts=attempt,
                started_at=started,
                finished_at=self._clock(),
            )
            live.steps[name] = record
            self._step_finished(run, record)
            return record, None

    def _step_finished(self, run: RunRecord, record: StepRecord) -> None:
        if self._metrics is not None:
            self._metrics.step_finished(
                run.workflow_id, record.name, record.status.value, (record.duration_ms or 0) / 1000
            )

    @staticmethod
    def _inputs(step: StepSpec, outputs: Mapping[str, Any]) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for input_name, source in step.inputs.items():
            value = outputs[source.from_step]
            for depth, key in enumerate(source.path):
                if isinstance(value, dict) and key in value:
                    value = value[key]
                    continue
                where = ".".join(("result", *source.path[:depth]))
                found = (
                    f"keys: {', '.join(map(repr, value))}"
                    if isinstance(value, dict)
                    else f"a {type(value).__name__}"
                )
                raise _StepFailedError(
                    f"step {step.name!r}: input {input_name!r} wants {source.output} of step "
                    f"{source.from_step!r}, but {where} has no {key!r} ({found})"
                )
            inputs[input_name] = value
        return inputs

    async def _attempt(
        self,
        step: StepSpec,
        run: RunRecord,
        attempt: int,
        inputs: dict[str, Any],
        lookup: ResourceLookup,
    ) -> Any:
        context = ExecutionContext(
            run_id=run.run_id,
            workflow_id=run.workflow_id,
            step=step.name,
            attempt=attempt,
            variables=run.context,
            lookup=lookup,
        )
        token = current_context.set(context)
        try:
            if step.timeout is None:
                return await self._call(step, run, inputs)
            async with asyncio.timeout(step.timeout) as scope:
                try:
                    return await self._call(step, run, inputs)
                except TimeoutError as exc:
                    if scope.expired():
                        raise
                    raise _OwnTimeoutError(exc) from exc
        finally:
            current_context.reset(token)

    async def _call(self, step: StepSpec, run: RunRecord, inputs: dict[str, Any]) -> Any:
        if step.kind is StepKind.CODE:
            namespace: dict[str, Any] = {
                "__builtins__": _BUILTINS,
                "get_resource": get_resource,
                "get_current_context": get_current_context,
                **run.parameters,
                **inputs,
            }
            assert step.code is not None
            coroutine = FunctionType(step.code, namespace)()
            if coroutine is not None:
                await coroutine
            if "result" not in namespace:
                raise _StepFailedError(f"step {step.name!r} finished without assigning `result`")
            return namespace["result"]
        arguments = {**run.parameters, **inputs}
        if step.kind is StepKind.CALLABLE:
            assert step.call is not None
            if step.accepts is not None:
                arguments = {k: v for k, v in arguments.items() if k in step.accepts}
            return await step.call(**arguments)
        assert step.function_name is not None
        return await self._call_function(step.function_name, arguments)

    @staticmethod
    def _describe(step: StepSpec, exc: Exception) -> str:
        if isinstance(exc, _OwnTimeoutError):
            exc = exc.original
        elif isinstance(exc, TimeoutError) and step.timeout is not None:
            return f"step {step.name!r} timed out after {step.timeout} s"
        detail = str(exc)
        return f"step {step.name!r} failed: {type(exc).__name__}" + (
            f": {detail}" if detail else ""
        )
