"""The hardened listener through a real ``lockgate serve``, with raw sockets on loopback:
header and body timeouts, header size and count limits, Host rules, connection caps under a
slowloris, and a client that leaves mid-body."""

from __future__ import annotations

import json
import resource
import select
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.raw_http import (
    HANG_GUARD,
    RawResponse,
    connect,
    exchange,
    read_response,
    read_until_closed,
    request_bytes,
)
from tests.support import wait_for, wait_until

HOST = ("Host", "localhost")
CLOSE = ("Connection", "close")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def tight() -> Iterator[GatewayProcess]:
    """A gateway whose timeouts are 1 s, logging at INFO."""
    env = {
        "LOCKGATE_HEADER_TIMEOUT": "1",
        "LOCKGATE_BODY_TIMEOUT": "1",
        "LOCKGATE_LOG_LEVEL": "INFO",
    }
    with GatewayProcess(env=env) as running:
        yield running


def get(gateway: GatewayProcess, target: str, *headers: tuple[str, str]) -> RawResponse:
    return exchange(gateway.port, request_bytes("GET", target, [HOST, CLOSE, *headers]))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def output_when(gateway: GatewayProcess, text: str) -> str:
    """The gateway's output once it contains ``text`` (a hang guard bounds the wait)."""
    return wait_for(
        lambda: gateway.read_output().decode(errors="replace"),
        lambda output: text in output,
        guard=HANG_GUARD,
        what=f"{text!r} in the gateway's output",
    )


# -- Host -----------------------------------------------------------------------------------


def test_an_http11_request_without_host_is_a_400(tight: GatewayProcess) -> None:
    response = exchange(tight.port, request_bytes("GET", "/echo/x", [CLOSE]))
    assert response.status == 400
    assert "exactly one Host header, got no Host header" in json.loads(response.body)["message"]


def test_an_http11_request_with_two_hosts_is_a_400(tight: GatewayProcess) -> None:
    response = exchange(
        tight.port, request_bytes("GET", "/echo/x", [HOST, ("Host", "other.test"), CLOSE])
    )
    assert response.status == 400
    assert "got 2 Host headers" in json.loads(response.body)["message"]


def test_an_http10_request_without_host_is_served(tight: GatewayProcess) -> None:
    response = exchange(tight.port, request_bytes("GET", "/echo/old", version="HTTP/1.0"))
    assert response.status == 200
    assert json.loads(response.body)["event"]["pathParameters"] == {"name": "old"}


# -- header size and count ---------------------------------------------------------------


def test_200_headers_are_a_431(tight: GatewayProcess) -> None:
    many = [(f"X-Header-{i}", "1") for i in range(200)]
    response = get(tight, "/echo/x", *many)
    assert response.status == 431
    assert "max_headers (100)" in json.loads(response.body)["message"]


def test_a_32_kib_header_is_a_431_and_the_gateway_does_not_grow(tight: GatewayProcess) -> None:
    before = rss_mib(tight.pid)
    for _ in range(20):
        response = get(tight, "/echo/x", ("X-Big", "a" * 32 * 1024))
        assert response.status == 431
        assert "max_header_bytes (16384 bytes)" in json.loads(response.body)["message"]
    assert rss_mib(tight.pid) - before < 16
    assert get(tight, "/echo/after").status == 200


def test_a_32_mb_header_is_cut_long_before_it_is_sent(tight: GatewayProcess) -> None:
    before = rss_mib(tight.pid)
    total = 32 * MIB
    chunk = b"a" * 64 * 1024
    sent = 0
    with connect(tight.port) as sock:
        sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
        try:
            while sent < total:
                sent += sock.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    # The kernel's socket buffers take a few MiB before the reset arrives; the gateway
    # itself read no more than max_header_bytes of it.
    assert sent < total // 4
    assert rss_mib(tight.pid) - before < 16
    assert get(tight, "/echo/after").status == 200


# -- timeouts -----------------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_after_header_timeout(
    tight: GatewayProcess,
) -> None:
    with connect(tight.port) as sock:
        assert read_until_closed(sock) == b""  # closed, and nothing to answer


