"""``IResourceResolver`` (one per resource type), ``IInlineResourceResolver`` (one a caller's
inline reference may use) and ``IEgressGuard`` (the policy such resources connect through)."""

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

        Raises:
            ResourceConfigError: A key is unknown, missing or of the wrong type; the
                message and ``fields["key"]`` name it.
        """
        ...

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        """Open the resource (a pool holds its ``min_size`` connections when this returns).

        Args:
            config: The reference's config, already validated.
            credentials: The decrypted value of the reference's ``credentials_ref`` secret
                (a JSON value, usually an object), or None.

        Raises:
            ResourceConfigError: ``credentials`` has the wrong shape.
            ResourceTimeoutError: Connecting took longer than ``connect_timeout``.
            ResourceUnavailableError: Refused, unreachable, or the credentials were rejected.

        Side Effects:
            Opens connections (or, for an in-memory resource, allocates it).
        """
        ...

    async def health_check(self, resource: Any) -> None:
        """Probe ``resource`` (``SELECT 1``, ``PING``, a request to a configured URL).

        Raises:
            ResourceUnavailableError: It is unhealthy; the message says why.
        """
        ...

    async def close(self, resource: Any) -> None:
        """Close ``resource`` and every connection it holds. Idempotent."""
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
        """Monotonic seconds: an attempt's start, for ``failed``."""
        ...

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` now; the addresses the policy allows, in the resolver's order.

        Raises:
            EgressRefusedError: None is allowed (an ``OSError``; its message is for the log).
            OSError: The name does not resolve.
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

        Side Effects:
            Sleeps, and logs.
        """
        ...


@runtime_checkable
class IInlineResourceResolver(IResourceResolver, Protocol):
    """A resolver whose resources may be created from a caller's inline reference: it
    connects only where an ``IEgressGuard`` allows.

    The registry calls ``create`` for shared resources (the operator's, not restricted) and
    ``create_inline`` for inline ones. A resolver without these methods (a user's own) is
    refused inline unless registered with ``inline=True``.
    """

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, plus what a caller may not choose (a proxy, a Unix socket path, a
        transport that resolves names itself).

        Raises:
            ResourceConfigError: Names the key and why it is refused inline.
        """
        ...

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> Any:
        """``create``, connecting through ``egress``: every connection the resource ever
        opens (the first, a pool's later ones, reconnects, redirects) goes to addresses
        ``egress`` returned.

        Raises:
            ResourceUnavailableError: Any failure to reach the host, with the one message
                ``UNREACHABLE`` after ``egress.failed``; other failures (credentials
                rejected by a reached server) as ``create`` raises them.
            ResourceConfigError: As ``create``.
        """
        ...
