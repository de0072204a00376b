"""``RedisOrMemoryCacheResolver``: the ``cache`` resource type, on Redis or in memory.

A reference that names a Redis server (``host`` or ``port``) gets a Redis client; one that
names none gets the embedded ``InMemoryCache``, so a workflow written against the seed's
``await cache.setex(...)`` runs on a gateway with no Redis at all. Both speak the same API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.cache.memory import InMemoryCache
from lockgate.gateways.resources.cache.redis import RedisCacheResolver, RedisSettings
from lockgate.gateways.resources.config import ConfigReader
from lockgate.gateways.resources.ports import IEgressGuard

__all__ = ["CacheResolver", "RedisOrMemoryCacheResolver"]

_BACKENDS = ("memory", "redis")


@dataclass(frozen=True, slots=True)
class _MemorySettings:
    namespace: str
    max_entries: int


class RedisOrMemoryCacheResolver:
    """Creates caches: a ``RedisCache`` (the ``redis.asyncio.Redis`` client, with a ``setex``
    that does not warn) or an ``InMemoryCache`` with the same async API.

    Config keys:
        backend (str, "redis" when ``host`` or ``port`` is set, else "memory"): ``memory``
            or ``redis``.

    With ``backend: "memory"`` (no credentials):
        namespace (str, ""): A label; references with different namespaces are different
            caches (equal references share one instance, so two workflows that must not
            see each other's keys use distinct namespaces).
        max_entries (int, 10000): The most keys kept; past it the least recently used key
            is evicted.

    With ``backend: "redis"`` (credentials ``{"password"}`` or ``{"username",
    "password"}``):
        host (str, "127.0.0.1"): The server's host name or address.
        port (int, 6379): The server's TCP port.
        db (int, 0): The database number.
        max_connections (int, 50): The most connections the pool opens; past it commands
            wait for a free connection.
        pool_timeout (number, 20.0): Seconds a command waits for a free connection.
        connect_timeout (number, 5.0): Seconds to connect and answer the first PING.
        socket_timeout (number, none): Seconds a command may wait for its reply.
        decode_responses (bool, true): Return ``str`` rather than ``bytes``.
        ssl (bool, false): Connect over TLS.
        health_check_interval (number, none): PING a connection idle this long before
            reusing it.
        retries (int, 3): How many times a command that failed with a connection error is
            sent again on a new connection, which hides a server restart; 0 never repeats
            a command (one that may have run), so the first after a restart fails.

    Both backends return values as strings (``decode_responses`` on), ``None`` for a
    missing key, and ``ttl`` codes -2 (missing) and -1 (no expiry).
    """

    type_name: str = "cache"

    def __init__(self, redis: RedisCacheResolver | None = None) -> None:
        self._redis = redis or RedisCacheResolver()

    def _read(self, config: Mapping[str, Any]) -> _MemorySettings | RedisSettings:
        reader = ConfigReader(self.type_name, config)
        default = "redis" if reader.has("host") or reader.has("port") else "memory"
        parsed: _MemorySettings | RedisSettings
        if reader.choice("backend", _BACKENDS, default) == "redis":
            parsed = RedisSettings.read(reader)
        else:
            parsed = _MemorySettings(
                namespace=reader.text("namespace", "") or "",
                max_entries=reader.integer("max_entries", 10_000, minimum=1) or 10_000,
            )
        reader.done()
        return parsed

    def validate(self, config: Mapping[str, Any]) -> None:
        self._read(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        """An ``InMemoryCache``, or a Redis client that answered a PING.

        Raises:
            ResourceConfigError: Credentials for the memory backend, or of the wrong shape.
            ResourceTimeoutError: Redis did not answer within ``connect_timeout``.
            ResourceUnavailableError: Redis refused, is unreachable or rejected the
                credentials.
        """
        parsed = self._read(config)
        if isinstance(parsed, RedisSettings):
            return await self._redis.connect(parsed, credentials)
        if credentials is not None:
            raise ResourceConfigError(
                f"a {self.type_name} with backend 'memory' takes no credentials: drop the "
                "reference's credentials_ref",
                key="credentials_ref",
            )
        return InMemoryCache(namespace=parsed.namespace, max_entries=parsed.max_entries)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``: every key is fine inline (a Redis host is checked when connecting)."""
        self._read(config)

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> Any:
        """``create`` for a caller's reference: Redis connections go only where ``egress``
        allows; an in-memory cache connects nowhere.

        Raises:
            ResourceConfigError, ResourceUnavailableError: As ``create``; a Redis server
                that cannot be reached is the one ``UNREACHABLE`` error.
        """
        parsed = self._read(config)
        if isinstance(parsed, RedisSettings):
            return await self._redis.connect(parsed, credentials, egress=egress)
        return await self.create(config, credentials)

    async def health_check(self, resource: Any) -> None:
        if isinstance(resource, Redis):
            await self._redis.health_check(resource)

    async def close(self, resource: Any) -> None:
        if isinstance(resource, Redis):
            await self._redis.close(resource)
        elif isinstance(resource, InMemoryCache):
            await resource.aclose()


# The name before implementations were named by technology (seed 000):
# it dispatches to Redis or to the in-memory cache.
CacheResolver = RedisOrMemoryCacheResolver
