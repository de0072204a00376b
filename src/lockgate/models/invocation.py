"""One invocation's request to a worker, the worker's reply, and the gateway's result.

``WorkerInvocation``, ``WorkerReply`` and ``InvocationResult`` are NamedTuples rather than
frozen dataclasses: just as immutable, and three times cheaper to build, which counts on every
invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from lockgate.errors import InvocationError, LockgateError
from lockgate.models.trace import TraceContext

__all__ = ["HandlerError", "InvocationResult", "WorkerInvocation", "WorkerReply"]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class WorkerInvocation(NamedTuple):
    """What a worker needs to run the handler once.

    Attributes:
        request_id: ``context.aws_request_id``.
        payload: The event, JSON-encoded.
        deadline_epoch_ms: Wall-clock deadline, for ``get_remaining_time_in_millis()``.
        invoked_function_arn: ``context.invoked_function_arn``.
        client_context: Base64 JSON from ``X-Amz-Client-Context``, if any.
        trace: The span the handler's own spans are children of (the worker sets
            ``_X_AMZN_TRACE_ID`` from it, as Lambda does), if any.
    """

    request_id: str
    payload: bytes
    deadline_epoch_ms: int
    invoked_function_arn: str
    client_context: str | None = None
    trace: TraceContext | None = None


@dataclass(frozen=True, slots=True)
class HandlerError:
    """An exception raised by the handler, in the shape Lambda reports it.

    Attributes:
        error_message: ``errorMessage``.
        error_type: ``errorType``.
        stack_trace: ``stackTrace``, a line each.
        request_id: ``requestId``, as Lambda's Python runtime puts it in an invocation's
            error (None: the runtime sent none, as a custom runtime may not).
    """

    error_message: str
    error_type: str
    stack_trace: tuple[str, ...] = ()
    request_id: str | None = None

    @classmethod
    def from_object(cls, data: Mapping[str, Any], *, default_type: str) -> HandlerError:
        """The error a runtime reported as Lambda's JSON object (``errorMessage``,
        ``errorType``, ``requestId``, ``stackTrace``), lenient about their types."""
        trace = data.get("stackTrace")
        if isinstance(trace, list):
            stack = tuple(str(line) for line in trace)
        else:
            stack = (str(trace),) if trace else ()
        message, request_id = data.get("errorMessage"), data.get("requestId")
        return cls(
            error_message="" if message is None else str(message),
            error_type=str(data.get("errorType") or default_type),
            stack_trace=stack,
            request_id=None if request_id is None else str(request_id),
        )

    def to_dict(self) -> dict[str, object]:
        """The object an ``Invoke`` of a failed call answers with, in AWS's key order."""
        body: dict[str, object] = {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
        }
        if self.request_id is not None:
            body["requestId"] = self.request_id
        body["stackTrace"] = list(self.stack_trace)
        return body


class WorkerReply(NamedTuple):
    """What a worker sends back after one invocation.

    Attributes:
        payload: The handler's return value, JSON-encoded (empty when it raised).
        error: The handler's exception, if it raised.
        logs: The tail of what the invocation wrote to stdout/stderr, bounded.
        logs_dropped: Bytes of earlier output left out of ``logs``.
        duration_ms: Time spent in the handler, measured in the worker.
        log_streams: ``[stream, length, ...]`` over ``logs[logs_live:]`` (see
            ``models.function_log.output_lines``); empty when the backend cannot tell.
        logs_live: Bytes at the start of ``logs`` already handed on while the handler ran.
    """

    payload: bytes
    error: HandlerError | None
    logs: bytes
    logs_dropped: int
    duration_ms: float
    log_streams: tuple[int, ...] = ()
    logs_live: int = 0


class InvocationResult(NamedTuple):
    """The outcome of one invocation, as the gateway reports it (made on every invocation).

    ``success`` is True only when the handler returned normally. A handler exception is
    ``success=False`` with ``function_error="Unhandled"`` and the error object as payload, as
    Lambda reports it; an infrastructure failure carries ``error`` instead. The gateway's
    own failures are ``LockgateError``s; ``error`` takes any exception, as seed 004 writes
    the type (a test's or a backend's ``ConnectionError``), and ``failure`` reads it as a
    ``LockgateError`` either way.
    """

    success: bool
    status_code: int
    payload: bytes | None
    headers: Mapping[str, str] = _NO_HEADERS
    error: Exception | None = None
    function_error: str | None = None
    logs: bytes = b""
    handler_ms: float = 0.0
    cold_start: bool = False

    @property
    def is_retryable(self) -> bool:
        """Seed 004's rule, "502/503/ConnectionError", kept safe: True for a failure that
        provably did not run the handler, so trying again cannot run it twice.

        * a ``LockgateError`` says so itself (``retryable``): a worker that died before the
          request was written (502), an open circuit (503), a throttle (429) are; a worker
          that crashed *in* the handler is not, although it is a 502 too;
        * a ``ConnectionError`` never reached anything, so it is;
        * without an error object, a 502 or 503 is an upstream's own answer that no handler
          of ours produced, so it is; a handler's own failure (``function_error``) is not.
        """
        error = self.error
        if error is None:
            return self.function_error is None and self.status_code in (502, 503)
        retryable = getattr(error, "retryable", None)
        if isinstance(retryable, bool):  # a LockgateError knows whether the handler ran
            return retryable
        return isinstance(error, ConnectionError)

    @property
    def failure(self) -> LockgateError | None:
        """``error`` as a ``LockgateError``: another exception becomes an
        ``InvocationError`` naming its type (retryable when it is a ``ConnectionError``)."""
        error = self.error
        if error is None:
            return None
        if isinstance(error, LockgateError):
            return error
        wrapped = InvocationError(f"the invocation failed: {type(error).__name__}: {error}")
        wrapped.retryable = isinstance(error, ConnectionError)
        return wrapped
