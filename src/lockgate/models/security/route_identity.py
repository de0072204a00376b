"""What a route's authorizer and API key established about a request: the fields the
function then finds in its event's ``requestContext``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["RouteIdentity"]


class RouteIdentity(NamedTuple):
    """(A NamedTuple: built on every authorized request.)

    Attributes:
        jwt_claims: A JWT authorizer's claims, every value a string, as API Gateway
            passes them (``requestContext.authorizer.jwt.claims`` in 2.0, ``.claims``
            in 1.0).
        jwt_scopes: The token's scopes when the route asks for scopes, else None.
        lambda_context: A Lambda authorizer's ``context`` (``authorizer.lambda`` in 2.0;
            flattened into ``authorizer`` in 1.0).
        principal_id: A Lambda authorizer's ``principalId`` (1.0 events).
        latency_ms: How long the Lambda authorizer took (``integrationLatency``, 1.0).
        api_key: The API key the caller sent (``identity.apiKey``, 1.0).
        api_key_id: Its id (``identity.apiKeyId``, 1.0).
    """

    jwt_claims: Mapping[str, str] | None = None
    jwt_scopes: tuple[str, ...] | None = None
    lambda_context: Mapping[str, Any] | None = None
    principal_id: str | None = None
    latency_ms: int = 0
    api_key: str | None = None
    api_key_id: str | None = None
