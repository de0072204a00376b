"""Handlers of the hello example: plain Lambda handlers, nothing Lockgate-specific."""

from __future__ import annotations

import json
import os
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Greets the ``{name}`` path parameter and echoes what it was called with."""
    name = (event.get("pathParameters") or {}).get("name", "world")
    return {
        "message": f"{os.environ.get('GREETING', 'hello')}, {name}!",
        "path": event.get("rawPath") or event.get("path"),
        "query": event.get("queryStringParameters"),
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


async def greet(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An async handler answering with a full API Gateway v1 response."""
    body = json.loads(event.get("body") or "{}")
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"set-cookie": ["visited=1", "lang=en"]},
        "body": json.dumps({"greeting": f"Hello, {body.get('name', 'stranger')}!"}),
    }
