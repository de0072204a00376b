"""The ``httpx.AsyncClient`` a workflow step gets for an ``http_client`` resource.

It is a plain httpx client with five additions a shared, long-lived resource needs:

- credentials go only to the origin (scheme, host, port) of ``base_url``: a step may send a
  request to any URL, but the secret never leaves the service it was issued for;
- ``timeout`` is a deadline for the whole request (connect, redirects, body), not only for
  each read, so a server trickling bytes cannot hold a step for ever;
- an optional cap on concurrent connections to one host (httpx only caps the total), so one
  slow service cannot take every connection of the pool;
- the credential header is dropped on a redirect away from that origin (httpx alone keeps
  ``Authorization`` on an http -> https upgrade and knows nothing of ``X-API-Key``);
- responses decode JSON into values that can also be awaited, so both the httpx idiom
  (``response.json()``) and the aiohttp one (``await response.json()``) work in steps.

Its ``repr`` names the kind of credential, never its value.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lockgate.gateways.resources.egress.httpcore import EgressHTTPTransport
from lockgate.gateways.resources.ports import IEgressGuard

__all__ = [
    "HeaderAuth",
    "HostLimitTransport",
    "JsonArray",
    "JsonObject",
    "OriginBoundAuth",
    "ResourceHttpClient",
    "ResourceResponse",
    "safe_url",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class JsonObject(dict[str, Any]):
    """A decoded JSON object; ``await`` on it gives an equal plain ``dict``.

    Everything else behaves as a ``dict`` (``json.dumps``, ``orjson.dumps``, ``==``).
    Awaiting gives a plain copy rather than the object itself so that what an aiohttp-style
    step returns (``return await response.json()``) is exactly a JSON type, which the run
    store's strict codec checkpoints (it refuses dict and list subclasses).
    """

    __slots__ = ()

    def __await__(self) -> Generator[None, None, dict[str, Any]]:
        yield from ()
        return dict(self)


class JsonArray(list[Any]):
    """A decoded JSON array; ``await`` on it gives an equal plain ``list`` (see JsonObject)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, list[Any]]:
        yield from ()
        return list(self)


def awaitable_json(value: Any) -> Any:
    """``value`` with a top-level dict or list made awaitable; scalars are returned as they
    are (``await`` on a number or a string cannot be made to work)."""
    if type(value) is dict:
        return JsonObject(value)
    if type(value) is list:
        return JsonArray(value)
    return value


class ResourceResponse(httpx.Response):
    """An ``httpx.Response`` whose ``json()`` may be awaited when it is an object or array."""

    def json(self, **kwargs: Any) -> Any:
        return awaitable_json(super().json(**kwargs))


def safe_url(url: httpx.URL) -> str:
    """``url`` for a message: scheme, host, port and path; never user info or a query."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


class HeaderAuth(httpx.Auth):
    """Sends ``value`` in the header ``name`` (``Authorization: Bearer …`` or an API key).

    Kept out of the client's default headers so ``client.headers`` never shows it.
    """

    def __init__(self, name: str, value: str, *, kind: str) -> None:
        self.name = name
        self.kind = kind
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.name] = self._value
        yield request

    def __repr__(self) -> str:
        return f"HeaderAuth({self.name!r}, kind={self.kind!r})"


class OriginBoundAuth(httpx.Auth):
    """``auth`` applied to requests to ``origin`` (scheme, host, port) only.

    A request to any other origin goes as the caller built it, without the credential.
    Wraps auths whose work is in ``auth_flow`` (``HeaderAuth``, ``httpx.BasicAuth``).

    Args:
        auth: The credential's auth.
        origin: A URL whose scheme, host and port the credential is bound to.
    """

    def __init__(self, auth: httpx.Auth, origin: httpx.URL) -> None:
        self.auth = auth
        self.origin = _origin(origin)
        self.requires_request_body = auth.requires_request_body
        self.requires_response_body = auth.requires_response_body

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) != self.origin:
            yield request
            return
        yield from self.auth.auth_flow(request)

    def __repr__(self) -> str:
        scheme, host, port = self.origin
        return f"OriginBoundAuth({self.auth!r}, origin='{scheme}://{host}:{port}')"


@dataclass(slots=True)
class _Host:
    semaphore: asyncio.Semaphore
    users: int = 0  # holders and waiters; the entry goes when it drops to zero


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its host slot back when it is closed (once)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class HostLimitTransport(httpx.AsyncBaseTransport):
    """Caps the requests in flight to one (scheme, host, port) at ``limit``.

    A request holds its slot from before it connects until its response is closed, which is
    when httpx gives the connection back to the pool: so the cap is also a cap on that
    host's connections. A request waits for a slot at most its ``pool`` timeout, then fails
    with ``httpx.PoolTimeout`` as it would waiting for a pooled connection.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, limit: int) -> None:
        self._transport = transport
        self._limit = limit
        self._hosts: dict[tuple[str, str, int | None], _Host] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = _origin(request.url)
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self._limit))
        host.users += 1
        try:
            async with asyncio.timeout(request.extensions.get("timeout", {}).get("pool")):
                await host.semaphore.acquire()
        except TimeoutError:
            self._leave(key, host)
            raise httpx.PoolTimeout(
                f"no free connection to {safe_url(request.url)} "
                f"(connection_limit_per_host={self._limit})",
                request=request,
            ) from None
        except BaseException:
            self._leave(key, host)
            raise

        def release() -> None:
            host.semaphore.release()
            self._leave(key, host)

        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, release)
        return response

    def _leave(self, key: tuple[str, str, int | None], host: _Host) -> None:
        host.users -= 1
        if host.users == 0 and self._hosts.get(key) is host:
            del self._hosts[key]

    async def aclose(self) -> None:
        await self._transport.aclose()


