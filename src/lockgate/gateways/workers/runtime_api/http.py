"""HTTP/1.1 for the Runtime API: requests parsed off one connection by httptools (the C
parser uvicorn uses), answers written as bytes. The runtimes keep one connection open and
send one request at a time, so the parser queues whole requests and the server answers
them in order.

Limits: a head over ``max_head`` bytes or a malformed request is answered 400 and the
connection closed; a body over ``max_body`` is not read (the request is queued with no body,
for a 413) and reading stops.
"""

from __future__ import annotations

import asyncio
import http
from collections import deque
from typing import NamedTuple, cast

import httptools

__all__ = ["Answer", "HttpRequest", "ProtocolError", "RequestReader", "answer_bytes"]

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
"""Status, headers (lower-case names) and body of a response."""

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HttpRequest(NamedTuple):
    """One whole request; ``body`` is None when it was over the limit (left unread)."""

    method: bytes
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes | None

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case), decoded, or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


class ProtocolError(Exception):
    """The client sent something that is not an HTTP/1.1 request this server takes."""


class RequestReader(asyncio.Protocol):
    """An ``asyncio.Protocol`` that turns the bytes of one connection into requests.

    Args:
        max_body: The largest body read; a larger one ends the connection after a 413.
        max_head: The largest request line plus headers.
    """

    def __init__(self, *, max_body: int, max_head: int) -> None:
        self._max_body = max_body
        self._max_head = max_head
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[HttpRequest | ProtocolError] = deque()
        self._ready = asyncio.Event()
        self.transport: asyncio.Transport | None = None
        self.gone = False
        self.keep_alive = True
        self._reset()

    def _reset(self) -> None:
        self._url = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._size = 0
        self._refused = False  # over a limit: queued already, nothing more is read

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's; both have what is used here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("protocol upgrades and CONNECT are not served here")
        except httptools.HttpParserError as exc:
            self._fail(f"malformed request: {exc}")

    def eof_received(self) -> bool:
        self._lost()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self._lost()

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._grow_head(len(name) + len(value))

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        declared = _content_length(self._headers)
        if declared is not None and declared > self._max_body:
            self._refuse()
            return
        if self.transport is not None and (b"expect", b"100-continue") in self._headers:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._size += len(body)
        if self._size > self._max_body:
            self._refuse()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._push(self._request(b"".join(self._body)))

    # -- for the server ----------------------------------------------------------------------

    async def next_request(self) -> HttpRequest | ProtocolError | None:
        """The next whole request, a protocol error, or None once the client is gone."""
        while not self._queue:
            if self.gone:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def send(self, answer: Answer, *, close: bool) -> None:
        """Write ``answer``; ``close`` ends the connection once it is written."""
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(answer_bytes(answer, close=close))
        if close:
            self.transport.close()

    # -- inside ----------------------------------------------------------------------------

    def _request(self, body: bytes | None) -> HttpRequest:
        path = self._url.decode("ascii", "replace").split("?", 1)[0]
        return HttpRequest(self._parser.get_method(), path, self._headers, body)

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self._max_head and not self._refused:
            raise httptools.HttpParserError(f"the request head is over {self._max_head} bytes")

    def _refuse(self) -> None:
        """A body over the limit: queue the request for its 413 and read nothing more."""
        self._refused = True
        self.keep_alive = False
        self._push(self._request(None))
        if self.transport is not None:
            self.transport.pause_reading()

    def _fail(self, message: str) -> None:
        self._refused = True
        self.keep_alive = False
        self._push(ProtocolError(message))
        if self.transport is not None:
            self.transport.pause_reading()

    def _push(self, item: HttpRequest | ProtocolError) -> None:
        self._queue.append(item)
        self._ready.set()

    def _lost(self) -> None:
        self.gone = True
        self._ready.set()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def answer_bytes(answer: Answer, *, close: bool) -> bytes:
    """The response as it goes on the wire, with its Content-Length."""
    status, headers, body = answer
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"content-length: " + str(len(body)).encode())
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
