"""The egress policy through a real ``lockgate serve``, as an attacker would try it: a caller's
inline references aimed at loopback services, the PostgreSQL on 127.0.0.1:5432, the gateway
itself, through a proxy; refused ports, silent ports and forbidden ones compared.

Gateways: inline references off (the default), on with the default policy (``public``
only), and on with 127.0.0.1 (or 127.0.0.0/8) listed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lockgate.client import Client, InvalidRequest
from lockgate.models.security.egress import UNREACHABLE, unreachable
from tests.e2e.gateway_process import GatewayProcess
from tests.servers import free_port, silent_listener

APP = Path(__file__).parent / "egress_app" / "lockgate.toml"
DB_REFUSED = f"Resource 'db' (database): {UNREACHABLE}"


def serve(**env: str) -> Iterator[GatewayProcess]:
    with GatewayProcess(APP, env={"LOCKGATE_LOG_LEVEL": "INFO", **env}) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def off() -> Iterator[GatewayProcess]:
    yield from serve()


@pytest.fixture(scope="module")
def public_only() -> Iterator[GatewayProcess]:
    yield from serve(LOCKGATE_ALLOW_INLINE_RESOURCES="true")


@pytest.fixture(scope="module")
def loopback_listed() -> Iterator[GatewayProcess]:
    yield from serve(
        LOCKGATE_ALLOW_INLINE_RESOURCES="true",
        LOCKGATE_INLINE_ALLOWED_HOSTS=json.dumps(["127.0.0.1"]),
    )


@dataclass
class HttpServer:
    """A loopback HTTP server answering ``hello`` that counts its connections."""

    port: int
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    server = HttpServer(0)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


async def fetch(gateway: GatewayProcess, url: str, **config: Any) -> Any:
    async with Client(gateway.url) as client:
        return await client.execute_workflow(
            "fetch",
            parameters={"url": url},
            resources={"api": client.http_client(timeout=10, **config)},
        )


async def query(gateway: GatewayProcess, host: str, port: int = 5432, **config: Any) -> Any:
    async with Client(gateway.url) as client:
        return await client.execute_workflow(
            "query",
            resources={"db": client.database(host=host, port=port, database="test", **config)},
        )


def error_of(run: Any) -> str:
    """The failed run's error."""
    assert run.status == "failed", run.result
    assert run.error is not None
    return str(run.error)


# -- off by default --------------------------------------------------------------------------


async def test_by_default_an_inline_reference_is_refused_before_the_run(
    off: GatewayProcess, http_server: HttpServer
) -> None:
    with pytest.raises(InvalidRequest, match="inline references are off") as refused:
        await fetch(off, http_server.url)
    assert "allow_inline_resources" in str(refused.value)
    assert http_server.connections == 0


# -- on, with the default policy -------------------------------------------------------------


async def test_an_http_client_aimed_at_loopback_is_refused(
    public_only: GatewayProcess, http_server: HttpServer
) -> None:
    run = await fetch(public_only, http_server.url, connect_timeout=0.2)
    expected = unreachable(f"127.0.0.1:{http_server.port}")
    assert error_of(run) == f"step 'get' failed: ConnectError: {expected}"
    assert http_server.connections == 0


async def test_a_name_resolving_to_loopback_is_refused_as_loopback_is(
    public_only: GatewayProcess, http_server: HttpServer
) -> None:
    url = f"http://localhost:{http_server.port}/"
    run = await fetch(public_only, url, connect_timeout=0.2)
    assert unreachable(f"localhost:{http_server.port}") in error_of(run)
    assert http_server.connections == 0


async def test_the_gateway_itself_is_refused_and_the_log_says_why(
    public_only: GatewayProcess,
) -> None:
    run = await fetch(public_only, f"{public_only.url}/healthz", connect_timeout=0.2)
    assert unreachable(f"127.0.0.1:{public_only.port}") in error_of(run)
    log = public_only.read_output().decode()
    assert f"127.0.0.1:{public_only.port} is refused by the egress policy" in log


