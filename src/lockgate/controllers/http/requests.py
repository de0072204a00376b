"""Turning Starlette requests into Lockgate's models and Lockgate's responses into Starlette's."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from lockgate.errors import RequestTooLargeError
from lockgate.models.context import HttpResponse, InputContext

__all__ = [
    "HANDLER_MS_KEY",
    "REQUEST_ID_KEY",
    "read_body",
    "request_id_of",
    "to_input_context",
    "to_starlette",
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


def to_input_context(request: Request, body: bytes) -> InputContext:
    scope = request.scope
    raw_headers = tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in scope["headers"]
    )
    headers: dict[str, str] = {}
    for name, value in raw_headers:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    client = scope.get("client")
    return InputContext(
        path=scope["path"],
        method=scope["method"],
        headers=headers,
        query_params=query,
        body=body,
        user_id=None,
        request_id=request_id_of(request),
        raw_headers=raw_headers,
        raw_query_string=raw_query,
        source_ip=client[0] if client else "127.0.0.1",
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        received_at=time.time(),
    )


def to_starlette(response: HttpResponse) -> Response:
    """Keeps repeated headers (``Set-Cookie``) apart; the length is always ours."""
    result = Response(content=response.body, status_code=response.status_code)
    result.raw_headers.extend(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
        if name.lower() != "content-length"
    )
    return result
