"""Raw HTTP/1.x over loopback sockets, for what an HTTP client library will not send: paths
with dot segments as written, missing or repeated Host headers, half-sent requests."""

from __future__ import annotations

import socket
from dataclasses import dataclass

__all__ = [
    "RawResponse",
    "connect",
    "exchange",
    "read_response",
    "read_until_closed",
    "request_bytes",
]

# A guard against a hang, never a timing claim: every read below ends when the gateway
# answers or closes, long before this.
HANG_GUARD = 60.0


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection to the gateway on 127.0.0.1 from ``source`` (any 127.x.y.z address:
    each one is a different client address to the gateway)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(HANG_GUARD)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def request_bytes(
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """A request exactly as given: no Host is added, the target is not normalised."""
    lines = [f"{method} {target} {version}", *(f"{name}: {value}" for name, value in headers or [])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (a reset ends it too)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def read_response(sock: socket.socket) -> RawResponse:
    """One response with a Content-Length, read whole, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the gateway closed the connection mid-response"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(parse(head + b"\r\n\r\n").headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the gateway closed the connection mid-body"
        body += chunk
    return parse(head + b"\r\n\r\n" + body)


def parse(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def exchange(port: int, request: bytes, source: str = "127.0.0.1") -> RawResponse:
    """Send ``request`` on a new connection and read the answer to the end (the request
    should ask for ``Connection: close``, or be one the gateway refuses)."""
    with connect(port, source) as sock:
        sock.sendall(request)
        raw = read_until_closed(sock)
    assert raw, "the gateway closed the connection without answering"
    return parse(raw)
