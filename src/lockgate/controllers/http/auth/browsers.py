"""What a browser may do with the endpoints the gateway serves itself (the workflow API, the
Lambda API, operations): a page on another origin reaches them only when ``[cors]`` allows
that origin; anything else is a 403 before authentication, whatever its content type (a
``text/plain`` POST needs no preflight, so CORS headers alone would not stop it). Declared
routes follow API Gateway instead (``use_cases/cors.py``): allowed or not, the request goes
to the function, and only allowed origins get CORS headers.
"""

from __future__ import annotations

from starlette.types import Scope

from lockgate.controllers.http.asgi import header
from lockgate.models.context import HttpResponse
from lockgate.models.security.config import CorsConfig
from lockgate.use_cases.routes.cors import cors_headers, preflight_headers, same_origin
from lockgate.use_cases.routes.request_processor import json_response

__all__ = ["BrowserVerdict", "check_browser"]

BrowserVerdict = HttpResponse | tuple[tuple[bytes, bytes], ...]
"""An answer to send now (a refusal, a preflight's), or headers to add to the answer."""

_NONE: tuple[tuple[bytes, bytes], ...] = ()


def _refused(origin: str) -> HttpResponse:
    return json_response(
        403,
        {
            "error": {
                "code": "CrossOriginRefused",
                "message": f"requests from pages at {origin[:200]!r} are not allowed: add the "
                "origin to [cors] allow_origins to let a web app call this gateway",
            }
        },
    )


def check_browser(scope: Scope, cors: CorsConfig | None) -> BrowserVerdict:
    """The verdict on a request to a reserved endpoint (see the module docstring)."""
    origin = header(scope, b"origin")
    if origin is None:
        # Browsers send Origin with every cross-origin request but simple GETs; those are
        # refused too when the browser says they are cross-site.
        if header(scope, b"sec-fetch-site") == "cross-site":
            return _refused("(a cross-site page)")
        return _NONE
    if same_origin(origin, header(scope, b"host"), scope.get("scheme", "http")):
        return _NONE
    if cors is None or not cors.allows_origin(origin):
        return _refused(origin)
    method = header(scope, b"access-control-request-method")
    if scope["method"] == "OPTIONS" and method is not None:
        asked = header(scope, b"access-control-request-headers")
        return HttpResponse(204, preflight_headers(cors, origin, method, asked), b"")
    return tuple((name.encode(), value.encode()) for name, value in cors_headers(cors, origin))
