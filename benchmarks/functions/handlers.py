"""The benchmark's one handler: as small as a handler gets, so the gateway is what is measured."""

from __future__ import annotations

from typing import Any


def echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """``{"name": ...}`` for an HTTP route call (as the bare app answers); the event otherwise."""
    parameters = event.get("pathParameters")
    if parameters:
        return {"name": parameters["name"]}
    return event


def echo_printing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``echo`` that prints one line per call, as a handler that logs does."""
    print(f"echo {context.aws_request_id}")
    return echo(event, context)
