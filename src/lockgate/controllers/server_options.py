"""The uvicorn settings ``lockgate serve`` runs with, in one place: the benchmarks' reference
apps import them too, so "the same server settings" holds by construction.

``server_config`` builds the ``uvicorn.Config``: with ``limits`` it serves on Lockgate's
hardened listener (``controllers/http/listener/protocol.py``), without them on uvicorn's
stock httptools protocol, the reference the listener's cost is measured against; everything
else is the same.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from lockgate.controllers.http.listener.limits import ListenerLimits
from lockgate.controllers.http.listener.protocol import ListenerConfig

__all__ = ["SERVER_OPTIONS", "server_config"]

SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    # Lockgate serves no WebSockets; an upgraded connection would leave the listener's limits.
    "ws": "none",
    "log_config": None,
    "access_log": False,
}


def server_config(app: Any, *, limits: ListenerLimits | None, **options: Any) -> uvicorn.Config:
    """The ``uvicorn.Config`` for ``app``: ``SERVER_OPTIONS`` plus ``options``.

    Args:
        app: The ASGI application.
        limits: The hardened listener's limits; None serves on uvicorn's stock httptools
            protocol (no limits: for benchmarks only).
        options: Other ``uvicorn.Config`` options (host, port, lifespan ...).

    Returns:
        A config for ``uvicorn.Server``.
    """
    if limits is None:
        return uvicorn.Config(app, http="httptools", **SERVER_OPTIONS, **options)
    return ListenerConfig(app, limits=limits, **SERVER_OPTIONS, **options)
