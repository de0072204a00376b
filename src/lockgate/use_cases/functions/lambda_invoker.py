"""``LambdaInvoker``: one invocation under the function's deadline, breaker and retry rules.

* The deadline is the function's ``timeout``, counted from the moment the call arrives; the
  wait for a worker, every retry and the handler itself all fit inside it.
* Retries happen only for failures that provably did not reach the handler (a worker found
  dead before the request was written, a pool replaced under the call).
* The circuit breaker hears only infrastructure failures (crashes, failed starts): a
  handler's own exception, a timeout or a throttle says nothing about the worker fleet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from lockgate.errors import (
    CircuitOpenError,
    FunctionInitError,
    InvocationError,
    InvocationTimeoutError,
    LockgateError,
    TooManyRequestsError,
    WorkerCrashedError,
    http_status,
)
from lockgate.gateways.interfaces import IInvocationBackend, IInvocationMetrics
from lockgate.models.function import FunctionEntity
from lockgate.models.ids import new_request_id
from lockgate.models.invocation import InvocationResult, WorkerInvocation, WorkerReply
from lockgate.models.pool import BreakerState
from lockgate.models.trace import TraceContext
from lockgate.use_cases.functions.circuit_breaker import CircuitBreaker
from lockgate.use_cases.functions.output import FunctionOutput
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["LambdaInvoker"]

logger = logging.getLogger(__name__)

_MAX_ATTEMPTS = 3
_RETRY_BACKOFF_S = 0.01

_Reply = tuple[WorkerReply, bool]
"""A worker's reply and whether the call started the worker (a cold start)."""


class _Call(NamedTuple):
    """One admitted call: seed 004's ``WorkerInfo``, which here names the function and the
    invocation rather than a worker (the backend picks the worker)."""

    function: FunctionEntity
    invocation: WorkerInvocation
    deadline: float  # monotonic seconds: the function's timeout, counted from arrival
    breaker: CircuitBreaker


