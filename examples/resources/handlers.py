"""The example's stand-in order API: a Lambda handler behind ``GET /orders``."""

from __future__ import annotations

import json
from typing import Any


def orders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Up to ``?limit=`` orders (100 by default), as a JSON list."""
    query = event.get("queryStringParameters") or {}
    limit = min(int(query.get("limit", "100")), 100)
    body = [{"id": i, "user_id": i % 3 + 1, "total": 10 * i} for i in range(1, limit + 1)]
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
