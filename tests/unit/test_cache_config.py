"""Config checking of the ``cache`` and ``message_queue`` types (every error names its key),
and ``InMemoryCache``'s expiry and LRU bound on a hand-moved clock. No I/O."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from redis.exceptions import DataError, ResponseError

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.cache.memory import InMemoryCache
from lockgate.gateways.resources.cache.redis import RedisCacheResolver
from lockgate.gateways.resources.cache.resolver import CacheResolver
from lockgate.gateways.resources.queue.resolver import NatsQueueResolver
from tests.support import ManualClock

# -- cache config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"backend": "mongo"}, "backend"),
        ({"backend": 1}, "backend"),
        ({"port": "6379"}, "port"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"host": ""}, "host"),
        ({"host": "h", "db": -1}, "db"),
        ({"host": "h", "max_connections": 0}, "max_connections"),
        ({"host": "h", "connect_timeout": 0}, "connect_timeout"),
        ({"host": "h", "socket_timeout": "5"}, "socket_timeout"),
        ({"host": "h", "pool_timeout": -1}, "pool_timeout"),
        ({"host": "h", "decode_responses": "yes"}, "decode_responses"),
        ({"host": "h", "ssl": 1}, "ssl"),
        ({"host": "h", "health_check_interval": 0}, "health_check_interval"),
        ({"host": "h", "retries": -1}, "retries"),
        ({"host": "h", "max_szie": 3}, "max_szie"),
        ({"host": "h", "password": "x"}, "password"),
        ({"host": "h", "url": "redis://h"}, "url"),
        ({"host": "h", "namespace": "n"}, "namespace"),  # memory only
        ({"namespace": ""}, "namespace"),
        ({"namespace": 3}, "namespace"),
        ({"max_entries": 0}, "max_entries"),
        ({"max_entries": 1.5}, "max_entries"),
        ({"backend": "memory", "host": "h"}, "host"),  # redis only
        ({"backend": "memory", "db": 1}, "db"),
    ],
)
def test_bad_cache_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        CacheResolver().validate(config)
    assert caught.value.fields["key"] == key
    assert repr(key) in caught.value.message


def test_the_backend_defaults_to_redis_only_when_a_server_is_named() -> None:
    resolver = CacheResolver()
    resolver.validate({})
    resolver.validate({"namespace": "a", "max_entries": 5})
    resolver.validate({"port": 6380, "db": 2, "max_connections": 5, "socket_timeout": 1.5})
    resolver.validate({"host": "cache.internal", "ssl": True, "retries": 0})
    resolver.validate({"backend": "redis"})
    with pytest.raises(ResourceConfigError, match="'db'"):
        resolver.validate({"db": 2})  # no host or port: the memory backend has no db


async def test_the_memory_backend_makes_distinct_bounded_caches() -> None:
    resolver = CacheResolver()
    first = await resolver.create({"namespace": "a", "max_entries": 2}, None)
    second = await resolver.create({"namespace": "b"}, None)
    assert isinstance(first, InMemoryCache)
    assert isinstance(second, InMemoryCache)
    assert (first.namespace, first.max_entries, second.max_entries) == ("a", 2, 10_000)
    await first.set("k", "v")
    assert await second.get("k") is None
    await resolver.health_check(first)
    await resolver.close(first)
    await resolver.close(first)
    assert await first.get("k") is None


async def test_the_memory_backend_takes_no_credentials() -> None:
    with pytest.raises(ResourceConfigError, match="takes no credentials") as caught:
        await CacheResolver().create({}, {"password": "x"})
    assert caught.value.fields["key"] == "credentials_ref"


@pytest.mark.parametrize(
    "credentials",
    [{"user": "u", "password": "p"}, {"username": "u"}, {"password": 5}, "just-a-string"],
)
async def test_redis_credentials_of_the_wrong_shape_fail_before_connecting(
    credentials: Any,
) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        await CacheResolver().create({"host": "127.0.0.1", "port": 1}, credentials)
    assert caught.value.fields["key"] == "credentials_ref"
    assert "'p'" not in caught.value.message


def test_the_redis_resolver_alone_refuses_the_cache_keys() -> None:
    resolver = RedisCacheResolver()
    resolver.validate({"host": "h"})
    with pytest.raises(ResourceConfigError, match="unknown redis config key") as caught:
        resolver.validate({"backend": "redis"})
    assert caught.value.fields["key"] == "backend"


# -- message_queue config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"servers": "nats://127.0.0.1:4222"}, "servers"),
        ({"servers": []}, "servers"),
        ({"servers": [""]}, "servers"),
        ({"servers": ["http://127.0.0.1:4222"]}, "servers"),
        ({"servers": ["nats://"]}, "servers"),
        ({"servers": ["nats://127.0.0.1:99999"]}, "servers"),
        ({"servers": ["nats://user:pw@127.0.0.1:4222"]}, "servers"),
        ({"servers": ["nats://token@127.0.0.1:4222"]}, "servers"),
        ({"name": 5}, "name"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"max_reconnect_attempts": -2}, "max_reconnect_attempts"),
        ({"max_reconnect_attempts": True}, "max_reconnect_attempts"),
        ({"max_reconnect_attempts": 0}, "max_reconnect_attempts"),
        ({"reconnect_time_wait": -0.5}, "reconnect_time_wait"),
        ({"jetstream": "true"}, "jetstream"),
        ({"stream": "S", "subjects": ["s.>"]}, "stream"),  # needs jetstream
        ({"jetstream": True, "stream": "S"}, "subjects"),
        ({"jetstream": True, "stream": "a.b", "subjects": ["s"]}, "stream"),
        ({"jetstream": True, "subjects": ["s.>"]}, "subjects"),
        ({"jetstream": True, "stream": "S", "subjects": "s.>"}, "subjects"),
        ({"token": "abc"}, "token"),
        ({"password": "abc"}, "password"),
        ({"server": ["nats://127.0.0.1:4222"]}, "server"),
    ],
)
def test_bad_message_queue_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        NatsQueueResolver().validate(config)
    assert caught.value.fields["key"] == key
    assert repr(key) in caught.value.message
    assert "pw@" not in caught.value.message


def test_good_message_queue_configs_pass() -> None:
    resolver = NatsQueueResolver()
    resolver.validate({})
    resolver.validate(
        {
            "servers": ["nats://a:4222", "tls://b:4443", "nats://c"],
            "name": "etl",
            "connect_timeout": 2,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0,
            "jetstream": True,
            "stream": "ORDERS_v1",
            "subjects": ["orders.>", "refunds.*"],
        }
    )


@pytest.mark.parametrize(
    "credentials",
    [
        {"user": "u"},
        {"password": "p"},
        {"user": "u", "password": "p", "token": "t"},
        {"username": "u", "password": "p"},
        {"token": 5},
        ["u", "p"],
    ],
)
async def test_message_queue_credentials_of_the_wrong_shape_fail_before_connecting(
    credentials: Any,
) -> None:
    config = {"servers": ["nats://127.0.0.1:1"]}
    with pytest.raises(ResourceConfigError) as caught:
        await NatsQueueResolver().create(config, credentials)
    assert caught.value.fields["key"] == "credentials_ref"
    assert "'p'" not in caught.value.message


# -- InMemoryCache on a manual clock ---------------------------------------------------------


@pytest.fixture
def cache(clock: ManualClock) -> InMemoryCache:
    return InMemoryCache(max_entries=3, clock=clock)


async def test_a_key_expires_exactly_at_its_deadline(
    cache: InMemoryCache, clock: ManualClock
) -> None:
    await cache.setex("s", 10, "v")
    await cache.set("p", "v", px=1500)
    clock.advance(1.499)
    assert await cache.mget("s", "p") == ["v", "v"]
    clock.advance(0.001)
    assert await cache.mget("s", "p") == ["v", None]
    clock.advance(8.499)
    assert await cache.get("s") == "v"
    clock.advance(0.001)
    assert await cache.get("s") is None
    assert await cache.ttl("s") == -2


async def test_ttl_rounds_to_the_nearest_second_like_redis(
    cache: InMemoryCache, clock: ManualClock
) -> None:
    await cache.setex("k", datetime.timedelta(seconds=10), "v")
    assert await cache.ttl("k") == 10
    clock.advance(0.6)
    assert await cache.ttl("k") == 9
    clock.advance(0.3)
    assert await cache.ttl("k") == 9
    clock.advance(8.7)
    assert await cache.ttl("k") == 0


async def test_expired_keys_are_dropped_without_being_read(
    cache: InMemoryCache, clock: ManualClock
) -> None:
    await cache.setex("a", 1, "v")
    await cache.setex("b", 2, "v")
    await cache.set("c", "v")
    clock.advance(5)
    assert len(cache) == 1
    assert await cache.keys() == ["c"]


async def test_rewritten_deadlines_do_not_expire_a_key_early(
    clock: ManualClock,
) -> None:
    cache = InMemoryCache(clock=clock)
    for _ in range(500):  # enough stale deadlines to compact the heap several times
        await cache.setex("k", 1, "v")
    await cache.setex("k", 100, "v")
    await cache.set("other", "v", ex=1)
    clock.advance(50)
    assert await cache.get("k") == "v"
    assert await cache.get("other") is None
    assert len(cache._deadlines) <= 2 * len(cache) + 65


async def test_a_plain_set_clears_the_deadline_and_incr_keeps_it(
    cache: InMemoryCache, clock: ManualClock
) -> None:
    await cache.setex("cleared", 1, "v")
    await cache.set("cleared", "w")
    await cache.setex("counted", 2, 1)
    assert await cache.incr("counted") == 2
    clock.advance(2)
    assert await cache.get("cleared") == "w"
    assert await cache.get("counted") is None


async def test_the_least_recently_used_key_is_evicted(cache: InMemoryCache) -> None:
    await cache.set("a", 1)
    await cache.set("b", 2)
    await cache.set("c", 3)
    assert await cache.get("a") == "1"  # a is now the most recently used
    await cache.set("d", 4)
    assert await cache.exists("a", "b", "c", "d") == 3
    assert await cache.get("b") is None
    await cache.incr("c")
    await cache.set("e", 5)
    assert sorted(await cache.keys()) == ["c", "d", "e"]
    assert len(cache) == 3


async def test_overwriting_a_key_does_not_evict(cache: InMemoryCache) -> None:
    for value in range(10):
        await cache.set("a", value)
        await cache.set("b", value)
        await cache.set("c", value)
    assert await cache.mget(["a", "b", "c"]) == ["9", "9", "9"]


async def test_expire_delete_and_flush(cache: InMemoryCache, clock: ManualClock) -> None:
    await cache.set("a", "v")
    await cache.set("b", "v")
    assert await cache.expire("a", datetime.timedelta(seconds=3)) is True
    assert await cache.ttl("a") == 3
    assert await cache.expire("b", -1) is True
    assert await cache.exists("b") == 0
    assert await cache.flushdb() is True
    assert await cache.keys() == []
    clock.advance(10)
    assert len(cache) == 0


@pytest.mark.parametrize("stored", ["abc", "1.5", "05", " 5", "+5", "9223372036854775808"])
async def test_incr_refuses_what_redis_refuses(cache: InMemoryCache, stored: str) -> None:
    await cache.set("n", stored)
    with pytest.raises(ResponseError, match="not an integer or out of range"):
        await cache.incr("n")
    assert await cache.get("n") == stored


async def test_incr_refuses_overflow_and_non_integer_amounts(cache: InMemoryCache) -> None:
    await cache.set("n", 2**63 - 1)
    with pytest.raises(ResponseError, match="overflow"):
        await cache.incr("n")
    with pytest.raises(ResponseError, match="not an integer"):
        await cache.incrby("m", 1.5)  # type: ignore[arg-type]
    assert await cache.get("m") is None


async def test_bad_arguments_raise_redis_errors(cache: InMemoryCache) -> None:
    with pytest.raises(DataError, match="'dict'"):
        await cache.set("k", {"a": 1})
    with pytest.raises(DataError, match="mutually exclusive"):
        await cache.set("k", "v", nx=True, xx=True)
    with pytest.raises(DataError, match="mutually exclusive"):
        await cache.set("k", "v", ex=1, keepttl=True)
    with pytest.raises(DataError):
        await cache.set("k", "v", ex=1.5)  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await cache.delete()
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await cache.exists()
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryCache(max_entries=0)


async def test_keys_and_values_are_normalised_like_redis_py(cache: InMemoryCache) -> None:
    await cache.set(b"bytes-key", b"v")
    await cache.set(7, 1e20)
    assert await cache.get("bytes-key") == "v"
    assert await cache.get("7") == "1e+20"
    assert await cache.keys("[^b]") == ["7"]
    assert await cache.ping() is True
    assert repr(cache) == "InMemoryCache(2/3 keys)"
    assert repr(InMemoryCache(namespace="n")) == "InMemoryCache(namespace='n', 0/10000 keys)"
