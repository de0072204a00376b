"""JSON responses and the one error shape every gateway API answers with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["error_response", "json_response"]


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    # ``default=str``: a parameter's declared default is operator code and may not be JSON.
    return Response(orjson.dumps(data, default=str), status, headers, media_type="application/json")


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """``{"error": {"code": ..., "message": ...}}`` with ``status``."""
    return json_response({"error": {"code": code, "message": message}}, status, headers)
