"""The hardened listener: uvicorn's httptools protocol with the limits a public gateway needs.

uvicorn bounds neither the time a client may take to send its headers or its body nor their
size: one client holding a thousand half-sent requests stops everyone else, and a 32 MB
header is buffered whole (httptools keeps a header value until it ends). This protocol keeps
uvicorn's parsing and ASGI cycle and adds, per connection:

* a header meter: while a request's headers are incomplete, only the room left under
  ``max_header_bytes`` is fed to the parser, so an oversized header never reaches it (431);
* ``max_headers`` and exactly one ``Host`` on HTTP/1.1 (0 or 1 on HTTP/1.0), checked when
  the headers are complete (431, 400);
* deadlines: the whole header within ``header_timeout`` (from the connection's start, or
  from the first byte of a keep-alive connection's next request), and body progress within
  ``body_timeout`` (time while reading is paused for the app does not count);
* connection slots per client address and in total, taken at accept (503 and closed).

Deadlines are checked by one periodic sweep per listener rather than a timer per request,
so the per-request cost is a clock read and a few attribute writes. Every refusal and
cut-off is logged through an :class:`OffenceLog`: one WARNING per client address a minute.

Refusals are answered from the callbacks without raising: httptools wraps any exception a
callback raises in ``HttpParserCallbackError``, which uvicorn answers as "400 Invalid HTTP
request received" with a WARNING of its own. Instead a refused connection marks itself,
writes its answer, closes, and ignores the rest of the bytes already handed to the parser.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from lockgate.controllers.http.listener.limits import ConnectionSlots, ListenerLimits, OffenceLog

__all__ = ["HardenedHttpToolsProtocol", "ListenerConfig", "ListenerState"]

logger = logging.getLogger(__name__)

_NOT_METERED = -1  # the header meter's room while a request body is being read


class ListenerState:
    """What every connection of one listener shares: its limits, the connection slots, the
    offence log and the sweep that enforces the deadlines.

    Args:
        limits: The listener's limits.
    """

    def __init__(self, limits: ListenerLimits) -> None:
        self.limits = limits
        self.slots = ConnectionSlots(limits.max_connections_per_client, limits.max_connections)
        self.offences = OffenceLog(logger)
        self.connections: set[HardenedHttpToolsProtocol] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeping: asyncio.TimerHandle | None = None

    def watch(self, connection: HardenedHttpToolsProtocol, loop: asyncio.AbstractEventLoop) -> None:
        """Check ``connection``'s deadlines from now on (until ``forget``)."""
        self.connections.add(connection)
        if self._sweeping is None:
            self._loop = loop
            self._sweeping = loop.call_later(self.limits.sweep_interval, self._sweep)

    def forget(self, connection: HardenedHttpToolsProtocol) -> None:
        """Stop checking ``connection`` (it is closed)."""
        self.connections.discard(connection)

    def _sweep(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for connection in list(self.connections):
            connection.check_deadlines(now)
        self.offences.flush(now)
        # Stops when idle (nothing is left to check or to summarise), so a stopped server
        # leaves no timer behind; the next connection starts it again.
        if self.connections or len(self.offences):
            self._sweeping = self._loop.call_later(self.limits.sweep_interval, self._sweep)
        else:
            self._sweeping = None


class ListenerConfig(uvicorn.Config):
    """A ``uvicorn.Config`` serving with :class:`HardenedHttpToolsProtocol`; it holds the
    listener's shared state, which every connection's protocol reads from its config.

    Args:
        app: The ASGI application.
        limits: The listener's limits.
        kwargs: Any other ``uvicorn.Config`` option but ``http``.
    """

    def __init__(self, app: Any, *, limits: ListenerLimits, **kwargs: Any) -> None:
        super().__init__(app, http=HardenedHttpToolsProtocol, **kwargs)
        self.listener = ListenerState(limits)


def _response(status: int, message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete ``connection: close`` answer with a JSON body in API Gateway's error shape."""
    body = json.dumps({"message": message}).encode()
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HardenedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the listener's limits (see the module docstring).

    The per-request overrides call ``HttpToolsProtocol.<method>(self, ...)`` rather than
    ``super()``: on Python 3.11 each ``super()`` builds an object, and the five of them were
    a third of the listener's cost per request (``benchmarks/functions/listener_micro.py``).

    Raises:
        TypeError: The server's config is not a :class:`ListenerConfig`.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, ListenerConfig):
            raise TypeError(
                "HardenedHttpToolsProtocol needs a ListenerConfig (it holds the listener's "
                f"limits), got {type(config).__name__}"
            )
        self._state = config.listener
        limits = config.listener.limits
        self._max_header_bytes = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._clock = self.loop.time
        self._address: str | None = None  # set once admitted; its slot is given back on close
        self._refused = False  # answered or cut: the rest of what the parser holds is ignored
        # The header meter: bytes the current header section may still take, or
        # _NOT_METERED while a body is read. _begun: a request has started since the last
        # one completed. _exact: that request may have started inside a chunk the meter
        # did not count, so its headers' size is summed when they are complete.
        self._room = self._max_header_bytes
        self._begun = False
        self._exact = False
        self._received = 0  # bytes received on this connection: the body's progress
        self._header_since: float | None = None  # set while headers are incomplete
        self._in_body = False
        self._body_mark = -1
        self._body_since = 0.0

    # -- the connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "local"
        slots = self._state.slots
        over = slots.acquire(address)
        if over is not None:
            cap = slots.per_client if over == "max_connections_per_client" else slots.total
            self._refuse(503, over, f"connection refused: {over} ({cap}) reached", address)
            return
        self._address = address
        self._header_since = self._clock()  # a connection that never sends is cut too
        self._state.watch(self, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            self._state.slots.release(self._address)
            self._state.forget(self)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        room = self._room
        if room == _NOT_METERED:
            HttpToolsProtocol.data_received(self, data)
        elif len(data) <= room:
            if room == self._max_header_bytes and not self._begun:
                self._exact = False  # this chunk starts the header section: all of it is counted
            self._room = room - len(data)
            HttpToolsProtocol.data_received(self, data)
        else:
            self._feed_past_room(data, room)

    def _feed_past_room(self, data: bytes, room: int) -> None:
        """``data`` is more than the header section has room for: feed the room, and refuse
        unless the headers completed within it (then the rest is a body or a next request)."""
        self._room = 0
        if room:
            HttpToolsProtocol.data_received(self, data[:room])
        if self._refused or self.transport.is_closing():
            return
        if self._room == 0:  # still the same incomplete header section
            self._refuse(
                431,
                "max_header_bytes",
                f"request headers over max_header_bytes ({self._max_header_bytes} bytes)",
            )
            return
        self.data_received(data[room:])

    # -- parser callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._begun = True
        if self._header_since is None:  # the next request of a keep-alive connection
            self._header_since = self._clock()

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._header_since = None
        self._room = _NOT_METERED
        problem = self._header_problem(self.headers)
        if problem is not None:
            self._refuse(*problem)
            return
        self._in_body = True
        HttpToolsProtocol.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            HttpToolsProtocol.on_body(self, body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._in_body = False
        self._room = self._max_header_bytes
        self._begun = False
        self._exact = True  # the next request may start in the chunk being parsed
        HttpToolsProtocol.on_message_complete(self)

    def _header_problem(self, headers: list[tuple[bytes, bytes]]) -> tuple[int, str, str] | None:
        """The status, limit name and message to refuse the request with, or None."""
        if len(headers) > self._max_headers:
            return 431, "max_headers", f"more than max_headers ({self._max_headers}) headers"
        if self._exact:
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in headers)
            if size > self._max_header_bytes:
                return (
                    431,
                    "max_header_bytes",
                    f"request headers over max_header_bytes ({self._max_header_bytes} bytes)",
                )
        hosts = 0
        for name, _ in headers:
            if name == b"host":
                hosts += 1
        if hosts == 1 or (hosts == 0 and self.parser.get_http_version() == "1.0"):
            return None
        found = "no Host header" if hosts == 0 else f"{hosts} Host headers"
        return 400, "host", f"an HTTP/1.1 request needs exactly one Host header, got {found}"

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn logs two WARNINGs for every request asking for a protocol upgrade (Lockgate
        # serves no WebSockets); through the offence log a client cannot flood the log.
        self._state.offences.record(
            self._address or "local",
            "upgrade",
            "asked to upgrade the connection; there is nothing to upgrade to, served as HTTP",
            self._clock(),
        )

    # -- limits ---------------------------------------------------------------------------

    def check_deadlines(self, now: float) -> None:
        """Cut the connection if its headers or its body are overdue (called by the sweep).

        Args:
            now: The event loop's clock.
        """
        if self._refused:
            return
        limits = self._state.limits
        since = self._header_since
        if since is not None:
            if now - since >= limits.header_timeout:
                self._cut(
                    408,
                    "header_timeout",
                    "request headers incomplete after header_timeout "
                    f"({limits.header_timeout:g} s)",
                )
            return
        if not self._in_body:
            return
        cycle = self.cycle
        if (
            self._received != self._body_mark
            or self.flow.read_paused  # the app is not reading: the client may not send
            or (cycle is not None and cycle.waiting_for_100_continue)
        ):
            self._body_mark = self._received
            self._body_since = now
        elif now - self._body_since >= limits.body_timeout:
            self._cut(
                None,
                "body_timeout",
                f"request body stalled for body_timeout ({limits.body_timeout:g} s)",
            )

    def _cut(self, status: int | None, reason: str, detail: str) -> None:
        """Close a connection whose client is too slow; answer ``status`` if a request has
        begun and no response is under way (a connection that sent nothing just closes)."""
        if not self._begun:
            status = None  # nothing of a request arrived: nobody to answer
        self._refuse(status, reason, f"closed: {detail}")

    def _refuse(
        self, status: int | None, reason: str, detail: str, address: str | None = None
    ) -> None:
        self._refused = True
        self._header_since = None
        self._in_body = False
        where = address or self._address or "local"
        self._state.offences.record(where, reason, detail, self._clock())
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # Never write into a response that is under way (a pipelined request's): just close.
        if status is not None and (cycle is None or cycle.response_complete):
            message = detail.removeprefix("closed: ")
            self.transport.write(_response(status, message, self.server_state.default_headers))
        self.transport.close()
