"""The Lambda Runtime API, served to one custom-runtime worker on a loopback port.

A custom runtime (``awslambdaric``, a shell ``bootstrap``) long-polls
``GET /2018-06-01/runtime/invocation/next`` for an event and posts the handler's result to
``…/invocation/{id}/response`` or ``…/invocation/{id}/error``; a runtime that cannot start
posts ``…/runtime/init/error``. Status codes and error bodies are those of AWS and its
runtime interface emulator: 202 ``{"status":"OK"}`` for an accepted post, 400
``InvalidRequestID`` for an id that is not the one in flight, 403 ``InvalidStateTransition``
for a post or poll that makes no sense now, 413 for a body over the payload limit.

HTTP/1.1 is parsed by httptools (see ``runtime_api.http``), with keep-alive (the runtimes
keep one connection open) and both Content-Length and chunked bodies. Whatever a client
sends, the worst it gets is an error answer and a closed connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable
from typing import NamedTuple

import orjson

from lockgate.gateways.workers.runtime_api.codec import event_headers, posted_error
from lockgate.gateways.workers.runtime_api.http import (
    Answer,
    HttpRequest,
    ProtocolError,
    RequestReader,
)
from lockgate.models.invocation import HandlerError, WorkerInvocation

__all__ = ["MAX_BODY_BYTES", "RuntimeApiServer", "RuntimeGoneError", "RuntimeReply"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 6 * 1024 * 1024 + 100
"""Lambda's 6 MB payload limit plus the margin AWS itself allows (6291556 bytes)."""
# awslambdaric sends the X-Ray cause of a handler error as a header of up to 1 MB.
_MAX_HEAD_BYTES = 1024 * 1024 + 64 * 1024
_BACKLOG = 16
_NEXT = "/2018-06-01/runtime/invocation/next"
_INIT_ERROR = "/2018-06-01/runtime/init/error"
_INVOCATION = re.compile(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)")
_ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"
_ACCEPTED = orjson.dumps({"status": "OK"})


class RuntimeGoneError(Exception):
    """The runtime process went away before it answered."""


class RuntimeReply(NamedTuple):
    """The runtime's answer to one event: its result or its error, and how long it took."""

    payload: bytes
    error: HandlerError | None
    duration_ms: float


class _Exchange:
    """One invocation, from ``submit`` until the runtime posts its answer."""

    __slots__ = ("handed_out_at", "invocation", "reply")

    def __init__(self, invocation: WorkerInvocation, reply: asyncio.Future[RuntimeReply]) -> None:
        self.invocation = invocation
        self.reply = reply
        self.handed_out_at: float | None = None


