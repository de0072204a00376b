"""``TracedGatewayApp``: the gateway's ASGI app with a server span around every request.

A subclass rather than a wrapper, made only when tracing is on: with it off, requests pay
not even a frame for it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from lockgate.controllers.http.access_log import RESPONSE_STATUS, log_access
from lockgate.controllers.http.app import GatewayApp
from lockgate.controllers.http.asgi import ARRIVED
from lockgate.controllers.http.lambda_api import INVOKE_PATH
from lockgate.controllers.log_setup import request_id_var
from lockgate.models.ids import new_request_id
from lockgate.use_cases.routes.server_spans import ServerSpans

__all__ = ["INVOKE_ROUTE", "TracedGatewayApp"]

INVOKE_ROUTE = "/2015-03-31/functions/{FunctionName}/invocations"
_PROTOCOLS = {"1.0": "1.0", "1.1": "1.1", "2": "2"}
_CARRIED = frozenset({b"traceparent", b"tracestate", b"user-agent"})


class TracedGatewayApp(GatewayApp):
    """``GatewayApp`` whose requests each have a server span (``spans`` makes them); the
    other arguments are ``GatewayApp``'s."""

    def __init__(self, *args: Any, spans: ServerSpans, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans = spans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope[ARRIVED] = time.perf_counter()  # the span's making counts as the gateway's
        method: str = scope["method"]
        path: str = scope["path"]
        # Only the propagation headers and the user agent are read from the carrier (a
        # loop, not a comprehension: one frame fewer on every traced request).
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name in _CARRIED:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        client = scope.get("client")
        with self.spans.request(
            method,
            path,
            headers,
            scope.get("scheme", "http"),
            client[0] if client else None,
            _PROTOCOLS.get(scope.get("http_version", "1.1"), "1.1"),
        ) as span:
            # GatewayApp.__call__'s work, done here rather than awaited: a coroutine fewer
            # on every traced request.
            request_id = new_request_id()
            token = request_id_var.set(request_id)
            try:
                if self._access_log is None:
                    status = await _serve_noting_status(self._http, scope, receive, send)
                else:  # the access log notes the status in the scope
                    await log_access(
                        self._access_log, scope, receive, send, self._http, request_id=request_id
                    )
                    status = scope.get(RESPONSE_STATUS, 0)
            finally:
                request_id_var.reset(token)
            # The route template, where this layer can tell it: the Invoke API's, or a
            # FastAPI endpoint's; a declared route's span is named by the request
            # processor, which matched it.
            if INVOKE_PATH.match(path):
                route: str | None = INVOKE_ROUTE
            else:
                route = getattr(scope.get("route"), "path", None)
            if route is None and 0 < status < 500:  # the usual: ``finish``'s work, inline
                span.set_attribute("http.response.status_code", status)
            else:
                self.spans.finish(span, method, status, route if isinstance(route, str) else None)


async def _serve_noting_status(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> int:
    """Serve the request with ``app``; return the response's status (0: none started)."""
    status = 0

    async def send_noting(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    await app(scope, receive, send_noting)
    return status
