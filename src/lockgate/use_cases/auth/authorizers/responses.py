"""API Gateway's answers when a route's authorizer or API key refuses a request, byte for
byte as AWS sends them (compact JSON, ``message`` in lower case)."""

from __future__ import annotations

from lockgate.models.context import HttpResponse

__all__ = [
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "UNAUTHORIZED",
    "invalid_token",
    "limit_exceeded",
    "missing_token",
    "too_many_requests",
]

_JSON = ("content-type", "application/json")
UNAUTHORIZED = HttpResponse(401, (_JSON,), b'{"message":"Unauthorized"}')
FORBIDDEN = HttpResponse(403, (_JSON,), b'{"message":"Forbidden"}')
INTERNAL_ERROR = HttpResponse(500, (_JSON,), b'{"message":"Internal Server Error"}')


def missing_token() -> HttpResponse:
    """401 for a JWT route called without a token (RFC 6750: no error code then)."""
    return HttpResponse(401, (_JSON, ("www-authenticate", "Bearer")), UNAUTHORIZED.body)


def invalid_token(description: str) -> HttpResponse:
    """401 for a token that failed a check, in the ``WWW-Authenticate`` form API Gateway
    documents (``description`` never quotes the token)."""
    text = description.replace('"', "")
    challenge = f'Bearer scope="" error="invalid_token" error_description="{text}"'
    return HttpResponse(401, (_JSON, ("www-authenticate", challenge)), UNAUTHORIZED.body)


def _throttled(body: bytes, error_type: str, retry_after: int) -> HttpResponse:
    # API Gateway sends no Retry-After; the issue asks for one, and clients do better with it.
    headers = (_JSON, ("retry-after", str(max(1, retry_after))), ("x-amzn-errortype", error_type))
    return HttpResponse(429, headers, body)


def too_many_requests(retry_after: int) -> HttpResponse:
    """429 for an API key over its plan's rate."""
    return _throttled(b'{"message":"Too Many Requests"}', "TooManyRequestsException", retry_after)


def limit_exceeded(retry_after: int) -> HttpResponse:
    """429 for an API key over its plan's quota."""
    return _throttled(b'{"message":"Limit Exceeded"}', "LimitExceededException", retry_after)
