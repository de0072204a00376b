"""httpx connections of inline ``http_client`` resources, made through the egress guard.

httpx opens connections through httpcore, which asks a *network backend* for each TCP
connection (``connect_tcp(host, port)``) and then starts TLS on the stream itself with the
request's host as the server name. ``EgressNetworkBackend`` is that backend: it resolves
and checks the host with the guard and connects to a checked *address*; httpcore goes on
passing the original host to ``start_tls``, so SNI and certificate verification use the
name the URL gave. Every connection goes through it: the first, redirects (to any host),
absolute URLs a step sends, reconnects after keep-alive expiry.

Every failure to connect (refused by the policy, unresolvable, refused, silent, TLS) is
padded to the connect timeout and raised as one ``httpcore.ConnectError`` (``httpx.ConnectError``
to the step), whose text says nothing of the cause: a step's error ends up in the run's
result, where a caller would otherwise read a port scan.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx

from lockgate.gateways.resources.ports import IEgressGuard
from lockgate.models.security.egress import unreachable

__all__ = ["EgressHTTPTransport", "EgressNetworkBackend"]


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One connection attempt: its deadline, and how it fails."""

    guard: IEgressGuard
    started: float
    limit: float
    target: str

    def remaining(self) -> float:
        return max(self.started + self.limit - self.guard.now(), 0.0)

    async def fail(self, reason: BaseException) -> typing.NoReturn:
        await self.guard.failed(self.started, self.limit, self.target, reason)
        raise httpcore.ConnectError(unreachable(self.target)) from None


class EgressNetworkBackend(httpcore.AsyncNetworkBackend):
    """Connects to addresses the guard allows, and only to those.

    Args:
        guard: Resolves and checks hosts.
        connect_timeout: The connect (and TLS) deadline when a request sets none.
        inner: Opens the TCP connections (httpcore's anyio backend by default).
    """

    def __init__(
        self,
        guard: IEgressGuard,
        *,
        connect_timeout: float,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._guard = guard
        self._connect_timeout = connect_timeout
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host`` through the guard and connect to the first allowed address
        that answers, all within the connect timeout.

        Raises:
            httpcore.ConnectError: Any failure, padded to the timeout, with one text.
        """
        limit = self._connect_timeout if timeout is None else timeout
        attempt = _Attempt(self._guard, self._guard.now(), limit, f"{host}:{port}")
        try:
            async with asyncio.timeout(limit):
                stream = await self._first(host, port, local_address, socket_options)
        except Exception as exc:  # every cause reads the same to the caller
            await attempt.fail(exc)
        return _GuardedStream(stream, attempt)

    async def _first(
        self,
        host: str,
        port: int,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in await self._guard.addresses(host, port):
            try:
                # No timeout here: the caller's asyncio.timeout bounds every attempt.
                return await self._inner.connect_tcp(
                    address, port, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                failure = exc
        assert failure is not None  # addresses() returns at least one
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109, ARG002 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        """Refused: an inline client connects to hosts, never to local sockets."""
        raise httpcore.ConnectError(unreachable(path))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedStream(httpcore.AsyncNetworkStream):
    """A connected stream whose TLS handshake shares the connect's deadline and failure
    text: a port that accepts and never completes TLS reads as a refused one."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, attempt: _Attempt) -> None:
        self._stream = stream
        self._attempt = attempt

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        # httpcore passes the connect timeout again; the connect's own deadline, which
        # already counts the TCP connect, bounds the handshake instead.
        timeout: float | None = None,  # noqa: ASYNC109, ARG002
    ) -> httpcore.AsyncNetworkStream:
        """TLS with ``server_hostname`` (the URL's host), by the connect's deadline.

        Raises:
            httpcore.ConnectError: The handshake failed or missed the deadline; padded.
        """
        try:
            async with asyncio.timeout(self._attempt.remaining()):
                return await self._stream.start_tls(ssl_context, server_hostname)
        except Exception as exc:  # a certificate error reads as a refused port
            await self._stream.aclose()
            await self._attempt.fail(exc)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class EgressHTTPTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections all go through the guard; no proxy,
    no environment (``trust_env`` off).

    Args:
        guard: Resolves and checks hosts.
        verify: Verify TLS certificates (against certifi's roots), or a context to use.
        limits: The pool's limits.
        connect_timeout: The connect deadline when a request sets none.
    """

    def __init__(
        self,
        guard: IEgressGuard,
        *,
        verify: bool | ssl.SSLContext,
        limits: httpx.Limits,
        connect_timeout: float,
    ) -> None:
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=context, limits=limits, trust_env=False)
        # httpx exposes no network_backend, so the pool it built is replaced by the same
        # pool with ours: handle_async_request and aclose only ever use self._pool.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=EgressNetworkBackend(guard, connect_timeout=connect_timeout),
        )
