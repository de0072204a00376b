"""The fields a route's authorizer and API key add to its proxy event's
``requestContext``, in each payload format's shape."""

from __future__ import annotations

from typing import Any

import orjson

from lockgate.models.security.route_identity import RouteIdentity

__all__ = ["add_identity_v1", "add_identity_v2"]


def add_identity_v1(request_context: dict[str, Any], identity: RouteIdentity) -> None:
    """Payload 1.0: a JWT's ``claims`` and ``scopes``; a Lambda authorizer's context
    flattened beside ``principalId`` and ``integrationLatency`` (values as strings, as REST
    APIs pass them); the API key in ``identity``."""
    if identity.jwt_claims is not None:
        request_context["authorizer"] = {
            "claims": dict(identity.jwt_claims),
            "scopes": list(identity.jwt_scopes) if identity.jwt_scopes is not None else None,
        }
    elif identity.lambda_context is not None or identity.principal_id is not None:
        flattened: dict[str, Any] = {
            name: _context_text(value) for name, value in (identity.lambda_context or {}).items()
        }
        flattened["principalId"] = identity.principal_id
        flattened["integrationLatency"] = identity.latency_ms
        request_context["authorizer"] = flattened
    if identity.api_key_id is not None:
        request_context["identity"]["apiKey"] = identity.api_key
        request_context["identity"]["apiKeyId"] = identity.api_key_id


def add_identity_v2(request_context: dict[str, Any], identity: RouteIdentity) -> None:
    """Payload 2.0: ``authorizer.jwt`` (claims and scopes) or ``authorizer.lambda`` (the
    context as the authorizer returned it). HTTP APIs have no API keys, so no field names
    one."""
    if identity.jwt_claims is not None:
        scopes = list(identity.jwt_scopes) if identity.jwt_scopes is not None else None
        request_context["authorizer"] = {
            "jwt": {"claims": dict(identity.jwt_claims), "scopes": scopes}
        }
    elif identity.lambda_context is not None or identity.principal_id is not None:
        request_context["authorizer"] = {"lambda": dict(identity.lambda_context or {})}


def _context_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()