async def test_a_database_at_the_local_postgresql_is_refused(
    public_only: GatewayProcess,
) -> None:
    run = await query(public_only, "127.0.0.1", connect_timeout=0.2)
    assert run.status == "failed"
    assert DB_REFUSED in str(run.error)


async def test_a_callers_proxy_is_refused_naming_the_key(
    public_only: GatewayProcess, http_server: HttpServer
) -> None:
    with pytest.raises(InvalidRequest, match="'proxy' cannot be set in an inline reference"):
        await fetch(public_only, "http://example.com/", proxy=http_server.url)
    assert http_server.connections == 0


# -- on, with loopback listed ----------------------------------------------------------------


async def test_listed_by_address_the_same_references_work(
    loopback_listed: GatewayProcess, http_server: HttpServer
) -> None:
    run = await fetch(loopback_listed, http_server.url)
    assert run.status == "completed", run.error
    assert run.result["get"] == {"status": 200, "body": "hello"}
    by_name = await fetch(loopback_listed, f"http://localhost:{http_server.port}/")
    assert by_name.status == "completed", by_name.error
    database = await query(loopback_listed, "127.0.0.1")
    assert database.status == "completed", database.error
    assert database.result["select"] == {"one": 1}


async def test_a_cidr_entry_lets_loopback_through_too(http_server: HttpServer) -> None:
    for gateway in serve(
        LOCKGATE_ALLOW_INLINE_RESOURCES="true",
        LOCKGATE_INLINE_ALLOWED_HOSTS=json.dumps(["127.0.0.0/8"]),
    ):
        run = await fetch(gateway, http_server.url)
        assert run.status == "completed", run.error


async def test_refused_silent_and_forbidden_ports_read_the_same(
    public_only: GatewayProcess, loopback_listed: GatewayProcess
) -> None:
    """A silent port (accepts, never answers), then the same port closed (refused), then
    the same port on a gateway whose policy forbids it: one text, so no port scan."""
    database: list[str] = []
    http: list[str] = []
    with silent_listener() as port:
        database.append(
            error_of(await query(loopback_listed, "127.0.0.1", port, connect_timeout=0.3))
        )
        # Plain HTTP to a silent port would wait for a response; TLS fails within the
        # connect timeout, as a port that accepts and never answers does for a database.
        https = f"https://127.0.0.1:{port}/"
        http.append(error_of(await fetch(loopback_listed, https, connect_timeout=0.3)))
    database.append(error_of(await query(loopback_listed, "127.0.0.1", port, connect_timeout=0.3)))
    http.append(error_of(await fetch(loopback_listed, https, connect_timeout=0.3)))
    database.append(error_of(await query(public_only, "127.0.0.1", port, connect_timeout=0.3)))
    http.append(error_of(await fetch(public_only, https, connect_timeout=0.3)))
    assert set(database) == {database[0]}
    assert DB_REFUSED in database[0]
    assert set(http) == {f"step 'get' failed: ConnectError: {unreachable(f'127.0.0.1:{port}')}"}


async def test_an_unresolvable_name_reads_as_a_refusal_too(
    loopback_listed: GatewayProcess,
) -> None:
    run = await query(loopback_listed, "no-such-host.invalid", free_port(), connect_timeout=0.3)
    assert DB_REFUSED in str(run.error)


async def test_what_the_gateway_sends_itself_is_no_operator(
    loopback_listed: GatewayProcess,
) -> None:
    """Even with loopback listed, a run's inline client that calls the gateway's own
    operators' endpoints is a caller without a credential: the loopback address it comes
    from proves nothing."""
    for path in ("/invocations?status=dead", "/jobs", "/secrets", "/tokens"):
        run = await fetch(loopback_listed, f"{loopback_listed.url}{path}")
        assert run.status == "completed", run.error
        assert run.result["get"]["status"] == 401, path
        assert "needs a credential" in run.result["get"]["body"]
