"""The ``cache`` resource contract, over the embedded ``InMemoryCache`` and the real Redis on
127.0.0.1:6379 (keys under a unique prefix, deleted afterwards; Redis down fails, not skips).

Step code must behave the same on both backends, so one suite runs against both; failures
that need a server to misbehave (wrong password, refusal, silence, a restart) run against a
private ``redis-server`` started on a free loopback port and stopped at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from lockgate.errors import ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.cache.memory import InMemoryCache
from lockgate.gateways.resources.cache.resolver import CacheResolver
from tests.servers import PrivateServer, silent_listener

REDIS = {"host": "127.0.0.1", "port": 6379}
BOUND = 10.0  # generous upper bound for "does not hang" checks, never a timing assertion


@dataclass
class Cache:
    """A cache under test and the prefix its keys live under."""

    kind: str
    cache: Any
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    resolver = CacheResolver()
    config = {"namespace": "contract"} if request.param == "memory" else REDIS
    cache = await resolver.create(config, None)
    prefix = f"lockgate_test:{secrets.token_hex(6)}:"
    try:
        yield Cache(request.param, cache, prefix)
    finally:
        leftovers = await cache.keys(f"{prefix}*")
        if leftovers:
            await cache.delete(*leftovers)
        await resolver.close(cache)


async def wait_until_gone(cache: Any, key: str) -> None:
    async with asyncio.timeout(BOUND):
        while True:
            if await cache.get(key) is None:
                return
            await asyncio.sleep(0.02)


def error_texts(error: BaseException) -> str:
    """The message, repr and args of an error and of everything chained to it."""
    texts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), *map(str, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


# -- the shared contract -------------------------------------------------------------------


async def test_the_resolver_creates_the_backend_the_config_names(backend: Cache) -> None:
    expected = InMemoryCache if backend.kind == "memory" else Redis
    assert isinstance(backend.cache, expected)


async def test_values_come_back_as_strings(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    assert await cache.set(key("s"), "text") is True
    await cache.set(key("i"), 3)
    await cache.set(key("f"), 1.5)
    await cache.set(key("b"), "café".encode())
    assert await cache.get(key("s")) == "text"
    assert await cache.get(key("i")) == "3"
    assert await cache.get(key("f")) == "1.5"
    assert await cache.get(key("b")) == "café"
    assert await cache.get(key("missing")) is None


async def test_values_redis_cannot_store_are_refused_alike(backend: Cache) -> None:
    with pytest.raises(DataError):
        await backend.cache.set(backend.key("bool"), True)
    with pytest.raises(DataError):
        await backend.cache.set(backend.key("none"), None)
    with pytest.raises(DataError):
        await backend.cache.set(backend.key("both"), "v", ex=1, px=1000)
    with pytest.raises(ResponseError, match="invalid expire time"):
        await backend.cache.set(backend.key("zero"), "v", ex=0)
    with pytest.raises(ResponseError, match="invalid expire time"):
        await backend.cache.setex(backend.key("zero"), 0, "v")
    assert await backend.cache.exists(backend.key("bool"), backend.key("zero")) == 0


async def test_nx_xx_and_get_options(backend: Cache) -> None:
    cache, key = backend.cache, backend.key("k")
    assert await cache.set(key, "v", xx=True) is None
    assert await cache.set(key, "v1", nx=True) is True
    assert await cache.set(key, "v2", nx=True) is None
    assert await cache.set(key, "v3", xx=True) is True
    assert await cache.set(key, "v4", get=True) == "v3"
    assert await cache.get(key) == "v4"


async def test_ttl_codes_and_expire(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    assert await cache.ttl(key("missing")) == -2
    await cache.set(key("forever"), "v")
    assert await cache.ttl(key("forever")) == -1
    assert await cache.setex(key("timed"), 100, "v") is True
    assert 0 < await cache.ttl(key("timed")) <= 100
    assert await cache.expire(key("forever"), 50) is True
    assert 0 < await cache.ttl(key("forever")) <= 50
    assert await cache.expire(key("missing"), 50) is False
    await cache.set(key("timed"), "again")  # a plain SET clears the expiry
    assert await cache.ttl(key("timed")) == -1
    await cache.set(key("kept"), "v", ex=100)
    await cache.set(key("kept"), "w", keepttl=True)
    assert 0 < await cache.ttl(key("kept")) <= 100
    assert await cache.expire(key("kept"), 0) is True  # a non-positive expiry deletes
    assert await cache.exists(key("kept")) == 0


async def test_keys_expire(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    await cache.set(key("px"), "v", px=50)
    await cache.setex(key("ex"), 1, "v")
    await cache.set(key("stays"), "v")
    await wait_until_gone(cache, key("px"))
    await wait_until_gone(cache, key("ex"))
    assert await cache.exists(key("px"), key("ex"), key("stays")) == 1
    assert await cache.keys(f"{backend.prefix}*") == [key("stays")]


async def test_delete_and_exists_count(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    await cache.set(key("a"), "1")
    await cache.set(key("b"), "2")
    assert await cache.exists(key("a"), key("a"), key("missing")) == 2
    assert await cache.delete(key("a"), key("b"), key("missing")) == 2
    assert await cache.exists(key("a"), key("b")) == 0


async def test_incr_counts_and_keeps_the_expiry(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    assert await cache.incr(key("n")) == 1
    assert await cache.incrby(key("n"), 5) == 6
    assert await cache.incr(key("n"), -10) == -4
    assert await cache.get(key("n")) == "-4"
    await cache.setex(key("t"), 100, 7)
    assert await cache.incr(key("t")) == 8
    assert 0 < await cache.ttl(key("t")) <= 100
    await cache.set(key("text"), "abc")
    with pytest.raises(ResponseError, match="not an integer"):
        await cache.incr(key("text"))


async def test_concurrent_increments_are_atomic(backend: Cache) -> None:
    key = backend.key("counter")
    await asyncio.gather(*(backend.cache.incr(key) for _ in range(200)))
    assert await backend.cache.get(key) == "200"


async def test_mget_takes_a_list_or_arguments(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    await cache.set(key("a"), "1")
    await cache.set(key("c"), 3)
    assert await cache.mget([key("a"), key("b"), key("c")]) == ["1", None, "3"]
    assert await cache.mget(key("c"), key("a")) == ["3", "1"]


async def test_keys_match_a_glob(backend: Cache) -> None:
    cache, key = backend.cache, backend.key
    for name in ("user:1", "user:2", "user:10", "order:1"):
        await cache.set(key(name), "v")
    assert sorted(await cache.keys(f"{backend.prefix}user:*")) == sorted(
        [key("user:1"), key("user:2"), key("user:10")]
    )
    assert sorted(await cache.keys(f"{backend.prefix}user:?")) == [key("user:1"), key("user:2")]
    assert await cache.keys(f"{backend.prefix}[^u]*") == [key("order:1")]
    assert await cache.keys(f"{backend.prefix}nothing*") == []


async def test_the_seed_steps_setex_pattern(backend: Cache) -> None:
    key = backend.key("user:1")
    await backend.cache.setex(key, 3600, '{"id": 1, "name": "ADA"}')
    assert await backend.cache.get(key) == '{"id": 1, "name": "ADA"}'
    assert await backend.cache.ping() is True


async def test_health_check_passes_and_close_is_idempotent(backend: Cache) -> None:
    resolver = CacheResolver()
    config = {"namespace": "other"} if backend.kind == "memory" else REDIS
    cache = await resolver.create(config, None)
    await resolver.health_check(cache)
    await resolver.close(cache)
    await resolver.close(cache)


# -- Redis only: a private server that can refuse, reject and restart ----------------------


class PrivateRedis(PrivateServer):
    """A ``redis-server`` with a password and no persistence."""

    password = "pw-" + secrets.token_hex(8)

    def __init__(self) -> None:
        super().__init__(
            lambda port: (
                *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
                *("--requirepass", self.password, "--save", "", "--appendonly", "no"),
            )
        )

    @property
    def config(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "connect_timeout": 5.0}


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_listener() as port:
        yield port


async def test_the_right_password_is_accepted(private_redis: PrivateRedis) -> None:
    resolver = CacheResolver()
    for credentials in (
        {"password": private_redis.password},
        {"username": "default", "password": private_redis.password},
    ):
        cache = await resolver.create(private_redis.config, credentials)
        assert await cache.set("k", "v") is True
        await resolver.close(cache)


@pytest.mark.parametrize(
    "credentials",
    [{"password": "wrong-secret-1"}, {"username": "default", "password": "wrong-secret-1"}],
)
async def test_a_wrong_password_fails_at_creation_without_leaking_it(
    private_redis: PrivateRedis, credentials: dict[str, str] | None
) -> None:
    with pytest.raises(ResourceUnavailableError) as caught:
        async with asyncio.timeout(BOUND):
            await CacheResolver().create(private_redis.config, credentials)
    assert caught.value.message == (
        f"Redis at 127.0.0.1:{private_redis.port} rejected the credentials"
    )
    assert not isinstance(caught.value, ResourceTimeoutError)
    assert "wrong-secret-1" not in error_texts(caught.value)


async def test_a_missing_password_is_named(private_redis: PrivateRedis) -> None:
    with pytest.raises(ResourceUnavailableError) as caught:
        await CacheResolver().create(private_redis.config, None)
    assert caught.value.message.startswith(
        f"Redis at 127.0.0.1:{private_redis.port} requires a password"
    )


async def test_a_refused_port_fails_naming_host_and_port() -> None:
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(ResourceUnavailableError) as caught:
            async with asyncio.timeout(BOUND):
                await CacheResolver().create({"port": port}, None)
    assert not isinstance(caught.value, ResourceTimeoutError)
    assert f"Redis at 127.0.0.1:{port} is unreachable" in caught.value.message


async def test_a_silent_server_times_out_within_connect_timeout(silent_port: int) -> None:
    config = {"port": silent_port, "connect_timeout": 0.3}
    with pytest.raises(ResourceTimeoutError, match=f"127.0.0.1:{silent_port}"):
        async with asyncio.timeout(BOUND):
            await CacheResolver().create(config, None)


async def test_a_server_restart_is_survived(private_redis: PrivateRedis) -> None:
    """What a step sees when Redis restarts between two of its commands.

    With the default ``retries`` the first command after the restart succeeds (it fails on
    its dead connection and is retried on a new one). With ``retries: 0`` that first command
    fails with ``redis.exceptions.ConnectionError`` and the next one succeeds.
    """
    resolver = CacheResolver()
    credentials = {"password": private_redis.password}
    retrying = await resolver.create(private_redis.config, credentials)
    strict = await resolver.create({**private_redis.config, "retries": 0}, credentials)
    try:
        await retrying.set("before", "1")
        await strict.set("before", "1")

        await private_redis.stop()
        with pytest.raises(ResourceUnavailableError, match="did not answer PING"):
            await resolver.health_check(retrying)
        await private_redis.start()

        assert await retrying.get("before") is None  # a new server: nothing was saved
        assert await retrying.set("after", "2") is True
        with pytest.raises(RedisConnectionError):
            await strict.get("after")
        assert await strict.get("after") == "2"
        await resolver.health_check(retrying)
        await resolver.health_check(strict)
    finally:
        await resolver.close(retrying)
        await resolver.close(strict)
