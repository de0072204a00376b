"""redis-py connections of inline ``cache`` resources, made through the egress guard.

redis-py opens each pooled connection in ``Connection._connect`` with
``asyncio.open_connection(**self._connection_arguments())``. These subclasses resolve and
check the host with the guard first (for every connection: the first, the pool's later
ones, reconnects after a drop), then hand asyncio the checked *address*; with TLS the
reference's host name goes along as ``server_hostname``, so SNI and certificate
verification use the name, not the address.

Any failure to connect becomes one ``redis.exceptions.ConnectionError`` with the same text,
after the connect timeout. A timeout is then no different from a refusal to redis-py
either, so its retries treat them alike too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from lockgate.gateways.resources.ports import IEgressGuard
from lockgate.models.security.egress import unreachable

__all__ = ["EgressRedisConnection", "EgressRedisSSLConnection"]

_DEFAULT_CONNECT_TIMEOUT = 5.0


class EgressRedisConnection(Connection):
    """A Redis TCP connection to an address the guard allowed.

    Args:
        egress: Resolves and checks the host.
        **kwargs: ``redis.asyncio.Connection``'s own.
    """

    def __init__(self, *, egress: IEgressGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._egress = egress
        self._address = self.host

    async def _connect(self) -> None:
        limit = self.socket_connect_timeout or _DEFAULT_CONNECT_TIMEOUT
        started = self._egress.now()
        target = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(limit):
                await self._connect_checked()
        except Exception as exc:  # refused, silent, forbidden, TLS: all alike to the caller
            await self._egress.failed(started, limit, target, exc)
            raise RedisConnectionError(unreachable(target)) from None

    async def _connect_checked(self) -> None:
        failure: Exception | None = None
        for address in await self._egress.addresses(self.host, self.port):
            self._address = address
            try:
                await super()._connect()  # type: ignore[no-untyped-call]
            except OSError as exc:  # try the next address
                failure = exc
            else:
                return
        assert failure is not None  # addresses() returns at least one
        raise failure

    def _connection_arguments(self) -> Mapping[str, Any]:
        return {**super()._connection_arguments(), "host": self._address}


class EgressRedisSSLConnection(EgressRedisConnection, SSLConnection):
    """``EgressRedisConnection`` over TLS, verifying the reference's host name."""

    def _connection_arguments(self) -> Mapping[str, Any]:
        return {**super()._connection_arguments(), "server_hostname": self.host}