class ResourceHttpClient(httpx.AsyncClient):
    """The client behind an ``http_client`` resource (see ``HttpxHttpClientResolver``).

    Args:
        base_url: Prefix of relative request URLs; "" for none.
        headers: Sent with every request.
        timeout: Deadline for a whole request, and for each read; a request's own
            ``timeout=`` replaces it for that request (its ``read`` value is the deadline).
        connect_timeout: Seconds to open a connection.
        connection_limit: Connections open at once, to all hosts.
        connection_limit_per_host: Requests in flight (so connections) to one host, or None.
        keepalive_timeout: Seconds an idle connection is kept.
        max_keepalive_connections: Idle connections kept; None for ``connection_limit``.
        follow_redirects: Whether redirects are followed by default.
        verify: Whether TLS certificates are verified.
        proxy: URL of the HTTP(S) proxy to go through, or None.
        auth: The credentials' ``httpx.Auth``, or None. It is bound to ``base_url``'s origin
            (see ``OriginBoundAuth``): requests elsewhere, and redirects away, go without it.
        health_url: What the resolver's health check requests, or None.
        egress: For an inline reference: every connection goes to an address this guard
            allows (see ``resources.egress.httpcore``), and any failure to connect reads the same.

    Raises:
        ValueError: ``auth`` without a ``base_url`` to bind it to, or ``proxy`` with
            ``egress`` (a proxy would choose the host, past the guard).
    """

    def __init__(
        self,
        *,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        connection_limit: int = 100,
        connection_limit_per_host: int | None = None,
        keepalive_timeout: float = 30.0,
        max_keepalive_connections: int | None = None,
        follow_redirects: bool = False,
        verify: bool = True,
        proxy: str | None = None,
        auth: httpx.Auth | None = None,
        health_url: str | None = None,
        egress: IEgressGuard | None = None,
    ) -> None:
        if auth is not None and not base_url:
            raise ValueError("credentials need a base_url: they are sent only to its origin")
        if egress is not None and proxy is not None:
            raise ValueError("a client behind the egress guard cannot go through a proxy")
        limits = httpx.Limits(
            max_connections=connection_limit,
            max_keepalive_connections=(
                connection_limit if max_keepalive_connections is None else max_keepalive_connections
            ),
            keepalive_expiry=keepalive_timeout,
        )
        transport: httpx.AsyncBaseTransport
        if egress is None:
            transport = httpx.AsyncHTTPTransport(
                verify=verify, limits=limits, proxy=proxy, trust_env=False
            )
        else:
            transport = EgressHTTPTransport(
                egress, verify=verify, limits=limits, connect_timeout=connect_timeout
            )
        if connection_limit_per_host is not None:
            transport = HostLimitTransport(transport, connection_limit_per_host)
        # trust_env=False: what the client does depends on its reference alone, not on
        # HTTP_PROXY or SSL_CERT_FILE in the gateway's environment.
        super().__init__(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=follow_redirects,
            transport=transport,
            trust_env=False,
        )
        self.health_url = health_url
        # Bound to the origin as it is now: a step setting client.base_url later does not
        # move the credential.
        self._credential_origin = _origin(self.base_url)
        self._secret_header: str | None = None
        if auth is not None:
            self.auth = OriginBoundAuth(auth, self.base_url)
            self._secret_header = auth.name if isinstance(auth, HeaderAuth) else "Authorization"
        if isinstance(auth, HeaderAuth):
            self._auth_kind = auth.kind
        else:
            self._auth_kind = "basic" if isinstance(auth, httpx.BasicAuth) else "none"

    @property
    def target(self) -> str:
        """What messages call this client: its base URL, or "HTTP client" without one."""
        if str(self.base_url):
            return f"HTTP service at {safe_url(self.base_url)}"
        return "HTTP client"

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """``AsyncClient.send`` under the request's deadline, answering a ResourceResponse.

        Raises:
            httpx.ReadTimeout: No complete response (headers, with ``stream=True``) within
                the deadline, as well as every error ``AsyncClient.send`` raises.
        """
        deadline = request.extensions.get("timeout", {}).get("read")
        scope = asyncio.timeout(deadline)
        try:
            async with scope:
                response = await super().send(request, **kwargs)
        except TimeoutError:
            if not scope.expired():
                raise
            raise httpx.ReadTimeout(
                f"no complete response from {safe_url(request.url)} within {deadline:g}s",
                request=request,
            ) from None
        response.__class__ = ResourceResponse
        return response

    def _redirect_headers(
        self, request: httpx.Request, url: httpx.URL, method: str
    ) -> httpx.Headers:
        # A request to the credential's origin carries the credential; the redirect's target
        # gets it only if it is that origin too. httpx alone would keep Authorization on an
        # http -> https upgrade, and does not know a custom header (X-API-Key) is secret.
        headers = super()._redirect_headers(request, url, method)
        if (
            self._secret_header is not None
            and _origin(request.url) == self._credential_origin
            and _origin(url) != self._credential_origin
        ):
            headers.pop(self._secret_header, None)
        return headers

    def __repr__(self) -> str:
        base_url = safe_url(self.base_url) if str(self.base_url) else ""
        return (
            f"ResourceHttpClient(base_url={base_url!r}, auth={self._auth_kind!r}, "
            f"closed={self.is_closed})"
        )
