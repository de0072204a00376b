"""The access log: one line per request, written when its response has gone out.

Each line names the method, the path (never the query string, which may carry a key), the
status, the milliseconds the gateway added (``X-Lockgate-Latency``) and the total, the client
address and the request id, the same id as in the function's own output lines.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.types import Message, Receive, Scope, Send

__all__ = ["RESPONSE_STATUS", "Emit", "log_access"]

Emit = Callable[[str, str, str, Mapping[str, object]], None]
"""``ILogLines.emit``: level, logger, message, fields."""

_LATENCY = b"x-lockgate-latency"
RESPONSE_STATUS = "lockgate.status"
"""The scope key the response's status is noted under (the request's server span reads it
there rather than watching the response a second time)."""


async def log_access(
    emit: Emit,
    scope: Scope,
    receive: Receive,
    send: Send,
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    *,
    request_id: str,
) -> None:
    """Serve the request with ``app``, then log its line (also when ``app`` raised)."""
    started = time.perf_counter()
    status = 0
    added = ""

    async def send_noting(message: Message) -> None:
        nonlocal status, added
        if message["type"] == "http.response.start":
            status = scope[RESPONSE_STATUS] = message["status"]
            for name, value in message.get("headers", ()):
                if name == _LATENCY:
                    added = value.decode("latin-1")
        await send(message)

    try:
        await app(scope, receive, send_noting)
    finally:
        total_ms = (time.perf_counter() - started) * 1000
        method, path = scope.get("method", "?"), _printable(scope.get("path", "?"))
        client = scope.get("client")
        fields: dict[str, object] = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "total_ms": round(total_ms, 3),
            "client": client[0] if client else None,
        }
        if added:
            fields["added_ms"] = float(added)
        # Status 0: the client went away (or the app failed) before a response started.
        emit(
            "INFO",
            "lockgate.access",
            f"{method} {path} {status or '-'} {total_ms:.2f} ms"
            + (f" (gateway {added} ms)" if added else ""),
            fields,
        )


def _printable(path: str) -> str:
    """The path as the client sent it, but a decoded ``%0A`` (or any other control
    character) escaped: a line break in it would forge a log line of the client's making."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")
