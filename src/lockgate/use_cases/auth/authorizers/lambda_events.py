"""The events a Lambda authorizer of the REQUEST type receives, as HTTP APIs send them:
payload format 2.0 (``routeArn``, ``identitySource`` as an array) or 1.0 (``methodArn``,
``identitySource`` and ``authorizationToken`` comma-joined, the REST API's request shape).

They are the route's own proxy event without the body, plus the authorizer's fields, so
the ids, times and headers agree with what the function later receives.
"""

from __future__ import annotations

from typing import Any, Literal

from lockgate.models.context import InputContext
from lockgate.models.routing import RouteMatch
from lockgate.use_cases.apigw.events import EventBuilder

__all__ = ["REGION", "authorizer_event", "execute_api_arn"]

REGION = "us-east-1"
"""The region in ARNs the gateway makes up (its functions' ARNs use the same)."""


def execute_api_arn(events: EventBuilder, context: InputContext) -> str:
    """``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}``: what a
    request is, for IAM policies (the path without its leading ``/``)."""
    return (
        f"arn:aws:execute-api:{REGION}:{events.account_id}:{events.api_id}/"
        f"{events.stage}/{context.method}/{context.path[1:]}"
    )


def authorizer_event(
    events: EventBuilder,
    context: InputContext,
    match: RouteMatch,
    identity: tuple[str, ...] | None,
    payload_format: Literal["1.0", "2.0"],
) -> dict[str, Any]:
    """The event for the authorizer.

    Args:
        events: Builds the route's proxy events (its api id, stage and account).
        context: The request.
        match: The route it matched.
        identity: The identity sources' values; None when the authorizer names none.
        payload_format: The authorizer's.
    """
    arn = execute_api_arn(events, context)
    if payload_format == "2.0":
        event = events.build_v2(context, match)
        head: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": list(identity) if identity is not None else None,
        }
    else:
        event = events.build_v1(context, match)
        joined = ",".join(identity) if identity is not None else None
        head = {
            "version": "1.0",
            "type": "REQUEST",
            "methodArn": arn,
            "identitySource": joined,
            "authorizationToken": joined,
        }
    event.pop("body", None)  # an authorizer never sees the body
    event.pop("isBase64Encoded", None)
    return {**head, **event}
