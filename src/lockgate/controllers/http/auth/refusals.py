"""The answers the gateway gives before any endpoint runs: a ``Host`` it does not go by, a
client over ``[limits]``, a method the Invoke operation does not take, an endpoint another
listener serves. Each in the shape of the surface asked (API Gateway's for routes, AWS's
for the Lambda API, the gateway's error body elsewhere)."""

from __future__ import annotations

from lockgate.controllers.http.auth.access import Endpoint
from lockgate.controllers.http.aws_errors import aws_error_response
from lockgate.models.context import HttpResponse
from lockgate.use_cases.routes.request_processor import json_response

__all__ = ["bad_host", "invoke_method_not_allowed", "not_here", "route_throttled", "throttled"]


def bad_host(host: str) -> HttpResponse:
    return json_response(
        400,
        {
            "error": {
                "code": "InvalidHost",
                "message": f"this gateway does not answer to Host {host[:200]!r}: add the "
                "name to allowed_hosts",
            }
        },
    )


def route_throttled(wait: int) -> HttpResponse:
    """API Gateway's throttling answer (with Retry-After, which API Gateway omits)."""
    return json_response(429, {"message": "Too Many Requests"}, (("retry-after", str(wait)),))


def throttled(endpoint: Endpoint, wait: int, request_id: str) -> HttpResponse:
    """A caller over ``[limits]``: AWS's throttling error on the Lambda API, the gateway's
    error elsewhere; both with Retry-After."""
    retry = (("retry-after", str(wait)),)
    message = "Rate exceeded: this client is over [limits] rate and burst"
    if endpoint.aws:
        extra: dict[str, object] = {"Reason": "CallerRateLimitExceeded"}
        return aws_error_response(
            429, "TooManyRequestsException", message, request_id, extra=extra, headers=retry
        )
    body = {"error": {"code": "TooManyRequests", "message": message}}
    return json_response(429, body, retry)


def invoke_method_not_allowed(method: str, request_id: str) -> HttpResponse:
    """The Invoke operation is a POST; anything else is a 405 in AWS's shape."""
    return aws_error_response(
        405,
        "MethodNotAllowedException",
        f"{method} is not allowed on the Invoke operation; use POST",
        request_id,
        headers=(("allow", "POST"),),
    )


def not_here(path: str) -> HttpResponse:
    """An endpoint this listener does not serve (the other one does): as if it did not
    exist, so a public listener says nothing of the operations API."""
    return json_response(
        404, {"error": {"code": "RouteNotFound", "message": f"no endpoint {path[:200]}"}}
    )
