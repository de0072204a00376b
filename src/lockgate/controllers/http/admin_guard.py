"""Who may call the gateway's operator APIs (secrets, Event invocations, jobs).

With ``admin_token`` set: callers presenting it as a bearer token. Without one: only a
gateway listening on loopback answers, only to loopback clients, and only for a loopback
``Host`` (a browser page that rebinds its DNS name to 127.0.0.1 sends its own name). Behind
a reverse proxy on the same host every client looks like loopback: set ``admin_token`` there.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from fastapi import Request
from starlette.responses import Response

from lockgate.controllers.http.responses import error_response
from lockgate.settings import Settings

__all__ = ["admin_guard"]

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback(request: Request, listening: str) -> bool:
    """The gateway listens on loopback, the client is local and the page it came from
    names a loopback host."""
    client = request.client.host if request.client is not None else ""
    host_header = request.headers.get("host", "")
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return _is_loopback(listening) and _is_loopback(client) and _is_loopback(host)


def admin_guard(settings: Settings, api: str) -> Callable[[Request], Response | None]:
    """A check for the ``api`` (named in its refusals): None when ``request`` may go on,
    else the 401 or 403 to answer with."""
    token = settings.admin_token.encode() if settings.admin_token else None

    def refused(request: Request) -> Response | None:
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, presented = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token):
                return error_response(
                    401,
                    "Unauthorized",
                    f"the {api} needs Authorization: Bearer <admin_token>",
                    {"WWW-Authenticate": "Bearer"},
                )
            return None
        if not _loopback(request, settings.host):
            return error_response(
                403,
                "Forbidden",
                f"without admin_token the {api} answers only a gateway listening on "
                "loopback, to loopback clients; set admin_token (LOCKGATE_ADMIN_TOKEN) to "
                "serve it otherwise",
            )
        return None

    return refused
