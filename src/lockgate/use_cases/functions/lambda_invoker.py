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
from lockgate.use_cases.functions.circuit_breaker import CircuitBreaker
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["LambdaInvoker"]

logger = logging.getLogger(__name__)

_MAX_ATTEMPTS = 3
_RETRY_BACKOFF_S = 0.01


class LambdaInvoker:
    """Invokes registered functions through an ``IInvocationBackend``.

    Args:
        registry: Where function names are looked up.
        backend: Where invocations run.
        metrics: Where outcomes are counted.
        breaker_factory: Makes each function's circuit breaker.
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        backend: IInvocationBackend,
        metrics: IInvocationMetrics,
        *,
        breaker_factory: Callable[[], CircuitBreaker] = CircuitBreaker,
    ) -> None:
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
    ) -> InvocationResult:
        """Run function ``name`` once with ``payload`` (JSON bytes).

        ``qualifier`` is the one the caller named, if any; as on AWS, it shows in
        ``context.invoked_function_arn``.

        Returns:
            The result; failures are values (``error`` set), never exceptions, except
            ``FunctionNotFoundError`` for an unknown name.
        """
        started = time.monotonic()
        function = self._registry.get(name)
        invocation = WorkerInvocation(
            request_id=request_id or new_request_id(),
            payload=payload,
            deadline_epoch_ms=int((time.time() + function.timeout_seconds) * 1000),
            invoked_function_arn=f"{function.arn}:{qualifier}" if qualifier else function.arn,
            client_context=client_context,
        )
        breaker = self._breaker(name)
        if not breaker.try_acquire():
            error = CircuitOpenError(
                f"function {name!r} is failing to run; calls are paused",
                retry_after=breaker.retry_after(),
                function=name,
            )
            return self._finish(name, started, self._failure(error), "circuit_open")
        deadline = started + function.timeout_seconds
        result, outcome = await self._invoke_guarded(function, invocation, deadline, breaker)
        return self._finish(name, started, result, outcome)

    async def _invoke_guarded(
        self,
        function: FunctionEntity,
        invocation: WorkerInvocation,
        deadline: float,
        breaker: CircuitBreaker,
    ) -> tuple[InvocationResult, str]:
        """Run with retries, tell the breaker what happened, and name the outcome."""
        try:
            try:  # the first attempt awaited here: one coroutine frame fewer per call
                reply, cold = await self._backend.invoke(function, invocation, deadline)
            except InvocationError as first:
                reply, cold = await self._retry(function, invocation, deadline, first)
        except LockgateError as error:
            self._tell_breaker(breaker, error)
            return self._failure(error), _outcome(error)
        except Exception as exc:  # a backend bug: the caller gets a 500, the breaker a failure
            logger.exception("invoking function %s failed unexpectedly", function.name)
            breaker.record_failure()
            internal = InvocationError(
                f"invoking function {function.name!r} failed: internal error "
                f"({type(exc).__name__})",
                function=function.name,
            )
            return self._failure(internal), "error"
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        result = self._to_result(reply, cold)
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
