"""CORS as an HTTP API applies it: preflights answered by the gateway, the configured
``Access-Control-*`` headers on answers to allowed origins, and a function's own CORS
headers ignored wherever CORS is configured (API Gateway does the same).

Only what a browser needs is computed here (no framework, no I/O): the controller asks
whether a request is a preflight or cross-origin, and adds what these functions return.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from lockgate.models.security.config import CorsConfig

__all__ = [
    "cors_headers",
    "is_preflight",
    "preflight_headers",
    "same_origin",
    "without_cors_headers",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """An ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``, as browsers
    send before a non-simple cross-origin request."""
    return (
        method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
    )


def same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """Whether a page at ``origin`` is the gateway itself (``scheme://Host``), default ports
    included or not."""
    if host is None:
        return False
    try:
        page = urlsplit(origin)
        served = urlsplit(f"{scheme}://{host}")
        page_port = page.port or _DEFAULT_PORTS.get(page.scheme)
        served_port = served.port or _DEFAULT_PORTS.get(served.scheme)
    except ValueError:
        return False
    return (page.scheme, page.hostname, page_port) == (served.scheme, served.hostname, served_port)


def _allow_origin(cors: CorsConfig, origin: str) -> tuple[tuple[str, str], ...]:
    echoed = "*" if "*" in cors.allow_origins and not cors.allow_credentials else origin
    headers: tuple[tuple[str, str], ...] = (("access-control-allow-origin", echoed),)
    if echoed != "*":
        headers += (("vary", "Origin"),)
    if cors.allow_credentials:
        headers += (("access-control-allow-credentials", "true"),)
    return headers


def cors_headers(cors: CorsConfig, origin: str) -> tuple[tuple[str, str], ...]:
    """The headers an answer to a request from ``origin`` carries; none when ``cors`` does
    not allow that origin (the browser then keeps the answer from the page)."""
    if not cors.allows_origin(origin):
        return ()
    headers = _allow_origin(cors, origin)
    if cors.expose_headers:
        headers += (("access-control-expose-headers", ", ".join(cors.expose_headers)),)
    return headers


def preflight_headers(
    cors: CorsConfig, origin: str, method: str, requested_headers: str | None
) -> tuple[tuple[str, str], ...]:
    """The headers of a 204 answering a preflight; none when the origin, the method or a
    requested header is not allowed (the browser then does not send the request)."""
    if not cors.allows_origin(origin):
        return ()
    method = method.upper()
    if "*" not in cors.allow_methods and method not in cors.allow_methods:
        return ()
    asked = [h.strip().lower() for h in (requested_headers or "").split(",") if h.strip()]
    if "*" not in cors.allow_headers and any(h not in cors.allow_headers for h in asked):
        return ()
    headers = _allow_origin(cors, origin)
    headers += (("access-control-allow-methods", ", ".join(cors.allow_methods)),)
    if cors.allow_headers:
        allowed = ", ".join(asked) if "*" in cors.allow_headers and asked else None
        headers += (("access-control-allow-headers", allowed or ", ".join(cors.allow_headers)),)
    if cors.max_age is not None:
        headers += (("access-control-max-age", str(cors.max_age)),)
    return headers


def without_cors_headers(
    headers: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str], ...]:
    """``headers`` without the ``Access-Control-*`` ones a function set."""
    return tuple(h for h in headers if not h[0].lower().startswith("access-control-"))