class _Connection:
    """An accepted socket, and its reader once it has one; whoever ends first closes it."""

    __slots__ = ("reader", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: RequestReader | None = None


class RuntimeApiServer:
    """The Runtime API of one worker, on ``127.0.0.1`` and a port the kernel picks.

    Args:
        max_body_bytes: Largest request body accepted; a larger one gets 413.
        on_handout: Called, synchronously, just before an event is handed to the runtime.

    Note:
        One invocation at a time: ``submit`` while one is in flight is a bug in the caller.
    """

    def __init__(
        self,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        on_handout: Callable[[], None] | None = None,
    ) -> None:
        self._max_body = max_body_bytes
        self._on_handout = on_handout
        self._loop = asyncio.get_running_loop()
        self._listener: socket.socket | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._exchange: _Exchange | None = None
        self._work = asyncio.Event()
        self.address = ""
        self.started: asyncio.Future[HandlerError | None] = self._loop.create_future()
        """Resolves to None at the runtime's first poll for an event, or to the error it
        posted to ``/init/error``; fails with ``RuntimeGoneError`` after ``abort``."""

    async def start(self) -> str:
        """Listen; returns ``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        # A listening socket and a reader of our own rather than asyncio.start_server or
        # sock_accept: in 3.11 both leak a connection accepted just as they are closed
        # (Server._attach asserts; sock_accept sets a cancelled future's result), and a
        # runtime killed mid-connect makes that routine. Removing the reader cancels an
        # accept already queued, so ``close`` is final at once.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(_BACKLOG)
            listener.setblocking(False)
            self._loop.add_reader(listener.fileno(), self._accept)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self.address = "{}:{}".format(*listener.getsockname())
        return self.address

    def submit(self, invocation: WorkerInvocation) -> asyncio.Future[RuntimeReply]:
        """Offer ``invocation`` to the runtime's next poll; the future is its answer."""
        if self._exchange is not None and not self._exchange.reply.done():
            raise RuntimeError("the runtime already has an invocation in flight")
        reply: asyncio.Future[RuntimeReply] = asyncio.get_running_loop().create_future()
        self._exchange = _Exchange(invocation, reply)
        self._work.set()
        return reply

    @property
    def handed_out(self) -> bool:
        """True once the current (or last) invocation was given to the runtime."""
        return self._exchange is not None and self._exchange.handed_out_at is not None

    def abort(self) -> None:
        """The runtime is gone: whoever waits for its start or its answer learns so."""
        gone = RuntimeGoneError("the runtime exited")
        if not self.started.done():
            self.started.set_exception(gone)
        if self._exchange is not None and not self._exchange.reply.done():
            self._exchange.reply.set_exception(gone)

    def close(self) -> None:
        """Stop listening and drop every connection; ``wait_closed`` waits for them."""
        listener, self._listener = self._listener, None
        if listener is not None:
            self._loop.remove_reader(listener.fileno())
            listener.close()
        for task in self._connections:
            task.cancel()

    async def wait_closed(self) -> None:
        """Wait until the listener and every connection are closed."""
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    # -- connections ------------------------------------------------------------------------

    def _accept(self) -> None:
        """The listening socket is readable: take every connection waiting on it."""
        listener = self._listener
        if listener is None:
            return
        for _ in range(_BACKLOG):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, say: the runtime will retry its connect
                logger.warning("the runtime API could not accept a connection", exc_info=True)
                return
            sock.setblocking(False)
            connection = _Connection(sock)
            task = self._loop.create_task(self._open(connection))
            self._connections[task] = connection
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        # However the task ended (even cancelled before it ever ran), its socket is closed.
        connection = self._connections.pop(task)
        reader = connection.reader
        if reader is not None and reader.transport is not None:
            reader.transport.close()
        else:
            connection.sock.close()

    async def _open(self, connection: _Connection) -> None:
        try:
            _, reader = await self._loop.connect_accepted_socket(
                lambda: RequestReader(max_body=self._max_body, max_head=_MAX_HEAD_BYTES),
                sock=connection.sock,
            )
        except OSError:
            return  # the runtime hung up at once
        connection.reader = reader
        try:
            while await self._one_request(reader):
                pass
        except Exception:  # a bug here must cost one connection, never the gateway
            logger.exception("runtime API connection failed")
        finally:
            if reader.transport is not None:
                reader.transport.close()

    async def _one_request(self, conn: RequestReader) -> bool:
        """Serve one request; True when the connection can carry another."""
        request = await conn.next_request()
        if request is None:
            return False
        if isinstance(request, ProtocolError):
            conn.send(_error(400, "InvalidRequest", str(request)), close=True)
            return False
        if request.body is None:
            conn.send(self._too_large(request.path), close=True)
            return False
        if request.path == _NEXT and request.method == b"GET":
            answer = await self._next(conn)
            if answer is None:
                return False  # the poller hung up
        else:
            answer = self._post(request, request.path, request.body)
        conn.send(answer, close=not conn.keep_alive)
        return conn.keep_alive and not conn.gone

    # -- the endpoints ----------------------------------------------------------------------

    async def _next(self, conn: RequestReader) -> Answer | None:
        """Long-poll until an invocation is offered; None if the poller left meanwhile."""
        if not self.started.done():
            self.started.set_result(None)
        if self._exchange is not None and self._in_flight(self._exchange):
            return _error(403, "InvalidStateTransition", "an invocation is already in progress")
        while True:
            exchange = self._exchange
            if (
                exchange is not None
                and exchange.handed_out_at is None
                and not exchange.reply.done()
            ):
                break
            # A poller that hung up (a client-side timeout, say) must not swallow the event.
            if conn.gone:
                return None
            self._work.clear()
            await self._work.wait()
        if conn.gone:
            self._work.set()  # still offered: wake the next poller
            return None
        if self._on_handout is not None:
            self._on_handout()
        exchange.handed_out_at = time.perf_counter()
        return 200, event_headers(exchange.invocation), exchange.invocation.payload

    def _post(self, request: HttpRequest, path: str, body: bytes) -> Answer:
        if path == _INIT_ERROR:
            return self._init_error(request, body)
        match = _INVOCATION.fullmatch(path)
        if match is None:
            if path == _NEXT:
                return _not_allowed(b"GET")
            return _error(404, "NotFound", "no such Runtime API endpoint")
        if request.method != b"POST":
            return _not_allowed(b"POST")
        exchange = self._in_flight_as(match.group(1))
        if exchange is None:
            return _error(400, "InvalidRequestID", "Invalid request ID")
        if match.group(2) == "response":
            self._answer(exchange, body, None)
        else:
            self._answer(exchange, b"", posted_error(body, request.header(_ERROR_TYPE_HEADER)))
        return 202, [(b"content-type", b"application/json")], _ACCEPTED

    def _init_error(self, request: HttpRequest, body: bytes) -> Answer:
        if request.method != b"POST":
            return _not_allowed(b"POST")
        if self.started.done():
            return _error(403, "InvalidStateTransition", "the runtime has initialised")
        self.started.set_result(posted_error(body, request.header(_ERROR_TYPE_HEADER)))
        return 202, [(b"content-type", b"application/json")], _ACCEPTED

    def _too_large(self, path: str) -> Answer:
        """413; an oversized answer to the invocation in flight fails it, as on AWS."""
        match = _INVOCATION.fullmatch(path)
        exchange = None if match is None else self._in_flight_as(match.group(1))
        if exchange is not None:
            error = HandlerError(
                error_message="Response payload size exceeded maximum allowed payload "
                f"size ({self._max_body} bytes).",
                error_type="Function.ResponseSizeTooLarge",
            )
            self._answer(exchange, b"", error)
        return _error(413, "RequestEntityTooLarge", f"the body is over {self._max_body} bytes")

    def _in_flight_as(self, request_id: str) -> _Exchange | None:
        """The exchange handed out and not yet answered, if ``request_id`` is its id."""
        exchange = self._exchange
        if exchange is None or not self._in_flight(exchange):
            return None
        return exchange if exchange.invocation.request_id == request_id else None

    @staticmethod
    def _in_flight(exchange: _Exchange) -> bool:
        return exchange.handed_out_at is not None and not exchange.reply.done()

    @staticmethod
    def _answer(exchange: _Exchange, payload: bytes, error: HandlerError | None) -> None:
        handed_out_at = exchange.handed_out_at or time.perf_counter()
        duration_ms = (time.perf_counter() - handed_out_at) * 1000
        exchange.reply.set_result(RuntimeReply(payload, error, duration_ms))


def _error(status: int, error_type: str, message: str) -> Answer:
    body = orjson.dumps({"errorMessage": message, "errorType": error_type})
    return status, [(b"content-type", b"application/json")], body


def _not_allowed(allow: bytes) -> Answer:
    status, headers, body = _error(405, "MethodNotAllowed", "method not allowed here")
    return status, [*headers, (b"allow", allow)], body
