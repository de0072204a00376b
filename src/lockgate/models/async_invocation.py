"""An ``Event`` (asynchronous) invocation, kept durably until it ran, or until it failed on
every attempt it was allowed and is dead."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["AsyncInvocation", "AsyncInvocationStatus"]


class AsyncInvocationStatus(enum.StrEnum):
    QUEUED = "queued"  # not yet run, or failed and waiting for its next attempt
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # failed on every attempt it was allowed; kept with its last error


@dataclass(frozen=True, slots=True)
class AsyncInvocation:
    """One accepted ``Event`` invocation.

    Attributes:
        request_id: The id the 202 answered with; ``context.aws_request_id`` on every attempt.
        function: The function's name.
        payload: The event, JSON-encoded, exactly as it arrived.
        qualifier: ``$LATEST`` or the alias the caller named, if any.
        status: Where it stands.
        attempts: Attempts started so far (a claim counts as one).
        created_at: Unix seconds when it was accepted.
        next_attempt_at: Unix seconds when it is due (again).
        error: The last failure: the function's error object as JSON, or a message.
        finished_at: Unix seconds when it succeeded or died.
        trace: The W3C ``traceparent`` of the span it was accepted in (the request's, or
            the caller's), which every attempt's span joins; None when untraced.
    """

    request_id: str
    function: str
    payload: bytes
    qualifier: str | None
    status: AsyncInvocationStatus
    attempts: int
    created_at: float
    next_attempt_at: float
    error: str | None = None
    finished_at: float | None = None
    trace: str | None = None
