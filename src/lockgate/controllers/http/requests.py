"""Helpers for the FastAPI endpoints: the request id, the handler time, a bounded body."""

from __future__ import annotations

import uuid

from starlette.requests import Request

from lockgate.errors import RequestTooLargeError

__all__ = [
    "HANDLER_MS_KEY",
    "REQUEST_ID_KEY",
    "read_body",
    "request_id_of",
]

# Where an endpoint leaves the handler's own time for the latency middleware to subtract.
HANDLER_MS_KEY = "lockgate.handler_ms"
# The request's id, made once by the middleware: logs, events and AWS headers all use it.
REQUEST_ID_KEY = "lockgate.request_id"


def request_id_of(request: Request) -> str:
    request_id = request.scope.get(REQUEST_ID_KEY)
    return request_id if isinstance(request_id, str) else str(uuid.uuid4())


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing at once (before reading it) anything over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(
            f"Request must be smaller than {limit} bytes", limit=limit, size=int(declared)
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(f"Request must be smaller than {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)
