"""How the gateway decides who may call it: the ``[auth]`` and ``[limits]`` tables of
``lockgate.toml`` (authorizers, usage plans, AWS credentials and CORS join them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lockgate.models.auth import Surface

__all__ = ["AuthConfig", "ClientLimits", "SecurityConfig"]


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
class SecurityConfig:
    """Everything about access that ``lockgate.toml`` declares beside ``[gateway]``."""

    auth: AuthConfig = field(default_factory=AuthConfig)
    limits: ClientLimits = field(default_factory=ClientLimits)
