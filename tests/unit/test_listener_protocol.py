"""The hardened protocol driven byte by byte, without sockets: what reaches the parser and
the app, what is answered, and when a connection is cut (deadlines checked at chosen times
of the loop's clock, never by waiting)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send
from uvicorn.server import ServerState

from lockgate.controllers.http.listener.limits import ListenerLimits
from lockgate.controllers.http.listener.protocol import HardenedHttpToolsProtocol, ListenerConfig

LIMITS = ListenerLimits(
    header_timeout=100,
    body_timeout=100,
    max_header_bytes=4096,
    max_headers=20,
    max_connections=4,
    max_connections_per_client=2,
)


class FakeTransport(asyncio.Transport):
    """What the protocol writes, and whether it closed or paused reading."""

    def __init__(self, peer: str = "127.0.0.1") -> None:
        super().__init__({"peername": (peer, 40000), "sockname": ("127.0.0.1", 8000)})
        self.written = bytearray()
        self._closed = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self._closed = True

    def is_closing(self) -> bool:
        return self._closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class FeedSpy:
    """Stands between the protocol and its parser and counts the bytes it is fed."""

    def __init__(self, parser: Any) -> None:
        self._parser = parser
        self.fed = 0

    def feed_data(self, data: bytes) -> None:
        self.fed += len(data)
        self._parser.feed_data(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class Echo:
    """An app that reads the whole body, then answers 200 with it; records each scope."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        body = b""
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Listener:
    """One listener's config and state, making connections on the running loop."""

    def __init__(self, limits: ListenerLimits = LIMITS) -> None:
        self.app = Echo()
        self.config = ListenerConfig(self.app, limits=limits, log_config=None, proxy_headers=False)
        self.config.load()
        self.server_state = ServerState()

    def connect(self, peer: str = "127.0.0.1") -> tuple[HardenedHttpToolsProtocol, FakeTransport]:
        protocol = HardenedHttpToolsProtocol(
            self.config, self.server_state, {}, asyncio.get_running_loop()
        )
        transport = FakeTransport(peer)
        protocol.connection_made(transport)
        return protocol, transport


async def settle() -> None:
    """Let the app's tasks run until they wait for the client again."""
    for _ in range(5):
        await asyncio.sleep(0)


def status(transport: FakeTransport) -> bytes:
    return bytes(transport.written).split(b"\r\n", 1)[0]


GET = b"GET /echo/x HTTP/1.1\r\nHost: a\r\n\r\n"


async def test_a_request_in_small_chunks_is_served() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    for byte in GET:
        protocol.data_received(bytes([byte]))
    await settle()
    assert status(transport) == b"HTTP/1.1 200 OK"
    assert listener.app.scopes[0]["path"] == "/echo/x"
    assert not transport.is_closing()


async def test_keep_alive_requests_are_each_metered_afresh() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    filler = b"X-Fill: " + b"f" * 3000 + b"\r\n"  # 3 KiB each: two would be over 4 KiB
    for _ in range(3):
        protocol.data_received(b"GET /echo/x HTTP/1.1\r\nHost: a\r\n" + filler + b"\r\n")
        await settle()
    assert bytes(transport.written).count(b"HTTP/1.1 200 OK") == 3


