"""Inline resources connect only where the egress guard allows, against the real servers on
this machine (PostgreSQL :5432, Redis :6379, NATS :4222) and loopback HTTP servers.

DNS rebinding is simulated with a resolver that answers 127.0.0.2 (listed, where nothing
listens) to the first question and 127.0.0.1 (not listed, where the real server is) to any
later one: a driver that looked the name up again after the check would reach the server.
None does: each connection is made to the address that was checked.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from lockgate.errors import ResourceUnavailableError
from lockgate.gateways.resources.cache.resolver import CacheResolver
from lockgate.gateways.resources.database.resolver import DatabaseResolver
from lockgate.gateways.resources.egress.guard import EgressGuard, is_own_address
from lockgate.gateways.resources.http.resolver import HttpxHttpClientResolver
from lockgate.gateways.resources.queue.resolver import NatsQueueResolver
from lockgate.models.security.egress import UNREACHABLE, EgressPolicy, unreachable
from tests.servers import PrivateServer, free_port
from tests.support import eventually

REBINDING_HOST = "rebind.test"


class Rebinding:
    """127.0.0.2 to the first question about a name, 127.0.0.1 to every later one."""

    def __init__(self) -> None:
        self.asked = 0

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked += 1
        return ["127.0.0.2"] if self.asked == 1 else ["127.0.0.1"]


async def no_wait(seconds: float) -> None:
    """Padding is checked in the unit tests; here it need not cost time."""


def guard(hosts: list[str], resolve: Any = None) -> EgressGuard:
    if resolve is None:
        return EgressGuard(EgressPolicy.from_entries(hosts), sleep=no_wait)
    return EgressGuard(EgressPolicy.from_entries(hosts), resolve=resolve, sleep=no_wait)


class Counter:
    """A loopback HTTP server: ``hello``, or a redirect to ``location``; counts connections."""

    def __init__(self, location: str | None = None) -> None:
        self.location = location
        self.connections = 0
        self.port = 0

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if self.location is None:
            head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"
            writer.write(head + b"connection: close\r\n\r\nhello")
        else:
            writer.write(
                b"HTTP/1.1 302 Found\r\nlocation: " + self.location.encode() + b"\r\n"
                b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
        await writer.drain()
        writer.close()


@pytest.fixture
async def http_server() -> AsyncIterator[Counter]:
    counter = Counter()
    server = await asyncio.start_server(counter.answer, "127.0.0.1", 0)
    counter.port = server.sockets[0].getsockname()[1]
    async with server:
        yield counter


Reach = Callable[[EgressGuard, str], Awaitable[Any]]


async def reach_http(port: int, egress: EgressGuard, host: str) -> Any:
    client = await HttpxHttpClientResolver().create_inline({"connect_timeout": 2}, None, egress)
    async with client:
        return (await client.get(f"http://{host}:{port}/")).text


async def reach_postgres(egress: EgressGuard, host: str) -> Any:
    config = {"host": host, "database": "test", "connect_timeout": 2}
    pool = await DatabaseResolver().create_inline(config, None, egress)
    try:
        return await pool.fetchval("SELECT 1")
    finally:
        await pool.close()


async def reach_redis(egress: EgressGuard, host: str) -> Any:
    config = {"host": host, "port": 6379, "connect_timeout": 2, "retries": 0}
    cache = await CacheResolver().create_inline(config, None, egress)
    try:
        return await cache.ping()
    finally:
        await CacheResolver().close(cache)


async def reach_nats(egress: EgressGuard, host: str) -> Any:
    config = {"servers": [f"nats://{host}:4222"], "connect_timeout": 2}
    queue = await NatsQueueResolver().create_inline(config, None, egress)
    try:
        return queue.client.is_connected
    finally:
        await NatsQueueResolver().close(queue)


def reaches(http_server: Counter) -> dict[str, Reach]:
    async def http(egress: EgressGuard, host: str) -> Any:
        return await reach_http(http_server.port, egress, host)

    return {"http": http, "postgres": reach_postgres, "redis": reach_redis, "nats": reach_nats}


KINDS = ["http", "postgres", "redis", "nats"]
ANSWERS = {"http": "hello", "postgres": 1, "redis": True, "nats": True}


async def failure_of(reach: Reach, egress: EgressGuard, host: str) -> str:
    with pytest.raises((httpx.ConnectError, ResourceUnavailableError)) as failed:
        await reach(egress, host)
    return str(failed.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_listed_loopback_address_is_reached(kind: str, http_server: Counter) -> None:
    reach = reaches(http_server)[kind]
    assert await reach(guard(["127.0.0.1"]), "127.0.0.1") == ANSWERS[kind]
    assert await reach(guard(["127.0.0.0/8"]), "localhost") == ANSWERS[kind]


@pytest.mark.parametrize("kind", KINDS)
async def test_loopback_is_refused_unless_listed(kind: str, http_server: Counter) -> None:
    reach = reaches(http_server)[kind]
    for host in ("127.0.0.1", "localhost"):
        message = await failure_of(reach, guard(["public", "localhost"]), host)
        assert UNREACHABLE in message
    assert http_server.connections == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_rebinding_name_cannot_move_the_connection_to_loopback(
    kind: str, http_server: Counter
) -> None:
    reach = reaches(http_server)[kind]
    dns = Rebinding()
    message = await failure_of(reach, guard(["127.0.0.2"], dns), REBINDING_HOST)
    assert UNREACHABLE in message
    assert dns.asked == 1  # one lookup, checked, connected to; none after it
    assert http_server.connections == 0
    # Asked again (a later connection), the name now points at 127.0.0.1: refused.
    assert UNREACHABLE in await failure_of(reach, guard(["127.0.0.2"], dns), REBINDING_HOST)
    assert http_server.connections == 0


async def test_an_http_client_resolves_every_new_connection_through_the_guard(
    http_server: Counter,
) -> None:
    """Keep-alive off (the server closes): each request is a new connection, a new lookup
    and a new check, so a name that rebinds between requests is refused when it does."""
    answers = itertools.chain([["127.0.0.1"]], itertools.repeat(["10.0.0.1"]))

    async def dns(host: str, port: int) -> Sequence[str]:
        return next(answers)

    egress = guard(["127.0.0.1"], dns)
    client = await HttpxHttpClientResolver().create_inline({}, None, egress)
    async with client:
        url = f"http://{REBINDING_HOST}:{http_server.port}/"
        assert (await client.get(url)).text == "hello"
        with pytest.raises(httpx.ConnectError, match=UNREACHABLE):
            await client.get(url)
    assert http_server.connections == 1


async def test_a_redirect_to_a_refused_host_is_not_followed_there() -> None:
    target = Counter()
    behind = await asyncio.start_server(target.answer, "127.0.0.2", 0)
    target.port = behind.sockets[0].getsockname()[1]
    front = Counter(location=f"http://127.0.0.2:{target.port}/secret")
    server = await asyncio.start_server(front.answer, "127.0.0.1", 0)
    front.port = server.sockets[0].getsockname()[1]
    config = {"follow_redirects": True, "connect_timeout": 2}
    url = f"http://127.0.0.1:{front.port}/"
    async with behind, server:
        refusing = await HttpxHttpClientResolver().create_inline(config, None, guard(["127.0.0.1"]))
        async with refusing:
            with pytest.raises(httpx.ConnectError) as refused:
                await refusing.get(url)
        assert str(refused.value) == unreachable(f"127.0.0.2:{target.port}")
        assert target.connections == 0
        both = guard(["127.0.0.1", "127.0.0.2"])
        following = await HttpxHttpClientResolver().create_inline(config, None, both)
        async with following:
            assert (await following.get(url)).text == "hello"  # listed: followed there
        assert target.connections == 1


def local_addresses() -> list[str]:
    """This machine's interface addresses, from the kernel's own tables (Linux)."""
    found: set[str] = set()
    lines = Path("/proc/net/fib_trie").read_text().splitlines()
    for previous, line in itertools.pairwise(lines):
        if line.strip() == "/32 host LOCAL":
            found.add(previous.split()[-1])
    for line in Path("/proc/net/if_inet6").read_text().splitlines():
        raw = line.split()[0]
        found.add(str(ip_address(":".join(raw[i : i + 4] for i in range(0, 32, 4)))))
    return sorted(a for a in found if not ip_address(a).is_link_local)


async def test_every_address_of_this_machine_is_the_gateways_own(http_server: Counter) -> None:
    """A listener on 0.0.0.0 answers on every one of them: none may be reached unless
    listed, whatever range it is in."""
    addresses = local_addresses()
    assert "127.0.0.1" in addresses
    for address in addresses:
        assert is_own_address(ip_address(address)), address
        decision = EgressPolicy.from_entries(["public"]).decide(None, ip_address(address), own=True)
        assert not decision.allowed
    assert is_own_address(ip_address("127.0.0.2"))  # all of 127/8 is local on Linux
    assert not is_own_address(ip_address("93.184.216.34"))
    assert not is_own_address(ip_address("2606:4700:4700::1111"))
    message = await failure_of(reaches(http_server)["http"], guard(["public"]), "0.0.0.0")
    assert UNREACHABLE in message


def nats_member(port: int, cluster: int, route: int | None = None) -> list[str]:
    argv = ["nats-server", "-a", "127.0.0.1", "-p", str(port), "--cluster_name", "egress"]
    argv += ["--cluster", f"nats://127.0.0.1:{cluster}"]
    return argv + (["--routes", f"nats://127.0.0.1:{route}"] if route is not None else [])


async def test_an_inline_nats_connection_ignores_the_servers_its_server_advertises() -> None:
    """A server tells its clients of its cluster's other servers (connect_urls), and
    nats-py reconnects to them: a caller's own server could name 127.0.0.1 there."""
    first_cluster, second_cluster = free_port(), free_port()
    first = PrivateServer(lambda port: nats_member(port, first_cluster))
    second = PrivateServer(lambda port: nats_member(port, second_cluster, first_cluster))
    await first.start()
    await second.start()
    plain = NatsClient()
    try:
        await plain.connect(servers=[f"nats://127.0.0.1:{first.port}"], connect_timeout=2)
        await eventually(lambda: plain.discovered_servers)  # the cluster has formed
        config = {"servers": [f"nats://127.0.0.1:{first.port}"], "connect_timeout": 2}
        queue = await NatsQueueResolver().create_inline(config, None, guard(["127.0.0.1"]))
        try:
            assert [server.netloc for server in queue.client.servers] == [f"127.0.0.1:{first.port}"]
            assert queue.client.discovered_servers == []
        finally:
            await NatsQueueResolver().close(queue)
    finally:
        await plain.close()
        await second.stop()
        await first.stop()
