"""The ``message_queue`` resource against the real NATS (with JetStream) on 127.0.0.1:4222:
unique subjects and streams per test, streams deleted afterwards; NATS down fails, not skips.

Failures that need a server to misbehave (refusal, silence, rejected credentials, a restart)
use a socket that never answers or a private ``nats-server`` on a free loopback port.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.queue.nats import NatsMessageQueue
from lockgate.gateways.resources.queue.resolver import NatsQueueResolver
from tests.servers import PrivateServer, silent_listener

# Debian installs it in /usr/sbin, which a CI user's PATH may not hold.
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"

BOUND = 10.0  # generous upper bound for "does not hang" checks, never a timing assertion


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


@pytest.fixture
async def queue() -> AsyncIterator[NatsMessageQueue]:
    resolver = NatsQueueResolver()
    created = await resolver.create({"name": "lockgate-contract"}, None)
    try:
        yield created
    finally:
        await resolver.close(created)


@pytest.fixture
async def jetstream_queue() -> AsyncIterator[tuple[NatsMessageQueue, str]]:
    """A JetStream-enabled queue and a fresh stream over ``<stream>.>``, deleted afterwards."""
    resolver = NatsQueueResolver()
    stream = unique("LOCKGATE_TEST")
    config = {"jetstream": True, "stream": stream, "subjects": [f"{stream}.>"]}
    created = await resolver.create(config, None)
    try:
        yield created, stream
    finally:
        assert created.jetstream is not None
        await created.jetstream.delete_stream(stream)
        await resolver.close(created)


async def test_core_publish_reaches_a_subscriber(queue: NatsMessageQueue) -> None:
    subject = unique("lockgate.test")
    received: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_message(message: Msg) -> None:
        await received.put(message)

    await queue.subscribe(subject, cb=on_message)
    assert await queue.publish(subject, "hello", headers={"X-Run": "r1"}) is None
    await queue.publish(subject, b"\x00bytes")
    async with asyncio.timeout(BOUND):
        first, second = await received.get(), await received.get()
    assert (first.data, second.data) == (b"hello", b"\x00bytes")
    assert first.headers == {"X-Run": "r1"}
    assert queue.jetstream is None


async def test_request_gets_the_reply(queue: NatsMessageQueue) -> None:
    subject = unique("lockgate.rpc")

    async def respond(message: Msg) -> None:
        await message.respond(b"pong:" + message.data)

    await queue.subscribe(subject, queue="workers", cb=respond)
    reply = await queue.request(subject, "ping", timeout=BOUND)
    assert reply.data == b"pong:ping"


async def test_jetstream_publish_is_acknowledged_by_the_stream(
    jetstream_queue: tuple[NatsMessageQueue, str],
) -> None:
    queue, stream = jetstream_queue
    first = await queue.publish(f"{stream}.orders", b'{"id": 1}')
    second = await queue.publish(f"{stream}.orders", '{"id": 2}')
    assert first is not None
    assert second is not None
    assert (first.stream, first.seq, second.seq) == (stream, 1, 2)


async def test_a_durable_subscription_receives_stored_messages(
    jetstream_queue: tuple[NatsMessageQueue, str],
) -> None:
    queue, stream = jetstream_queue
    await queue.publish(f"{stream}.a", b"stored before subscribing")
    subscription = await queue.subscribe(f"{stream}.a", durable="lockgate_consumer")
    async with asyncio.timeout(BOUND):
        message = await subscription.next_msg(timeout=BOUND)
    assert message.data == b"stored before subscribing"


async def test_ensure_stream_creates_or_extends(
    jetstream_queue: tuple[NatsMessageQueue, str],
) -> None:
    queue, stream = jetstream_queue
    same = await queue.ensure_stream(stream, [f"{stream}.>"])
    assert same.config.subjects == [f"{stream}.>"]
    other = unique("LOCKGATE_TEST")
    assert queue.jetstream is not None
    try:
        created = await queue.ensure_stream(other, [f"{other}.a"])
        extended = await queue.ensure_stream(other, [f"{other}.a", f"{other}.b"])
        assert created.config.subjects == [f"{other}.a"]
        assert extended.config.subjects == [f"{other}.a", f"{other}.b"]
    finally:
        await queue.jetstream.delete_stream(other)
    with pytest.raises(NotFoundError):
        await queue.jetstream.stream_info(other)


async def test_core_only_queues_refuse_jetstream_calls(queue: NatsMessageQueue) -> None:
    with pytest.raises(ResourceConfigError, match="'jetstream': true") as caught:
        await queue.subscribe("lockgate.x", durable="d")
    assert caught.value.fields["key"] == "jetstream"
    with pytest.raises(ResourceConfigError, match="'jetstream': true"):
        await queue.ensure_stream("S", ["s.>"])


async def test_health_check_passes_and_close_is_idempotent() -> None:
    resolver = NatsQueueResolver()
    queue = await resolver.create({}, None)
    await resolver.health_check(queue)
    await resolver.close(queue)
    await resolver.close(queue)
    with pytest.raises(ResourceUnavailableError, match="not connected"):
        await resolver.health_check(queue)


async def test_a_refused_port_fails_at_once_naming_the_server() -> None:
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        server = f"nats://127.0.0.1:{bound.getsockname()[1]}"
        with pytest.raises(ResourceUnavailableError) as caught:
            async with asyncio.timeout(BOUND):
                await NatsQueueResolver().create({"servers": [server]}, None)
    assert not isinstance(caught.value, ResourceTimeoutError)
    assert caught.value.message == f"NATS at {server} refused the connection"


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_listener() as port:
        yield port


async def test_a_silent_server_times_out_within_connect_timeout(silent_port: int) -> None:
    config = {"servers": [f"nats://127.0.0.1:{silent_port}"], "connect_timeout": 0.3}
    with pytest.raises(ResourceTimeoutError, match=f"127.0.0.1:{silent_port}"):
        async with asyncio.timeout(BOUND):
            await NatsQueueResolver().create(config, None)


def test_credentials_in_a_server_url_are_refused() -> None:
    config = {"servers": ["nats://127.0.0.1:4222", "nats://admin:hunter2-secret@127.0.0.1:4222"]}
    with pytest.raises(ResourceConfigError, match=r"'servers'\[1\] must not hold") as caught:
        NatsQueueResolver().validate(config)
    assert caught.value.fields["key"] == "servers"
    assert "hunter2-secret" not in str(caught.value)


# -- a private server with a password, to reject credentials and to restart ----------------


class PrivateNats(PrivateServer):
    """A ``nats-server`` with a user and password."""

    user = "lockgate"
    password = "pw-" + secrets.token_hex(8)

    def __init__(self) -> None:
        super().__init__(
            lambda port: (
                *(NATS_SERVER, "-a", "127.0.0.1", "-p", str(port)),
                *("--user", self.user, "--pass", self.password),
            )
        )

    @property
    def config(self) -> dict[str, Any]:
        return {"servers": [f"nats://127.0.0.1:{self.port}"], "reconnect_time_wait": 0.05}


@pytest.fixture
async def private_nats() -> AsyncIterator[PrivateNats]:
    server = PrivateNats()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("credentials", [{"user": "lockgate", "password": "wrong-pw-9"}, None])
async def test_rejected_credentials_fail_at_once(
    private_nats: PrivateNats, credentials: dict[str, str] | None
) -> None:
    with pytest.raises(ResourceUnavailableError) as caught:
        async with asyncio.timeout(BOUND):
            await NatsQueueResolver().create(private_nats.config, credentials)
    assert caught.value.message == (
        f"NATS at nats://127.0.0.1:{private_nats.port} rejected the credentials"
    )
    assert "wrong-pw-9" not in repr(caught.value)


async def test_a_server_restart_is_survived_by_reconnecting(private_nats: PrivateNats) -> None:
    """The connection and its subscriptions come back by themselves after a restart."""
    resolver = NatsQueueResolver()
    credentials = {"user": private_nats.user, "password": private_nats.password}
    queue = await resolver.create(private_nats.config, credentials)
    subject = unique("lockgate.rpc")

    async def respond(message: Msg) -> None:
        await message.respond(b"ok")

    try:
        await queue.subscribe(subject, cb=respond)
        await private_nats.stop()
        await private_nats.start()
        async with asyncio.timeout(BOUND):  # reconnecting takes a few reconnect_time_waits
            while True:
                if queue.client.stats["reconnects"] > 0:
                    try:
                        await resolver.health_check(queue)
                        break
                    except ResourceUnavailableError:
                        pass
                await asyncio.sleep(0.02)
        assert (await queue.request(subject, b"", timeout=BOUND)).data == b"ok"
    finally:
        await resolver.close(queue)