class LambdaInvoker:
    """Invokes registered functions through an ``IInvocationBackend``.

    Args:
        registry: Where function names are looked up.
        backend: Where invocations run.
        metrics: Where outcomes are counted.
        breaker_factory: Makes each function's circuit breaker.
        output: Where each invocation's output goes (the gateway's log, ``lockgate logs``).
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        backend: IInvocationBackend,
        metrics: IInvocationMetrics,
        *,
        breaker_factory: Callable[[], CircuitBreaker] = CircuitBreaker,
        output: FunctionOutput | None = None,
    ) -> None:
        self._output = output
        self._registry = registry
        self._backend = backend
        self._metrics = metrics
        self._breaker_factory = breaker_factory
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker_state(self, name: str) -> BreakerState:
        return self._breaker(name).state

    async def invoke_function(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        qualifier: str | None = None,
        trace: TraceContext | None = None,
        trigger: str = "other",  # noqa: ARG002 - read by TracedLambdaInvoker
    ) -> InvocationResult:
        """Run function ``name`` once with ``payload`` (JSON bytes): admit the call
        (``_acquire_worker``), run it (``_execute_request``), read the reply
        (``_validate_response``), as seed 004's refactoring plan lays it out.

        ``qualifier`` (the caller's, if any) shows in ``context.invoked_function_arn``, as on
        AWS; ``trace`` (a caller's ``traceparent``) is handed to the handler.

        Returns:
            The result; failures are values (``error`` set), never exceptions, except
            ``FunctionNotFoundError`` for an unknown name.
        """
        started = time.monotonic()
        call = self._acquire_worker(name, payload, request_id, client_context, qualifier, trace)
        if isinstance(call, InvocationResult):  # the circuit is open: nothing ran
            return self._finish(name, started, call, "circuit_open")
        reply = await self._execute_request(call)
        self._record_output(call, reply)
        result, outcome = self._validate_response(reply)
        return self._finish(name, started, result, outcome)

    def _record_output(self, call: _Call, reply: _Reply | LockgateError) -> None:
        """Hand the invocation's output on: what did not already go while the handler ran."""
        output = self._output
        if output is None:
            return
        if isinstance(reply, LockgateError):
            # A failed start's output is the pool's to report (once, not on every call).
            logs = reply.fields.get("logs")
            if logs and isinstance(logs, str) and not isinstance(reply, FunctionInitError):
                output.record(call.function.name, call.invocation.request_id, logs.encode())
            return
        worker_reply = reply[0]
        live = worker_reply.logs_live
        output.record(
            call.function.name,
            call.invocation.request_id,
            worker_reply.logs[live:] if live else worker_reply.logs,
            worker_reply.log_streams,
        )

    def _acquire_worker(  # noqa: PLR0917 - seed 004's arguments, and the caller's trace
        self,
        name: str,
        payload: bytes,
        request_id: str | None,
        client_context: str | None,
        qualifier: str | None,
        trace: TraceContext | None,
    ) -> _Call | InvocationResult:
        """Seed 004's ``_acquire_worker``: what a worker is asked to run, under which
        deadline, once the breaker admits the call (else the circuit-open result). No
        coroutine: nothing here waits (the backend checks the worker out, in the deadline).

        Raises:
            FunctionNotFoundError: No function by that name.
        """
        function = self._registry.get(name)
        started = time.monotonic()
        invocation = WorkerInvocation(
            request_id=request_id or new_request_id(),
            payload=payload,
            deadline_epoch_ms=int((time.time() + function.timeout_seconds) * 1000),
            invoked_function_arn=f"{function.arn}:{qualifier}" if qualifier else function.arn,
            client_context=client_context,
            trace=trace,
        )
        breaker = self._breaker(name)
        if not breaker.try_acquire():
            return self._failure(_circuit_open(name, breaker))
        return _Call(function, invocation, started + function.timeout_seconds, breaker)

    async def _execute_request(self, call: _Call) -> _Reply | LockgateError:
        """Seed 004's ``_execute_request``: run the invocation on the backend, retrying
        only failures that provably did not reach the handler, and tell the breaker how
        the fleet fared. Returns the worker's reply (and whether it was a cold start) or
        the failure."""
        function, invocation, deadline, breaker = call
        try:
            try:  # the first attempt awaited here: one coroutine frame fewer per call
                reply = await self._backend.invoke(function, invocation, deadline)
            except InvocationError as first:
                reply = await self._retry(function, invocation, deadline, first)
        except LockgateError as error:
            self._tell_breaker(breaker, error)
            return error
        except Exception as exc:  # a backend bug: the caller gets a 500, the breaker a failure
            logger.exception("invoking function %s failed unexpectedly", function.name)
            breaker.record_failure()
            return InvocationError(
                f"invoking function {function.name!r} failed: internal error "
                f"({type(exc).__name__})",
                function=function.name,
            )
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        return reply

    def _validate_response(self, reply: _Reply | LockgateError) -> tuple[InvocationResult, str]:
        """Seed 004's ``_validate_response``: the result a reply (or a failure) makes, and
        the outcome the metrics count it under."""
        if isinstance(reply, LockgateError):
            return self._failure(reply), _outcome(reply)
        result = self._to_result(*reply)
        return result, "success" if result.success else "handler_error"

    async def _retry(
        self,
        function: FunctionEntity,
        invocation: WorkerInvocation,
        deadline: float,
        error: InvocationError,
    ) -> tuple[WorkerReply, bool]:
        """Attempts 2 and 3, only while the last failure provably did not reach the handler
        and the deadline leaves room; otherwise the last failure is raised."""
        for attempt in range(2, _MAX_ATTEMPTS + 1):
            pause = _RETRY_BACKOFF_S * (attempt - 1)
            retry_safe = error.retryable and not isinstance(error, CircuitOpenError)
            if not retry_safe or time.monotonic() + pause >= deadline:
                raise error
            await asyncio.sleep(pause)
            try:
                return await self._backend.invoke(function, invocation, deadline)
            except InvocationError as again:
                error = again
        raise error

    @staticmethod
    def _tell_breaker(breaker: CircuitBreaker, error: LockgateError) -> None:
        if isinstance(error, InvocationError) and error.counts_as_failure:
            breaker.record_failure()
        elif isinstance(error, TooManyRequestsError):
            breaker.release()  # shed before it ran: no verdict either way
        else:
            breaker.record_success()  # the fleet worked; the handler timed out, say

    @staticmethod
    def _to_result(reply: WorkerReply, cold: bool) -> InvocationResult:
        if reply.error is None:
            return InvocationResult(
                success=True,
                status_code=200,
                payload=reply.payload,
                logs=reply.logs,
                handler_ms=reply.duration_ms,
                cold_start=cold,
            )
        return InvocationResult(
            success=False,
            status_code=200,
            payload=json.dumps(reply.error.to_dict()).encode(),
            function_error="Unhandled",
            logs=reply.logs,
            handler_ms=reply.duration_ms,
            cold_start=cold,
        )

    @staticmethod
    def _failure(error: LockgateError) -> InvocationResult:
        logs = error.fields.get("logs", "")
        return InvocationResult(
            success=False,
            status_code=http_status(error),
            payload=None,
            error=error,
            logs=logs.encode() if isinstance(logs, str) else b"",
        )

    def _finish(
        self, name: str, started: float, result: InvocationResult, outcome: str
    ) -> InvocationResult:
        self._metrics.invocation_finished(name, outcome, time.monotonic() - started)
        return result

    def _breaker(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = self._breaker_factory()
        return breaker


def _circuit_open(name: str, breaker: CircuitBreaker) -> CircuitOpenError:
    return CircuitOpenError(
        f"function {name!r} is failing to run; calls are paused",
        retry_after=breaker.retry_after(),
        function=name,
    )


def _outcome(error: LockgateError) -> str:
    if isinstance(error, TooManyRequestsError):
        return "throttled"
    if isinstance(error, InvocationTimeoutError):
        return "timeout"
    if isinstance(error, WorkerCrashedError):
        return "crash"
    if isinstance(error, FunctionInitError):
        return "init_error"
    if isinstance(error, CircuitOpenError):
        return "circuit_open"
    return "error"
