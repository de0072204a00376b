"""``RedisCacheResolver``: a ``redis.asyncio.Redis`` client on its own bounded pool.

Each resource gets its own ``BlockingConnectionPool`` so ``max_connections`` is a cap that
makes callers wait (up to ``pool_timeout``) instead of failing, and closing one resource
never touches another's connections. ``create`` sends a PING so a wrong password or an
unreachable server fails when the resource is created, as a Lockgate error, not inside a
step's first command.

An inline reference (``create_inline``) gets connections that go only to addresses the
egress guard allows (``resources.egress.redis``), TLS verifying the host name; any failure to reach
the server is the one ``UNREACHABLE`` error, after ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, SSLConnection
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, ExpiryT, KeyT

from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.config import ConfigReader, credential_fields
from lockgate.gateways.resources.egress.redis import EgressRedisConnection, EgressRedisSSLConnection
from lockgate.gateways.resources.ports import IEgressGuard
from lockgate.models.security.egress import UNREACHABLE

__all__ = ["RedisCache", "RedisCacheResolver", "RedisSettings"]

_CREDENTIAL_KEYS = frozenset({"username", "password"})
_MIN_SECONDS = 0.001
# Redis's replies when the credentials are wrong or missing.
_AUTH_REPLIES = ("WRONGPASS", "NOAUTH", "invalid password", "invalid username-password")


class RedisCache(Redis):
    """``redis.asyncio.Redis`` as a ``cache`` resource: the whole redis-py API.

    ``setex`` is the one change: redis-py 8 marks it deprecated (prefer ``set(..., ex=)``)
    and warns on every call, but it is what workflow steps write (``await
    cache.setex(key, 300, value)``), so here it sends SETEX without a warning.
    """

    async def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> bool:
        """Set ``name`` to ``value`` for ``time`` seconds (an int or a timedelta)."""
        if isinstance(time, datetime.timedelta):
            time = int(time.total_seconds())
        reply = await self.execute_command("SETEX", name, time, value)  # type: ignore[no-untyped-call]
        return bool(reply)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """A Redis resource's config, checked (see ``RedisCacheResolver`` for each key)."""

    host: str
    port: int
    db: int
    max_connections: int
    pool_timeout: float
    connect_timeout: float
    socket_timeout: float | None
    decode_responses: bool
    ssl: bool
    health_check_interval: float | None
    retries: int

    @property
    def target(self) -> str:
        """How messages name the server: ``Redis at 127.0.0.1:6379``."""
        return f"Redis at {self.host}:{self.port}"

    @classmethod
    def read(cls, reader: ConfigReader) -> RedisSettings:
        """Read the Redis keys from ``reader`` (the caller calls ``reader.done()``).

        Raises:
            ResourceConfigError: A key has the wrong type or range; names the key.
        """
        return cls(
            host=reader.text("host", "127.0.0.1") or "127.0.0.1",
            port=reader.integer("port", 6379, minimum=1, maximum=65535) or 6379,
            db=reader.integer("db", 0, minimum=0) or 0,
            max_connections=reader.integer("max_connections", 50, minimum=1) or 50,
            pool_timeout=reader.number("pool_timeout", 20.0, minimum=_MIN_SECONDS) or 20.0,
            connect_timeout=reader.number("connect_timeout", 5.0, minimum=_MIN_SECONDS) or 5.0,
            socket_timeout=reader.number("socket_timeout", None, minimum=_MIN_SECONDS),
            decode_responses=reader.boolean("decode_responses", True),
            ssl=reader.boolean("ssl", False),
            health_check_interval=reader.number(
                "health_check_interval", None, minimum=_MIN_SECONDS
            ),
            retries=reader.integer("retries", 3, minimum=0, maximum=100) or 0,
        )


def _is_auth_failure(exc: BaseException) -> bool:
    if isinstance(exc, AuthenticationError):
        return True
    return isinstance(exc, ResponseError) and any(reply in str(exc) for reply in _AUTH_REPLIES)


