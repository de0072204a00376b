"""The framework-free view of an HTTP request that the gateway routes to a function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["HttpResponse", "InputContext"]


class InputContext(NamedTuple):
    """An incoming HTTP request, stripped of any web framework.

    A NamedTuple: immutable like the other models, and three times cheaper to build than a
    frozen dataclass, which counts on every request.

    Attributes:
        path: The decoded request path, without the query string.
        method: Upper-case HTTP method.
        headers: Lower-case names; repeated headers joined with ``,`` (API Gateway v2 style).
        query_params: Repeated parameters joined with ``,`` (API Gateway v2 style).
        body: The raw request body.
        user_id: The authenticated principal, if any authentication ran.
        request_id: Unique per request; becomes ``requestContext.requestId``.
        raw_headers: Every header in arrival order, names lower-case, repeats kept.
        raw_query_string: The query string exactly as received.
        source_ip: The client's address.
        protocol: ``HTTP/1.1`` and the like.
        received_at: Epoch seconds when the gateway received the request; None means now.
    """

    path: str
    method: str
    headers: Mapping[str, str]
    query_params: Mapping[str, str]
    body: bytes
    user_id: str | None
    request_id: str
    raw_headers: tuple[tuple[str, str], ...] = ()
    raw_query_string: str = ""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    received_at: float | None = None


class HttpResponse(NamedTuple):
    """(A NamedTuple: immutable, and cheap to build on every request.)

    A response to send back; ``headers`` keep repeats (``Set-Cookie``) as separate pairs.

    ``handler_ms`` is the time the handler itself took, so the gateway can report what it
    added on top.
    """

    status_code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    handler_ms: float = 0.0
