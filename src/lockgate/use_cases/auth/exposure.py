"""Fail closed: a listener that other machines can reach serves a surface only when some
credential can open it, or when the operator let anonymous callers in on purpose.

Without this, a gateway moved from ``127.0.0.1`` to ``0.0.0.0`` would keep serving its
workflow API to anyone; with it, start-up stops and says which surface needs what.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from lockgate.errors import ConfigError
from lockgate.models.security.config import AuthConfig
from lockgate.models.security.principals import (
    ADMIN,
    FUNCTIONS_INVOKE,
    OPS_READ,
    RUNS_CANCEL,
    RUNS_READ,
    RUNS_READ_OWN,
    WORKFLOWS_RUN,
    Surface,
)

__all__ = [
    "ADMIN_SURFACES",
    "PUBLIC_SURFACES",
    "anonymous_surfaces",
    "check_exposure",
    "is_loopback_host",
    "served_surfaces",
]

PUBLIC_SURFACES = frozenset({Surface.LAMBDA_API, Surface.WORKFLOW_API})
"""What the main listener serves when operations have a listener of their own."""
ADMIN_SURFACES = frozenset({Surface.OPERATIONS})
"""What an ``admin_listen`` listener serves (with the operators' endpoints)."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# The scopes (or their narrowed forms) that open each surface; admin opens all.
_OPENING = {
    Surface.LAMBDA_API: (FUNCTIONS_INVOKE,),
    Surface.WORKFLOW_API: (WORKFLOWS_RUN, RUNS_READ, RUNS_READ_OWN, RUNS_CANCEL),
    Surface.OPERATIONS: (OPS_READ,),
}
_HOW = {
    Surface.LAMBDA_API: f"`lockgate tokens create NAME --scope {FUNCTIONS_INVOKE}`, "
    "[aws_credentials.NAME] (SigV4, for boto3 and the AWS CLI)",
    Surface.WORKFLOW_API: f"`lockgate tokens create NAME --scope {WORKFLOWS_RUN} --scope "
    f"{RUNS_READ_OWN}`",
    Surface.OPERATIONS: f"`lockgate tokens create NAME --scope {OPS_READ}`",
}


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a listen address or a name) is reachable from this machine only."""
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_surfaces(host: str, admin_host: str | None) -> list[tuple[str, frozenset[Surface]]]:
    """Each listen address and the gated surfaces it serves: all on ``host``, unless an
    admin listener on ``admin_host`` takes the operations."""
    if admin_host is None:
        return [(host, frozenset(Surface))]
    return [(host, PUBLIC_SURFACES), (admin_host, ADMIN_SURFACES)]


def anonymous_surfaces(auth: AuthConfig, *, loopback: bool) -> frozenset[Surface]:
    """The surfaces a listener lets anonymous callers use: ``[auth] allow_anonymous`` when
    set, else every surface on a loopback listener and none on any other."""
    if auth.allow_anonymous is not None:
        return auth.allow_anonymous
    return frozenset(Surface) if loopback else frozenset()


def _opens(scopes: Iterable[str], surface: Surface) -> bool:
    return any(
        scope in (ADMIN, base) or scope.startswith(base + ":")
        for scope in scopes
        for base in _OPENING[surface]
    )


def check_exposure(
    listeners: Mapping[str, Iterable[Surface]] | Iterable[tuple[str, Iterable[Surface]]],
    auth: AuthConfig,
    *,
    token_scopes: Iterable[Iterable[str]],
    admin_token: bool,
    jwt_authorizer: bool,
    aws_credentials: bool,
) -> None:
    """Refuse to serve a surface nobody could open.

    Args:
        listeners: Each listen address and the surfaces it serves.
        auth: ``[auth]``.
        token_scopes: The scopes of each stored token.
        admin_token: Whether ``admin_token`` is set.
        jwt_authorizer: Whether ``[auth] authorizer`` names a JWT authorizer.
        aws_credentials: Whether ``[aws_credentials.*]`` are declared (they open the Lambda API).

    Raises:
        ConfigError: A non-loopback listener serves a surface that admits no anonymous
            caller and that no configured credential opens; names each, and what to add.
    """
    stored = [tuple(scopes) for scopes in token_scopes]
    missing: list[str] = []
    pairs = listeners.items() if isinstance(listeners, Mapping) else listeners
    for address, surfaces in pairs:
        if is_loopback_host(address):
            continue
        anonymous = anonymous_surfaces(auth, loopback=False)
        for surface in surfaces:
            if surface in anonymous or admin_token or jwt_authorizer:
                continue
            if surface is Surface.LAMBDA_API and aws_credentials:
                continue
            if any(_opens(scopes, surface) for scopes in stored):
                continue
            missing.append(
                f"{surface.value} on {address}: add a credential ({_HOW[surface]}, "
                f"[auth] authorizer, or admin_token), or let anonymous callers in with "
                f'[auth] allow_anonymous = ["{surface.value}"]'
            )
    if missing:
        lines = "".join(f"\n  - {line}" for line in missing)
        raise ConfigError(
            "refusing to serve surfaces that no credential can open on a listener other "
            f"machines can reach:{lines}",
            key="auth.allow_anonymous",
        )