def test_a_half_sent_header_is_a_408_after_header_timeout(tight: GatewayProcess) -> None:
    with connect(tight.port) as sock:
        sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        raw = read_until_closed(sock)
    assert raw.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_keep_alive_connection_is_timed_per_request(tight: GatewayProcess) -> None:
    with connect(tight.port) as sock:
        sock.sendall(request_bytes("GET", "/echo/first", [HOST]))
        assert read_response(sock).status == 200
        sock.sendall(b"GET /echo/second HTTP/1.1\r\nHost: localhost\r\n")  # never ends
        assert read_until_closed(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_stalled_body_is_cut_after_body_timeout(tight: GatewayProcess) -> None:
    with connect(tight.port) as sock:
        head = [HOST, ("Content-Length", "1000"), ("Content-Type", "application/json")]
        sock.sendall(request_bytes("POST", "/upload", head, b'{"partial": '))
        assert read_until_closed(sock) == b""  # cut; the handler never ran
    output_when(tight, "went away before its request body arrived: POST /upload")


def test_a_client_gone_mid_body_is_one_info_line_without_a_traceback(
    tight: GatewayProcess,
) -> None:
    path = f"/workflows/gone-{uuid.uuid4().hex}/runs"
    with connect(tight.port) as sock:
        head = [HOST, ("Content-Length", "5000"), ("Content-Type", "application/json")]
        sock.sendall(request_bytes("POST", path, head, b'{"parameters": {'))
    line = f"went away before its request body arrived: POST {path}"
    output = output_when(tight, line)
    assert output.count(line) == 1
    [logged] = [entry for entry in output.splitlines() if line in entry]
    assert " INFO " in logged
    assert "Traceback" not in output
    assert " ERROR " not in output


# -- connection caps under a slowloris ----------------------------------------------------

SLOWLORIS = 1100  # the half-sent requests of the attack this listener answers
PER_CLIENT = 256  # max_connections_per_client's default


def _soft_limit_1024() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def _open_files(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-file limit for process {pid}")


def _closed(socks: list[socket.socket]) -> set[socket.socket]:
    """The sockets the gateway has closed by now (readable, then EOF, a 503 or a reset)."""
    closed: set[socket.socket] = set()
    poller = select.poll()  # not select(): these descriptors are past 1024
    by_fd = {sock.fileno(): sock for sock in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    for fd, _ in poller.poll(0):
        sock = by_fd[fd]
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data or data.startswith(b"HTTP/1.1 503 "):
            closed.add(sock)
    return closed


def test_a_slowloris_from_one_address_leaves_the_others_served() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > SLOWLORIS * 2, "this machine's hard open-file limit is too low for the test"
    env = {"LOCKGATE_HEADER_TIMEOUT": "300"}  # the attack's connections stay while we look
    with GatewayProcess(env=env, preexec_fn=_soft_limit_1024) as gateway:
        assert _open_files(gateway.pid) == (hard, hard)  # raised at start, from 1024
        attack: list[socket.socket] = []
        try:
            for i in range(SLOWLORIS):
                sock = connect(gateway.port, "127.0.0.1")
                sock.sendall(f"GET /echo/{i} HTTP/1.1\r\nHost: localhost\r\nX-a: ".encode())
                attack.append(sock)
            for i in range(20):
                response = exchange(
                    gateway.port,
                    request_bytes("GET", f"/echo/other{i}", [HOST, CLOSE]),
                    source="127.0.0.2",
                )
                assert response.status == 200
            closed: set[socket.socket] = set()

            def closing() -> int:
                closed.update(_closed([sock for sock in attack if sock not in closed]))
                return len(closed)

            wait_until(
                lambda: closing() >= SLOWLORIS - PER_CLIENT,
                HANG_GUARD,
                what="the slow clients' connections closed",
            )
            assert len(closed) == SLOWLORIS - PER_CLIENT
            assert not _closed([sock for sock in attack if sock not in closed])
        finally:
            for sock in attack:
                sock.close()
        output = gateway.read_output().decode(errors="replace")
    refusals = [line for line in output.splitlines() if "client 127.0.0.1:" in line]
    assert refusals, output
    assert len(refusals) <= 2  # logged once (a summary may follow), not 844 times
    assert "max_connections_per_client (256) reached" in refusals[0]
