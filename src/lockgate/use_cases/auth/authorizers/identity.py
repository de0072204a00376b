"""Reading a request's identity sources, and rendering JWT claims as API Gateway passes them
to functions (every value a string)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lockgate.models.context import InputContext
from lockgate.models.routing import Route
from lockgate.models.security.authorizers import IdentitySource

__all__ = ["bearer_token", "event_claims", "identity_values"]


def _value(source: IdentitySource, context: InputContext, route: Route, stage: str) -> str | None:
    if source.kind == "header":
        return context.headers.get(source.name)
    if source.kind == "querystring":
        return context.query_params.get(source.name)
    return {
        "routeKey": route.route_key,
        "httpMethod": context.method,
        "path": context.path,
        "stage": stage,
        "requestId": context.request_id,
    }.get(source.name)


def identity_values(
    sources: Iterable[IdentitySource], context: InputContext, route: Route, stage: str
) -> tuple[str, ...] | None:
    """Each source's value, in order; None when any is missing or empty (API Gateway then
    answers 401 without calling the authorizer)."""
    values: list[str] = []
    for source in sources:
        value = _value(source, context, route, stage)
        if not value:
            return None
        values.append(value)
    return tuple(values)


def bearer_token(value: str) -> str:
    """The token in an identity value: with or without a ``Bearer`` prefix, as API Gateway
    takes it (the scheme's case is not significant: RFC 9110)."""
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value.strip()


def _text(value: Any) -> str:
    """A claim value as Go's ``fmt`` prints it, which is what API Gateway hands on: arrays
    ``[a b c]``, objects ``map[k:v]`` (keys sorted), booleans ``true``/``false``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(value[k])}" for k in sorted(value)) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def event_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """``requestContext.authorizer.jwt.claims``: every claim as a string, null ones left
    out."""
    return {name: _text(value) for name, value in claims.items() if value is not None}
