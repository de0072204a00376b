"""LambdaInvoker with a fake backend: results, retries only before the handler, the breaker
hearing infrastructure failures only, and backend bugs contained."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from lockgate.errors import (
    CircuitOpenError,
    FunctionNotFoundError,
    InvocationTimeoutError,
    LockgateError,
    TooManyRequestsError,
    WorkerCrashedError,
)
from lockgate.gateways.metrics.prometheus import PrometheusMetrics
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerInvocation, WorkerReply
from lockgate.models.pool import BreakerState
from lockgate.use_cases.functions.circuit_breaker import CircuitBreaker
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry
from tests.support import make_function

Step = Callable[[], WorkerReply]


class ScriptedBackend:
    """Plays a list of outcomes: a WorkerReply is returned, an exception raised."""

    def __init__(self, *outcomes: WorkerReply | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[WorkerInvocation] = []

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        self.calls.append(invocation)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, False


OK = WorkerReply(b'{"ok": true}', None, b"log line\n", 0, 1.5)
RAISED = WorkerReply(b"", HandlerError("boom", "ValueError", ("trace",)), b"", 0, 0.5)


def crashed(reached: bool) -> WorkerCrashedError:
    return WorkerCrashedError("worker died", reached_handler=reached)


def make_invoker(backend: ScriptedBackend) -> LambdaInvoker:
    return LambdaInvoker(
        FunctionRegistry([make_function("fn")]),
        backend,
        PrometheusMetrics(),
        breaker_factory=lambda: CircuitBreaker(window=4, min_calls=2, reset_timeout=60),
    )


async def test_a_returned_value_is_a_success() -> None:
    result = await make_invoker(ScriptedBackend(OK)).invoke_function("fn", b"{}", request_id="r1")
    assert result.success
    assert result.status_code == 200
    assert result.payload == b'{"ok": true}'
    assert result.handler_ms == 1.5
    assert result.logs == b"log line\n"
    assert not result.is_retryable


async def test_a_handler_exception_is_an_unhandled_function_error() -> None:
    result = await make_invoker(ScriptedBackend(RAISED)).invoke_function("fn", b"{}")
    assert not result.success
    assert result.status_code == 200
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload or b"") == {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "stackTrace": ["trace"],
    }


async def test_an_unknown_function_raises_not_found() -> None:
    with pytest.raises(FunctionNotFoundError, match="nope"):
        await make_invoker(ScriptedBackend(OK)).invoke_function("nope", b"{}")


async def test_a_failure_before_the_handler_is_retried() -> None:
    backend = ScriptedBackend(crashed(reached=False), OK)
    result = await make_invoker(backend).invoke_function("fn", b"{}")
    assert result.success
    assert len(backend.calls) == 2
    assert backend.calls[0].request_id == backend.calls[1].request_id


async def test_a_failure_after_the_request_reached_the_handler_is_never_retried() -> None:
    backend = ScriptedBackend(crashed(reached=True), OK)
    result = await make_invoker(backend).invoke_function("fn", b"{}")
    assert not result.success
    assert result.status_code == 502
    assert isinstance(result.error, WorkerCrashedError)
    assert len(backend.calls) == 1


async def test_retries_stop_after_three_attempts() -> None:
    backend = ScriptedBackend(crashed(reached=False))
    result = await make_invoker(backend).invoke_function("fn", b"{}")
    assert isinstance(result.error, WorkerCrashedError)
    assert result.is_retryable
    assert len(backend.calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        TooManyRequestsError("busy", retry_after=1),
        InvocationTimeoutError("Task timed out after 30.00 seconds"),
    ],
)
async def test_throttles_and_timeouts_do_not_open_the_breaker(error: LockgateError) -> None:
    invoker = make_invoker(ScriptedBackend(error))
    for _ in range(6):
        await invoker.invoke_function("fn", b"{}")
    assert invoker.breaker_state("fn") is BreakerState.CLOSED


async def test_handler_exceptions_do_not_open_the_breaker() -> None:
    invoker = make_invoker(ScriptedBackend(RAISED))
    for _ in range(6):
        await invoker.invoke_function("fn", b"{}")
    assert invoker.breaker_state("fn") is BreakerState.CLOSED


async def test_crashes_open_the_breaker_and_then_calls_are_refused_without_running() -> None:
    backend = ScriptedBackend(crashed(reached=True))
    invoker = make_invoker(backend)
    for _ in range(2):
        await invoker.invoke_function("fn", b"{}")
    assert invoker.breaker_state("fn") is BreakerState.OPEN
    result = await invoker.invoke_function("fn", b"{}")
    assert isinstance(result.error, CircuitOpenError)
    assert result.status_code == 503
    assert result.error.retry_after >= 1
    assert len(backend.calls) == 2


async def test_a_backend_bug_is_contained_and_counted() -> None:
    invoker = make_invoker(ScriptedBackend(RuntimeError("acquire_worker exploded")))
    result = await invoker.invoke_function("fn", b"{}")
    assert not result.success
    assert result.status_code == 500
    assert result.failure is not None
    assert "RuntimeError" in result.failure.message
    await invoker.invoke_function("fn", b"{}")
    assert invoker.breaker_state("fn") is BreakerState.OPEN
