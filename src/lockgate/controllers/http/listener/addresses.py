"""The addresses a gateway listens on and what each serves.

One listener serves everything. With ``admin_listen`` there are two, on one server and one
event loop: the main one serves declared routes, the Lambda API and the workflow API; the
admin one the operations endpoints and the operators' APIs (as Kong and Envoy keep their
admin APIs apart). Both answer the probes. Each has its own ``Host`` names and decides
anonymous access by its own address (a loopback admin listener lets anonymous callers read
``/health``, as a loopback gateway always did; operators' endpoints still want a token).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import Scope

from lockgate.config.settings import Settings, listen_address
from lockgate.controllers.http.auth.access import AccessGate, Endpoint
from lockgate.controllers.http.auth.hosts import AllowedHosts
from lockgate.models.security.config import AuthConfig
from lockgate.models.security.principals import Surface
from lockgate.use_cases.auth.authenticator import Authenticator
from lockgate.use_cases.auth.exposure import (
    ADMIN_SURFACES,
    PUBLIC_SURFACES,
    anonymous_surfaces,
    is_loopback_host,
)

__all__ = ["Listener", "listeners_for", "pick_listener"]


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening address.

    Attributes:
        host, port: Where it listens.
        routes: It serves declared routes.
        surfaces: The gated surfaces it serves.
        operators: It serves the operators' endpoints (secrets, jobs, tokens ...).
        gate: Admits its requests (anonymous access decided by its own address).
        hosts: The ``Host`` names it answers to.
    """

    host: str
    port: int
    routes: bool
    surfaces: frozenset[Surface]
    operators: bool
    gate: AccessGate
    hosts: AllowedHosts

    def serves(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint`` (a reserved one) is served here; probes everywhere."""
        if endpoint.scope is None:
            return True
        if endpoint.surface is None:
            return self.operators
        return endpoint.surface in self.surfaces


def listeners_for(
    settings: Settings, authenticator: Authenticator, auth: Callable[[], AuthConfig]
) -> tuple[Listener, ...]:
    """The listeners ``settings`` ask for (one, or two with ``admin_listen``).

    Args:
        settings: ``host``, ``port``, ``admin_listen``, ``allowed_hosts``.
        authenticator: Says who presented which credential.
        auth: Returns ``[auth]`` now (a reload may change it).
    """

    def listener(host: str, port: int, *, public: bool, admin: bool) -> Listener:
        loopback = is_loopback_host(host)
        surfaces = (PUBLIC_SURFACES if public else frozenset()) | (
            ADMIN_SURFACES if admin else frozenset()
        )
        return Listener(
            host=host,
            port=port,
            routes=public,
            surfaces=surfaces,
            operators=admin,
            gate=AccessGate(
                authenticator,
                lambda: anonymous_surfaces(auth(), loopback=loopback),
                max_body_bytes=settings.max_body_bytes,
            ),
            hosts=AllowedHosts(settings.allowed_hosts, host),
        )

    if settings.admin_listen is None:
        return (listener(settings.host, settings.port, public=True, admin=True),)
    admin_host, admin_port = listen_address(settings.admin_listen)
    return (
        listener(settings.host, settings.port, public=True, admin=False),
        listener(admin_host, admin_port, public=False, admin=True),
    )


def pick_listener(listeners: Sequence[Listener], scope: Scope) -> Listener:
    """The listener a request came in on: by the local port the connection reached (the
    two listeners' ports differ: ``lockgate serve`` refuses otherwise)."""
    if len(listeners) == 1:
        return listeners[0]
    server = scope.get("server")
    port = server[1] if server else None
    for listener in listeners[1:]:
        if listener.port == port:
            return listener
    return listeners[0]