class RedisCacheResolver:
    """Creates ``redis.asyncio.Redis`` clients, each on its own ``BlockingConnectionPool``.

    Config keys:
        host (str, "127.0.0.1"): The server's host name or address.
        port (int, 6379): The server's TCP port.
        db (int, 0): The database number.
        max_connections (int, 50): The most connections the pool opens; past it commands
            wait for a free connection.
        pool_timeout (number, 20.0): Seconds a command waits for a free connection before
            failing with ``redis.exceptions.ConnectionError``.
        connect_timeout (number, 5.0): Seconds to connect and answer the first PING;
            also each later connection's TCP connect timeout.
        socket_timeout (number, none): Seconds a command may wait for its reply; unset
            waits as long as the server takes.
        decode_responses (bool, true): Return ``str`` rather than ``bytes``.
        ssl (bool, false): Connect over TLS (server certificate and host name verified).
        health_check_interval (number, none): PING a connection idle for this many
            seconds before reusing it.
        retries (int, 3): How many times a command that failed with a connection error is
            sent again on a new connection (jittered backoff from 10 ms, at most 1 s). This
            is how a server restart goes unseen: the first command after it fails on its
            dead connection and is retried. 0 never repeats a command, which then fails
            once per dead connection after a restart (a command whose connection dropped
            may have run, so a retried ``incr`` can count twice). Timeouts are never retried.

    Credentials (``credentials_ref``): ``{"password": ...}`` or ``{"username": ...,
    "password": ...}`` (Redis ACL users).

    The resource is a ``RedisCache``: the ``redis.asyncio.Redis`` client itself.
    """

    type_name: str = "redis"

    def settings(self, config: Mapping[str, Any]) -> RedisSettings:
        """``config`` read and checked, every key known.

        Raises:
            ResourceConfigError: A key is unknown or has the wrong type; names the key.
        """
        reader = ConfigReader(self.type_name, config)
        settings = RedisSettings.read(reader)
        reader.done()
        return settings

    def validate(self, config: Mapping[str, Any]) -> None:
        self.settings(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> RedisCache:
        return await self.connect(self.settings(config), credentials)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``: every key is fine inline (the host is checked when connecting)."""
        self.settings(config)

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> RedisCache:
        """``create`` whose connections go only where ``egress`` allows."""
        return await self.connect(self.settings(config), credentials, egress=egress)

    async def connect(
        self, settings: RedisSettings, credentials: Any, *, egress: IEgressGuard | None = None
    ) -> RedisCache:
        """Open a client on a new pool and PING the server through it.

        Args:
            egress: For an inline reference: every connection goes to an address it
                allows, and any failure to reach the server is ``UNREACHABLE``.

        Raises:
            ResourceConfigError: ``credentials`` is not one of the accepted shapes.
            ResourceTimeoutError: No PONG within ``connect_timeout`` (not inline).
            ResourceUnavailableError: Refused, unreachable, or the credentials rejected.

        Side Effects:
            Opens one connection (kept in the pool).
        """
        fields = credential_fields(self.type_name, credentials, _CREDENTIAL_KEYS)
        if "username" in fields and "password" not in fields:
            raise ResourceConfigError(
                f"{self.type_name} credentials with a 'username' need a 'password'",
                key="credentials_ref",
            )
        guarded: dict[str, Any] = {}
        connection_class: type[Connection] = SSLConnection if settings.ssl else Connection
        if egress is not None:
            guarded["egress"] = egress
            connection_class = EgressRedisSSLConnection if settings.ssl else EgressRedisConnection
        pool = BlockingConnectionPool(
            max_connections=settings.max_connections,
            timeout=settings.pool_timeout,
            connection_class=connection_class,
            host=settings.host,
            port=settings.port,
            db=settings.db,
            username=fields.get("username"),
            password=fields.get("password"),
            socket_connect_timeout=settings.connect_timeout,
            socket_timeout=settings.socket_timeout,
            decode_responses=settings.decode_responses,
            health_check_interval=settings.health_check_interval or 0,
            retry=Retry(
                ExponentialWithJitterBackoff(base=0.01, cap=1.0),
                settings.retries,
                supported_errors=(RedisConnectionError,),
            ),
            **guarded,
        )
        client = RedisCache(connection_pool=pool)
        started = egress.now() if egress is not None else 0.0
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await client.ping()
        except BaseException as exc:
            await _discard(client)
            error = _translate(settings, exc, with_password="password" in fields)
            if error is exc:
                raise
            if egress is not None and not _is_auth_failure(exc):  # the host was not reached
                await egress.failed(started, settings.connect_timeout, _where(settings), exc)
                raise ResourceUnavailableError(UNREACHABLE) from None
            raise error from None
        return client

    async def health_check(self, resource: Any) -> None:
        """PING the server.

        Raises:
            ResourceUnavailableError: No PONG; the message says why.
        """
        try:
            await resource.ping()
        except (RedisError, OSError) as exc:
            raise ResourceUnavailableError(
                f"{_target(resource)} did not answer PING: {_describe(exc)}"
            ) from None

    async def close(self, resource: Any) -> None:
        """Close the client and every connection of its pool. Idempotent."""
        await resource.aclose()
        await resource.connection_pool.disconnect()


async def _discard(client: Redis) -> None:
    try:
        await client.aclose()
    finally:
        await client.connection_pool.disconnect()


def _where(settings: RedisSettings) -> str:
    return f"{settings.host}:{settings.port}"


def _target(client: Any) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"Redis at {kwargs.get('host')}:{kwargs.get('port')}"


def _describe(exc: BaseException) -> str:
    if _is_auth_failure(exc):
        return "the credentials were rejected"
    return f"{type(exc).__name__}: {exc}"


def _translate(
    settings: RedisSettings, exc: BaseException, *, with_password: bool
) -> BaseException:
    """The Lockgate error for a failed first PING (others, like cancellation, pass)."""
    target, timeout = settings.target, settings.connect_timeout
    if isinstance(exc, TimeoutError | RedisTimeoutError):
        return ResourceTimeoutError(
            f"{target} did not answer within connect_timeout ({timeout:g} s)", timeout=timeout
        )
    if _is_auth_failure(exc):
        # Redis's reply never holds the password, but it is dropped all the same.
        if not with_password:
            return ResourceUnavailableError(
                f"{target} requires a password: name a secret holding it in the "
                "reference's credentials_ref"
            )
        return ResourceUnavailableError(f"{target} rejected the credentials")
    if isinstance(exc, RedisError | OSError):
        return ResourceUnavailableError(f"{target} is unreachable: {_describe(exc)}")
    return exc
