"""The benchmark's one handler: as small as a handler gets, so the gateway is what is measured."""

from __future__ import annotations

from typing import Any


def echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """``{"name": ...}`` for an HTTP route call (as the bare app answers); the event otherwise."""
    parameters = event.get("pathParameters")
    if parameters:
        return {"name": parameters["name"]}
    return event
