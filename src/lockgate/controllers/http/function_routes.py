"""Declared routes, served as raw ASGI: this is the hot path, so no framework objects.

A request is read into an ``InputContext``, handed to the ``GatewayRequestProcessor``, and
its ``HttpResponse`` written back with ``X-Lockgate-Latency`` (the milliseconds the gateway
added, handler time excluded) and the request id.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from lockgate.controllers.http.asgi import arrival, read_body, serve_request
from lockgate.models.context import HttpResponse, InputContext
from lockgate.use_cases.routes.request_processor import GatewayRequestProcessor, json_response

__all__ = ["FunctionRoutes", "input_context"]

_TOO_LARGE = json_response(413, {"message": "Request Entity Too Large"})


class FunctionRoutes:
    """The ASGI app behind every declared route."""

    def __init__(self, processor: GatewayRequestProcessor) -> None:
        self._processor = processor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def handle(request_id: str) -> HttpResponse:
            body = await read_body(scope, receive, self._processor.max_body_bytes)
            if body is None:
                return _TOO_LARGE
            return await self._processor.process(input_context(scope, body, request_id))

        await serve_request(send, handle, _apigw_request_id, started=arrival(scope))


def _apigw_request_id(request_id: str) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"apigw-requestid", request_id.encode()),)


def input_context(scope: Scope, body: bytes, request_id: str) -> InputContext:
    # One pass: every header decoded once, kept in order and joined by name. ASGI servers
    # send header names lower-cased already.
    raw_headers: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        raw_headers.append((name, value))
        joined = headers.get(name)
        headers[name] = value if joined is None else f"{joined},{value}"
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    if raw_query:
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
    client = scope.get("client")
    version = scope.get("http_version", "1.1")
    return InputContext(
        path=scope["path"],
        method=scope["method"],
        headers=headers,
        query_params=query,
        body=body,
        user_id=None,
        request_id=request_id,
        raw_headers=tuple(raw_headers),
        raw_query_string=raw_query,
        source_ip=client[0] if client else "127.0.0.1",
        protocol=_PROTOCOLS.get(version) or f"HTTP/{version}",
        received_at=time.time(),
    )


_PROTOCOLS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2"}
