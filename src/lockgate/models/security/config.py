"""How the gateway decides who may call it: the ``[auth]`` and ``[limits]`` tables of
``lockgate.toml`` (authorizers, usage plans, AWS credentials and CORS join them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lockgate.models.security.authorizers import Authorizer, UsagePlan
from lockgate.models.security.principals import Surface
from lockgate.models.security.sigv4 import AwsCredential

__all__ = ["AuthConfig", "ClientLimits", "CorsConfig", "SecurityConfig"]

# An allowed origin: "*", or scheme://host[:port] whose host may start with "*." (any
# subdomain) or be "*" alone (any host of that scheme), as HTTP APIs accept them.
_ORIGIN = re.compile(
    r"^(\*|https?://(\*|(\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?|null)$"
)


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """``[auth]``.

    Attributes:
        allow_anonymous: The surfaces anonymous callers may use. None (the default): all of
            them on a loopback listener, none on any other, where start-up refuses a
            surface that has no credential configured.
        authorizer: A JWT authorizer (``[authorizers.NAME]``) whose tokens the Lambda API,
            the workflow API and operations accept, with the Lockgate scopes among the
            token's ``scope``/``scp`` claims.
        token_cache_ttl: Seconds a token lookup is reused; a token revoked on another
            node (or by the CLI) stops working within this time.
    """

    allow_anonymous: frozenset[Surface] | None = None
    authorizer: str | None = None
    token_cache_ttl: float = 5.0


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """``[limits]``: what one client may take, whatever the surface.

    Attributes:
        rate: Requests per second per client (its principal when it presents a credential,
            else its address), refilled continuously.
        burst: Requests a client may make at once above ``rate``.
        max_runs_per_principal: Workflow runs one principal may have running on this node.
    """

    rate: float = 1000.0
    burst: int = 2000
    max_runs_per_principal: int = 1000

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1 or self.max_runs_per_principal < 1:
            raise ValueError("limits: rate > 0, burst >= 1, max_runs_per_principal >= 1")


@dataclass(frozen=True, slots=True)
class CorsConfig:
    """``[cors]`` (or a route's ``cors``), as an HTTP API configures it.

    Attributes:
        allow_origins: Origins browsers may call from: ``https://app.example.com``,
            ``https://*.example.com`` (any subdomain), ``https://*``, or ``*``.
        allow_methods, allow_headers, expose_headers: As their ``Access-Control-*``
            headers; ``*`` allows any.
        max_age: Seconds a browser may cache a preflight's answer (-1: not at all).
        allow_credentials: Browsers may send cookies and ``Authorization``; not with ``*``.
    """

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def __post_init__(self) -> None:
        for origin in self.allow_origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"allow_origins: {origin!r} is not an origin: expected '*', "
                    "'https://host[:port]' or 'https://*.domain'"
                )
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials is not supported if allow_origins contains '*'")
        if self.max_age is not None and not -1 <= self.max_age <= 86400:
            raise ValueError(f"max_age: expected -1 to 86400 seconds, got {self.max_age}")
        object.__setattr__(self, "allow_methods", tuple(m.upper() for m in self.allow_methods))
        object.__setattr__(self, "allow_headers", tuple(h.lower() for h in self.allow_headers))

    def allows_origin(self, origin: str) -> bool:
        """Whether a browser page at ``origin`` (``scheme://host[:port]``) may call."""
        for allowed in self.allow_origins:
            if allowed in ("*", origin):
                return True
            scheme, _, pattern = allowed.partition("://")
            if "*" not in pattern or not origin.startswith(scheme + "://"):
                continue
            host = origin[len(scheme) + 3 :]
            if pattern == "*" or (
                pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]
            ):
                return True
        return False


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Everything about access that ``lockgate.toml`` declares beside ``[gateway]``.

    Attributes:
        authorizers: ``[authorizers.NAME]``, which routes (and ``[auth] authorizer``) name.
        usage_plans: ``[usage_plans.NAME]``, which API keys belong to.
        aws_credentials: ``[aws_credentials.NAME]``: static keys whose SigV4 signatures the
            Lambda API checks (none: signatures stand for no credential).
    """

    auth: AuthConfig = field(default_factory=AuthConfig)
    limits: ClientLimits = field(default_factory=ClientLimits)
    cors: CorsConfig | None = None
    authorizers: Mapping[str, Authorizer] = field(default_factory=dict)
    usage_plans: Mapping[str, UsagePlan] = field(default_factory=dict)
    aws_credentials: tuple[AwsCredential, ...] = ()
