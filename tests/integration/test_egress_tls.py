"""TLS through the egress guard: the connection goes to the checked address, and the
certificate is still verified against (and SNI still names) the host the reference gave.

Each server presents a certificate for ``egress.test`` only, signed by a throwaway CA the
clients trust; a test resolver maps ``egress.test`` to 127.0.0.1. Reaching it by name works;
by address the certificate does not match, and the failure reads as any other.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from lockgate.errors import ResourceUnavailableError
from lockgate.gateways.resources.cache.resolver import CacheResolver
from lockgate.gateways.resources.egress.guard import EgressGuard
from lockgate.gateways.resources.egress.httpcore import EgressHTTPTransport
from lockgate.gateways.resources.queue.resolver import NatsQueueResolver
from lockgate.models.security.egress import UNREACHABLE, EgressPolicy, unreachable
from tests.servers import PrivateServer
from tests.tls import TlsFiles, make_tls_files

HOST = "egress.test"


async def resolve(host: str, port: int) -> Sequence[str]:
    if host != HOST:
        raise OSError(f"unknown host {host}")
    return ["127.0.0.1"]


async def no_wait(seconds: float) -> None:
    """Padding is checked in the unit tests; here it need not cost time."""


def guard() -> EgressGuard:
    policy = EgressPolicy.from_entries(["127.0.0.1"])
    return EgressGuard(policy, resolve=resolve, sleep=no_wait)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture
def trust_the_test_ca(tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py and nats-py verify against OpenSSL's default paths, which SSL_CERT_FILE
    names (read when each context is made)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))


class TlsHttpServer:
    """HTTPS on 127.0.0.1 answering ``hello``; records the SNI name of each handshake."""

    def __init__(self, tls: TlsFiles) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(tls.cert, tls.key)
        self.context.sni_callback = self._sni
        self.names: list[str | None] = []
        self.port = 0

    def _sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        self.names.append(name)

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # a client that refused our certificate hangs up
        finally:
            writer.close()


@pytest.fixture
async def https_server(tls: TlsFiles) -> AsyncIterator[TlsHttpServer]:
    server = TlsHttpServer(tls)
    listener = await asyncio.start_server(server.answer, "127.0.0.1", 0, ssl=server.context)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


async def test_https_verifies_and_names_the_host_while_connecting_to_its_address(
    tls: TlsFiles, https_server: TlsHttpServer
) -> None:
    verify = ssl.create_default_context(cafile=str(tls.ca))
    transport = EgressHTTPTransport(
        guard(), verify=verify, limits=httpx.Limits(), connect_timeout=2
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"https://{HOST}:{https_server.port}/")
        assert response.text == "hello"
        assert https_server.names == [HOST]
        with pytest.raises(httpx.ConnectError) as failed:  # the certificate is not for it
            await client.get(f"https://127.0.0.1:{https_server.port}/")
    assert str(failed.value) == unreachable(f"127.0.0.1:{https_server.port}")


def redis_argv(tls: TlsFiles, port: int) -> list[str]:
    return [
        "redis-server",
        "--port", "0",
        "--tls-port", str(port),
        "--bind", "127.0.0.1",
        "--tls-cert-file", str(tls.cert),
        "--tls-key-file", str(tls.key),
        "--tls-ca-cert-file", str(tls.ca),
        "--tls-auth-clients", "no",
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip


@pytest.mark.usefixtures("trust_the_test_ca")
async def test_redis_over_tls_verifies_the_host_name(tls: TlsFiles) -> None:
    server = PrivateServer(lambda port: redis_argv(tls, port))
    await server.start()
    try:
        config = {"host": HOST, "port": server.port, "ssl": True, "connect_timeout": 2}
        cache = await CacheResolver().create_inline(config, None, guard())
        try:
            assert await cache.ping() is True
        finally:
            await CacheResolver().close(cache)
        by_address = {**config, "host": "127.0.0.1", "retries": 0}
        with pytest.raises(ResourceUnavailableError) as failed:
            await CacheResolver().create_inline(by_address, None, guard())
        assert failed.value.message == UNREACHABLE
    finally:
        await server.stop()


def nats_argv(tls: TlsFiles, port: int) -> list[str]:
    return [
        "nats-server", "-a", "127.0.0.1", "-p", str(port),
        "--tls", "--tlscert", str(tls.cert), "--tlskey", str(tls.key),
    ]  # fmt: skip


@pytest.mark.usefixtures("trust_the_test_ca")
async def test_nats_over_tls_verifies_the_host_name(tls: TlsFiles) -> None:
    server = PrivateServer(lambda port: nats_argv(tls, port))
    await server.start()
    try:
        config = {"servers": [f"tls://{HOST}:{server.port}"], "connect_timeout": 2}
        queue = await NatsQueueResolver().create_inline(config, None, guard())
        try:
            assert queue.client.is_connected
        finally:
            await NatsQueueResolver().close(queue)
        by_address = {**config, "servers": [f"tls://127.0.0.1:{server.port}"]}
        with pytest.raises(ResourceUnavailableError) as failed:
            await NatsQueueResolver().create_inline(by_address, None, guard())
        assert failed.value.message == UNREACHABLE
    finally:
        await server.stop()