async def test_an_oversized_header_is_refused_without_being_fed_to_the_parser() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    spy = FeedSpy(protocol.parser)
    protocol.parser = spy  # type: ignore[assignment]
    protocol.data_received(b"GET /echo/x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 4 * 1024 * 1024)
    assert status(transport) == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"max_header_bytes (4096 bytes)" in transport.written
    assert transport.is_closing()
    assert spy.fed <= LIMITS.max_header_bytes
    assert listener.app.scopes == []


async def test_a_header_that_fills_the_room_exactly_then_goes_on_is_refused() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    head = b"GET /echo/x HTTP/1.1\r\nHost: a\r\nX-Big: "
    protocol.data_received(head + b"a" * (LIMITS.max_header_bytes - len(head)))
    assert not transport.is_closing()
    protocol.data_received(b"a")
    assert status(transport) == b"HTTP/1.1 431 Request Header Fields Too Large"


async def test_a_body_may_follow_headers_in_the_chunk_that_ends_them() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    body = b"b" * 10_000  # more than the header room: only the header part is metered
    protocol.data_received(
        b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    await settle()
    assert status(transport) == b"HTTP/1.1 200 OK"
    assert transport.written.endswith(body)


async def test_a_pipelined_request_is_held_to_the_header_limit_too() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    # The second request starts in the chunk that ends the first, where the meter counted
    # the bytes against the first request: its size is summed when its headers complete.
    half = b"X-Half: " + b"h" * 2500 + b"\r\n"
    protocol.data_received(GET + b"GET /echo/y HTTP/1.1\r\nHost: a\r\n" + half)
    await settle()
    assert status(transport) == b"HTTP/1.1 200 OK"
    protocol.data_received(half + b"\r\n")
    await settle()
    assert b"HTTP/1.1 431 Request Header Fields Too Large" in transport.written
    assert transport.is_closing()
    assert [scope["path"] for scope in listener.app.scopes] == ["/echo/x"]


async def test_too_many_headers_are_a_431() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(LIMITS.max_headers))
    protocol.data_received(b"GET /echo/x HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n")
    assert status(transport) == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"more than max_headers (20) headers" in transport.written
    assert listener.app.scopes == []


@pytest.mark.parametrize(
    ("request_head", "answer"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
        (b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"GET / HTTP/1.0\r\nHost: a\r\n\r\n", b"HTTP/1.1 200 OK"),
        (b"GET / HTTP/1.1\r\nHOST: a\r\n\r\n", b"HTTP/1.1 200 OK"),
    ],
)
async def test_host_headers(request_head: bytes, answer: bytes) -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    protocol.data_received(request_head)
    await settle()
    assert status(transport) == answer


async def test_a_refused_request_ignores_what_follows_it_in_the_chunk() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    body = b"x" * 100
    protocol.data_received(
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + body + GET  # no Host: refused
    )
    await settle()
    assert status(transport) == b"HTTP/1.1 400 Bad Request"
    assert b"200 OK" not in transport.written
    assert listener.app.scopes == []


# -- deadlines ------------------------------------------------------------------------------


async def test_a_silent_connection_is_closed_at_header_timeout_without_an_answer() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    start = asyncio.get_running_loop().time()
    protocol.check_deadlines(start + LIMITS.header_timeout - 1)
    assert not transport.is_closing()
    protocol.check_deadlines(start + LIMITS.header_timeout)
    assert transport.is_closing()
    assert transport.written == b""


async def test_the_whole_header_counts_however_slowly_it_trickles() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    start = asyncio.get_running_loop().time()
    protocol.data_received(b"GET /echo/x HTTP/1.1\r\n")
    protocol.check_deadlines(start + LIMITS.header_timeout / 2)
    protocol.data_received(b"X-Slow: 1\r\n")  # progress does not extend the header deadline
    protocol.check_deadlines(start + LIMITS.header_timeout)
    assert status(transport) == b"HTTP/1.1 408 Request Timeout"
    assert transport.is_closing()


async def test_a_keep_alive_request_is_timed_from_its_first_byte() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    loop = asyncio.get_running_loop()
    protocol.data_received(GET)
    await settle()
    protocol.check_deadlines(loop.time() + 10 * LIMITS.header_timeout)  # idle: not timed here
    assert not transport.is_closing()
    begun = loop.time()
    protocol.data_received(b"GET /echo/y HTTP/1.1\r\n")
    protocol.check_deadlines(begun + LIMITS.header_timeout - 1)
    assert not transport.is_closing()
    protocol.check_deadlines(begun + LIMITS.header_timeout + 1)
    assert transport.is_closing()


async def test_a_body_without_progress_is_cut_at_body_timeout() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    await settle()
    start = asyncio.get_running_loop().time()
    protocol.check_deadlines(start)  # the sweep notes the body's progress
    protocol.check_deadlines(start + LIMITS.body_timeout - 1)
    protocol.data_received(b"d")  # progress: the clock starts again
    protocol.check_deadlines(start + LIMITS.body_timeout + 1)
    assert not transport.is_closing()
    protocol.check_deadlines(start + 2 * LIMITS.body_timeout + 1)
    assert transport.is_closing()
    assert transport.written == b""  # nothing to answer: the app sees the client gone


async def test_time_while_reading_is_paused_does_not_count() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    start = asyncio.get_running_loop().time()
    protocol.flow.pause_reading()  # as uvicorn does when the app does not read
    protocol.check_deadlines(start + 3 * LIMITS.body_timeout)
    protocol.flow.resume_reading()
    protocol.check_deadlines(start + 4 * LIMITS.body_timeout - 1)
    assert not transport.is_closing()
    protocol.check_deadlines(start + 4 * LIMITS.body_timeout)
    assert transport.is_closing()


async def test_a_complete_request_has_no_deadline_while_the_app_works() -> None:
    listener = Listener()
    protocol, transport = listener.connect()
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
    protocol.check_deadlines(asyncio.get_running_loop().time() + 1000)
    assert not transport.is_closing()


# -- connection caps and the log ---------------------------------------------------------


async def test_connections_over_the_per_client_cap_are_refused_with_a_503() -> None:
    listener = Listener()
    first, _ = listener.connect("10.0.0.1")
    listener.connect("10.0.0.1")
    _, refused = listener.connect("10.0.0.1")
    assert status(refused) == b"HTTP/1.1 503 Service Unavailable"
    assert b"max_connections_per_client (2) reached" in refused.written
    assert refused.is_closing()
    _, other = listener.connect("10.0.0.2")  # another address is still served
    assert not other.is_closing()
    first.connection_lost(None)
    _, again = listener.connect("10.0.0.1")  # a closed connection gives its slot back
    assert not again.is_closing()


async def test_connections_over_the_total_cap_are_refused() -> None:
    listener = Listener()
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        listener.connect(address)
    _, refused = listener.connect("10.0.0.5")
    assert b"max_connections (4) reached" in refused.written
    assert listener.config.listener.slots.open == 4


async def test_a_refused_connection_gives_back_no_slot_it_did_not_take() -> None:
    listener = Listener()
    listener.connect("10.0.0.1")
    listener.connect("10.0.0.1")
    refused, _ = listener.connect("10.0.0.1")
    refused.connection_lost(None)
    assert listener.config.listener.slots.held_by("10.0.0.1") == 2


async def test_many_refusals_from_one_address_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = Listener()
    with caplog.at_level(logging.WARNING, logger="lockgate.controllers.http.listener.protocol"):
        for _ in range(50):
            protocol, _ = listener.connect("10.0.0.9")
            protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
            protocol.connection_lost(None)
    assert len(caplog.records) == 1
    assert "client 10.0.0.9:" in caplog.records[0].getMessage()


async def test_a_protocol_needs_the_listener_config() -> None:
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(Echo(), log_config=None)
    with pytest.raises(TypeError, match="needs a ListenerConfig"):
        HardenedHttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
