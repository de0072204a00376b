"""Raw ASGI plumbing for the hot paths (declared routes, the Invoke API): read a bounded
body, look headers up, write an ``HttpResponse`` with ``X-Lockgate-Latency``."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from lockgate.controllers.log_setup import request_id_var
from lockgate.models.context import HttpResponse
from lockgate.models.ids import new_request_id

__all__ = [
    "ARRIVED",
    "ClientGoneError",
    "arrival",
    "header",
    "log_client_gone",
    "read_body",
    "send_response",
    "serve_request",
]

logger = logging.getLogger(__name__)

# The scope key holding when the gateway's outermost app first saw the request, so the
# ``X-Lockgate-Latency`` of every answer counts what ran before the endpoint: the listener's
# gate (a SigV4 check reads the whole body), ``[limits]``, browsers' and hosts' checks.
ARRIVED = "lockgate.arrived"


def arrival(scope: Scope) -> float:
    """When the request arrived (``perf_counter``), or now where nobody marked it."""
    arrived = scope.get(ARRIVED)
    return arrived if isinstance(arrived, float) else time.perf_counter()


class ClientGoneError(Exception):
    """The client disconnected before its request was read: nobody is left to answer.

    Args:
        scope: The request's ASGI scope, for the log line (``log_client_gone``).
    """

    def __init__(self, scope: Scope) -> None:
        super().__init__("the client went away before its request body arrived")
        self.scope = scope


def log_client_gone(scope: Scope) -> None:
    """The one line a request whose client went away mid-body leaves in the log.

    A client closing its connection is ordinary (a browser navigating away, a timeout on
    its side, the listener's body_timeout), so this is INFO and never a traceback.
    """
    client = scope.get("client")
    logger.info(
        "client %s went away before its request body arrived: %s %s",
        f"{client[0]}:{client[1]}" if client else "(unknown)",
        scope.get("method", "?"),
        scope.get("path", "?"),
    )


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes), decoded, or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The body, or None when it is over ``limit`` (refused before reading when declared)."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError(scope)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_BAD_HEADERS = HttpResponse(
    502, (("content-type", "application/json"),), b'{"message": "Internal server error"}'
)


async def send_response(
    send: Send, response: HttpResponse, started: float, extra: tuple[tuple[bytes, bytes], ...]
) -> None:
    """Write ``response`` plus ``extra`` headers, its length and the gateway's added time."""
    try:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers
            if name.lower() != "content-length"
        ]
    except UnicodeEncodeError:
        logger.warning("a function returned a header that is not Latin-1; answering 502")
        response = _BAD_HEADERS
        headers = [(b"content-type", b"application/json")]
    added_ms = (time.perf_counter() - started) * 1000 - response.handler_ms
    headers += extra
    headers += (
        (b"content-length", str(len(response.body)).encode()),
        (b"x-lockgate-latency", f"{max(added_ms, 0.0):.3f}".encode()),
    )
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def serve_request(
    send: Send,
    handle: Callable[[str], Awaitable[HttpResponse]],
    extra: Callable[[str], tuple[tuple[bytes, bytes], ...]] = lambda _: (),
    *,
    started: float | None = None,
) -> None:
    """One request's envelope: its id (in every log line too), the response written with the
    gateway's added time, and nothing written when the client left before its body arrived.

    Args:
        send: The ASGI send callable.
        handle: Makes the response, given the request id.
        extra: Headers to add, given the request id.
        started: When the request arrived (``arrival``); by default, now.
    """
    if started is None:
        started = time.perf_counter()
    request_id = request_id_var.get() or new_request_id()
    token = request_id_var.set(request_id)
    try:
        response = await handle(request_id)
        await send_response(send, response, started, extra(request_id))
    except ClientGoneError as gone:
        log_client_gone(gone.scope)
    finally:
        request_id_var.reset(token)
