"""Runs a workflow's function steps through the function gateway's own invoker (and so
through the function's pool, timeout and circuit breaker)."""

from __future__ import annotations

from typing import Any

from lockgate import json_codec
from lockgate.errors import InvocationTimeoutError
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker

__all__ = ["FunctionStepCaller"]


class FunctionStepCaller:
    """The executor's ``FunctionCaller``: maps invocation outcomes onto the exceptions a
    step's retry policy selects by (``TimeoutError``, ``ConnectionError``)."""

    def __init__(self, invoker: LambdaInvoker) -> None:
        self._invoker = invoker

    async def __call__(self, name: str, payload: Any) -> Any:
        result = await self._invoker.invoke_function(name, json_codec.dumps(payload))
        if result.success:
            return json_codec.loads(result.payload) if result.payload else None
        error = result.failure
        if isinstance(error, InvocationTimeoutError):
            raise TimeoutError(f"function {name!r} timed out")
        if error is not None:
            if error.retryable:  # provably never reached the handler: safe to retry
                raise ConnectionError(f"function {name!r} could not run: {error.message}")
            raise RuntimeError(f"function {name!r} failed: {error.message}")
        try:
            details = json_codec.loads(result.payload or b"{}")
            kind, message = details.get("errorType"), details.get("errorMessage")
        except (ValueError, AttributeError):
            kind, message = "Error", None
        raise RuntimeError(f"function {name!r} raised {kind}: {message}")
