"""``StepRunner``: runs one step of a run (inputs by path, retries, timeout, the step's
context) and returns its record and JSON output; failures are values, never raised.

What a step returns or raises is scrubbed of the secret values its run used (the
credentials behind the resources it resolved) before anything else sees it: the record
kept in memory, the run store and every response carry ``***`` instead.

At DEBUG on ``lockgate.gateway`` each step's start and end are logged (names, attempts,
status); a workflow whose metadata says ``debug`` also has each step's inputs and output
logged, scrubbed of its run's secrets and of every value this process decrypted.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Any

from lockgate import json_codec
from lockgate.gateways.interfaces import (
    NO_TRACER,
    IFunctionCaller,
    ITracer,
    IWorkflowMetrics,
    StepWrite,
)
from lockgate.models.run import RunRecord, StepRecord, StepStatus
from lockgate.models.workflow import StepKind, StepSpec, Workflow
from lockgate.use_cases.secrets.redaction import REVEALED, run_redactor
from lockgate.use_cases.workflows.live_run import LiveRun
from lockgate.use_cases.workflows.run_context import (
    ExecutionContext,
    ResourceLookup,
    current_context,
    get_current_context,
    get_resource,
)

__all__ = ["FunctionCaller", "StepRunner"]

logger = logging.getLogger("lockgate.gateway")
_LOGGED_BYTES = 4096  # of one step's inputs or output in a debug line


FunctionCaller = IFunctionCaller
"""The name before ports were ``I``-named (``lockgate.gateways.interfaces.IFunctionCaller``)."""


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


class StepRunner:
    """Runs steps for the executor.

    Args:
        call_function: Invokes a Lockgate function (for ``add_function_step`` steps).
        metrics: Counts steps by outcome, if given.
        max_output_bytes: The largest step result kept (as JSON); a larger one fails the
            step rather than bloat every read of the run.
        clock: Unix time, for records (tests pass a fake).
        tracer: Makes each step's span (``step NAME``), current while the step runs: the
            step's own spans (and the functions it calls) are its children.
    """

    def __init__(
        self,
        call_function: IFunctionCaller,
        *,
        metrics: IWorkflowMetrics | None = None,
        max_output_bytes: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        tracer: ITracer = NO_TRACER,
    ) -> None:
        self._tracer = tracer
        self._call_function = call_function
        self._metrics = metrics
        self._max_output_bytes = max_output_bytes
        self._clock = clock

    async def run(
        self,
        workflow: Workflow,
        live: LiveRun,
        name: str,
        outputs: Mapping[str, Any],
        lookup: ResourceLookup,
    ) -> StepWrite:
        """Run one step with its retry policy; failures are returned, never raised."""
        if not self._tracer.enabled:
            return await self._run(workflow, live, name, outputs, lookup)
        attributes = {"lockgate.step": name, "lockgate.run_id": live.run.run_id}
        with self._tracer.span(f"step {name}", attributes=attributes) as span:
            write = await self._run(workflow, live, name, outputs, lookup)
            record = write[0]
            span.set_attribute("lockgate.step_status", record.status.value)
            span.set_attribute("lockgate.attempts", record.attempts)
            if record.status is not StepStatus.COMPLETED:
                span.fail(record.status.value)
            return write

    async def _run(
        self,
        workflow: Workflow,
        live: LiveRun,
        name: str,
        outputs: Mapping[str, Any],
        lookup: ResourceLookup,
    ) -> StepWrite:
        step = workflow.steps[name]
        run = live.run
        started = self._clock()
        attempt = 0
        debug = bool(live.metadata.get("debug")) and logger.isEnabledFor(logging.DEBUG)
        try:
            inputs = self._inputs(step, outputs)
            if debug:
                _debug(run, name, "inputs", {**run.parameters, **inputs}, lookup)
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
                output_json, converted = json_codec.dumps_converted(value)
            except TypeError as exc:
                raise _StepFailedError(
                    f"step {name!r} returned a result that is not JSON-serialisable: {exc}"
                ) from None
            if converted:  # rows became objects: keep what a resumed run will read back
                value = json_codec.loads(output_json)
            # Asked now, not before the step: it may have resolved resources as it ran.
            value, output_json = run_redactor(lookup).output(value, output_json)
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
            if debug:
                _debug(run, name, "output", output_json.decode(), lookup)
            return record, output_json
        except _StepFailedError as failure:
            record = StepRecord(
                name,
                StepStatus.FAILED,
                error=run_redactor(lookup).text(failure.message),
                attempts=attempt,
                started_at=started,
                finished_at=self._clock(),
            )
            live.steps[name] = record
            self._step_finished(run, record)
            if debug:
                _debug(run, name, "error", record.error or "", lookup)
            return record, None

    def _step_finished(self, run: RunRecord, record: StepRecord) -> None:
        logger.debug(
            "run %s: step %r %s after %d attempt(s)",
            run.run_id,
            record.name,
            record.status.value,
            record.attempts,
        )
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
            trace=self._tracer.current().context(),
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
                # As the seeds' step code uses it: the workflow's own logger.
                "logger": logging.getLogger(f"lockgate.workflows.{run.workflow_id}"),
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


def _debug(run: RunRecord, step: str, what: str, value: Any, lookup: ResourceLookup) -> None:
    """Log a step's inputs or output (``value``, or its JSON text) for a ``debug``
    workflow: scrubbed of the run's secrets and of every value this process decrypted
    (the log filter is not installed where Lockgate is embedded), cut to a bounded size."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json_codec.dumps(value).decode()
        except TypeError:  # a parameter only the step's own code could read
            text = repr(value)
    text = REVEALED.redactor.text(run_redactor(lookup).text(text))
    if len(text) > _LOGGED_BYTES:
        text = f"{text[:_LOGGED_BYTES]}... ({len(text):,} characters)"
    logger.debug("run %s: step %r %s: %s", run.run_id, step, what, text)
