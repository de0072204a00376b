"""``IResourceResolver`` (one per resource type), ``IInlineResourceResolver`` (one a caller's
inline reference may use) and ``IEgressGuard`` (the policy such resources connect through).

The resolvers' notes name their calls by type: ``database`` (``asyncpg.create_pool``, or
Lockgate's SQLite pool over ``sqlite3``), ``http_client`` (an ``httpx.AsyncClient``),
``cache`` (``redis.asyncio``, or an in-memory cache), ``message_queue`` (``nats.connect``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["IEgressGuard", "IInlineResourceResolver", "IResourceResolver"]


@runtime_checkable
class IResourceResolver(Protocol):
    """Creates, checks and closes the resources of one reference type: a database pool, an
    HTTP client, a cache, a message-queue connection.

    The ``ResourceRegistry`` pools what ``create`` returns (one per distinct reference), so a
    resolver never caches. Its error messages describe the target (``PostgreSQL at
    127.0.0.1:5432``) but not the resource's name, which the registry adds, and never hold a
    password or a secret's value.
    """

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Args:
            config: A reference's config, as a request or ``lockgate.toml`` gave it.

        Raises:
            ResourceConfigError: A key is unknown, missing or of the wrong type; the
                message and ``fields["key"]`` name it.

        Side Effects:
            None.

        Note:
            No external call: a request is checked before anything is recorded or opened.
        """
        ...

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        """Open the resource (a pool holds its ``min_size`` connections when this returns).

        Args:
            config: The reference's config, already validated.
            credentials: The decrypted value of the reference's ``credentials_ref`` secret
                (a JSON value, usually an object), or None.

        Returns:
            The resource a step gets from ``get_resource``: an ``asyncpg.Pool``, a
            ``SQLiteDatabase``, an HTTP client, a cache, a queue connection.

        Raises:
            ResourceConfigError: ``credentials`` has the wrong shape.
            ResourceTimeoutError: Connecting took longer than ``connect_timeout``.
            ResourceUnavailableError: Refused, unreachable, or the credentials were rejected.

        Side Effects:
            Opens connections (or, for an in-memory resource, allocates it).

        Note:
            ``asyncpg.create_pool``, ``sqlite3.connect``, ``httpx.AsyncClient(...)``,
            ``redis.asyncio.Redis(...)`` then ``PING``, ``nats.connect``: the connection is
            made here, so a bad target fails the step that asked, naming the resource.
        """
        ...

    async def health_check(self, resource: Any) -> None:
        """Probe ``resource``.

        Args:
            resource: What ``create`` returned.

        Raises:
            ResourceUnavailableError: It is unhealthy; the message says why.

        Side Effects:
            One round trip on one of its connections.

        Note:
            ``SELECT 1`` (databases), ``PING`` (Redis, NATS), a ``GET`` of the configured
            ``health_url`` (HTTP clients).
        """
        ...

    async def close(self, resource: Any) -> None:
        """Close ``resource`` and every connection it holds. Idempotent.

        Args:
            resource: What ``create`` returned.

        Raises:
            TypeError: ``resource`` is not one this resolver makes (a patched or custom
                maker's); the registry then closes it as any object (``aclose``/``close``).
                Other failures are logged by the registry, which goes on closing the rest.

        Side Effects:
            Its connections are closed; a pool waits a bounded time for acquired ones.

        Note:
            ``Pool.close()``, ``AsyncClient.aclose()``, ``Redis.aclose()``,
            ``Client.drain()``.
        """
        ...


@runtime_checkable
class IEgressGuard(Protocol):
    """The egress policy of inline resources (``inline_allowed_hosts``), applied where they
    connect: resolve the host at connect time, connect only to the addresses returned.

    Note:
        A resolver hands the returned addresses to its driver and never the host name, so
        no second DNS lookup can move the connection elsewhere (DNS rebinding); TLS goes on
        verifying the host name. Every failure to reach the host goes through ``failed``
        and reaches the caller as ``lockgate.models.security.egress.UNREACHABLE``.
    """

    def now(self) -> float:
        """The guard's clock.

        Returns:
            Monotonic seconds: an attempt's start, to pass to ``failed`` as ``started``.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            Reads ``time.monotonic()``.
        """
        ...

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` now; the addresses the policy allows.

        Args:
            host: The host name or address a reference names.
            port: The port it connects to (the policy may list ``host:port``).

        Returns:
            The allowed addresses, in the resolver's order: connect to these, never to
            ``host`` again.

        Raises:
            EgressRefusedError: None is allowed (an ``OSError``; its message is for the log).
            OSError: The name does not resolve.

        Side Effects:
            One DNS lookup.

        Note:
            Calls ``loop.getaddrinfo`` (a literal address is not looked up).
        """
        ...

    async def failed(
        self, started: float, connect_timeout: float, target: str, reason: BaseException
    ) -> None:
        """Log ``reason`` (INFO for a policy refusal, DEBUG otherwise), then wait until
        ``started + connect_timeout``: refused, silent and forbidden hosts all take as long.

        Args:
            started: ``now()`` when the attempt began.
            connect_timeout: The attempt's connect timeout.
            target: ``host:port`` as the reference named it.
            reason: The connect failure (never one that could hold credentials).

        Raises:
            Nothing: the resolver raises ``UNREACHABLE`` itself afterwards.

        Side Effects:
            Sleeps, and logs.

        Note:
            No external call: ``asyncio.sleep`` and the ``lockgate`` log.
        """
        ...


@runtime_checkable
class IInlineResourceResolver(IResourceResolver, Protocol):
    """A resolver whose resources may be created from a caller's inline reference: it
    connects only where an ``IEgressGuard`` allows.

    The registry has shared resources and the operator's own (in-process) references made
    with ``create`` (not restricted), and callers' inline ones with ``create_inline``. A
    resolver without these methods (a user's own) is refused inline unless registered with
    ``inline=True``.
    """

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, plus what a caller may not choose (a proxy, a Unix socket path, a
        transport that resolves names itself).

        Args:
            config: A caller's inline reference's config.

        Raises:
            ResourceConfigError: Names the key and why it is refused inline.

        Side Effects:
            None.

        Note:
            No external call.
        """
        ...

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> Any:
        """``create``, connecting through ``egress``: every connection the resource ever
        opens (the first, a pool's later ones, reconnects, redirects) goes to addresses
        ``egress`` returned.

        Args:
            config: The reference's config, checked by ``validate_inline``.
            credentials: As ``create``.
            egress: The policy to connect through.

        Returns:
            As ``create``.

        Raises:
            ResourceUnavailableError: Any failure to reach the host, with the one message
                ``UNREACHABLE`` after ``egress.failed``; other failures (credentials
                rejected by a reached server) as ``create`` raises them.
            ResourceConfigError: As ``create``.

        Side Effects:
            Opens connections, each to an address ``egress`` allowed.

        Note:
            As ``create``, with the drivers' connect hooks pointed at ``egress.addresses``
            (asyncpg's ``connect`` host list, httpcore's network backend, redis-py's
            connection class, nats' server list).
        """
        ...
