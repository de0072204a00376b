"""Declared routes, served as raw ASGI: this is the hot path, so no framework objects.

A request is read into an ``InputContext``, handed to the ``GatewayRequestProcessor``, and
its ``HttpResponse`` written back with ``X-Lockgate-Latency`` (the milliseconds the gateway
added, handler time excluded) and the request id.
"""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from lockgate.controllers.log_setup import request_id_var
from lockgate.models.context import HttpResponse, InputContext
from lockgate.use_cases.request_processor import GatewayRequestProcessor, json_response

__all__ = ["FunctionRoutes", "input_context"]

logger = logging.getLogger(__name__)

_TOO_LARGE = json_response(413, {"message": "Request Entity Too Large"})
_BAD_HEADERS = json_response(502, {"message": "Internal server error"})


class _ClientGoneError(Exception):
    pass


class FunctionRoutes:
    """The ASGI app behind every declared route."""

    def __init__(self, processor: GatewayRequestProcessor) -> None:
        self._processor = processor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        token = request_id_var.set(request_id)
        try:
            body = await _read_body(scope, receive, self._processor.max_body_bytes)
            if body is None:
                response = _TOO_LARGE
            else:
                response = await self._processor.process(input_context(scope, body, request_id))
            await _send(send, response, started, request_id)
        except _ClientGoneError:
            pass  # nobody is left to answer
        finally:
            request_id_var.reset(token)


def input_context(scope: Scope, body: bytes, request_id: str) -> InputContext:
    raw_headers = tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in scope["headers"]
    )
    headers: dict[str, str] = {}
    for name, value in raw_headers:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    if raw_query:
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
        request_id=request_id,
        raw_headers=raw_headers,
        raw_query_string=raw_query,
        source_ip=client[0] if client else "127.0.0.1",
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
    )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` (refused before reading when declared)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, response: HttpResponse, started: float, request_id: str) -> None:
    try:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers
            if name.lower() != "content-length"
        ]
    except UnicodeEncodeError:
        logger.warning("a function returned a header that is not Latin-1; answering 502")
        response, headers = _BAD_HEADERS, [(b"content-type", b"application/json")]
    added_ms = (time.perf_counter() - started) * 1000 - response.handler_ms
    headers += (
        (b"content-length", str(len(response.body)).encode()),
        (b"apigw-requestid", request_id.encode()),
        (b"x-lockgate-latency", f"{max(added_ms, 0.0):.3f}".encode()),
    )
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
