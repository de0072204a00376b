"""Function logs: the latest lines each function wrote (``lockgate logs``), and a stream of
new ones (``?follow=true``), as ``sam logs`` and ``aws logs tail`` show them.

Output is the function's data, often personal, so this answers operators only (the
``admin`` scope, as showing one event delivery does; see ``auth.access``). Lines are kept in
memory on this gateway, the latest ``function_log_lines`` per function.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response, StreamingResponse

from lockgate.application import Application
from lockgate.controllers.http.responses import json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import FunctionNotFoundError, InvalidRequestError
from lockgate.use_cases.functions.log_buffer import LogQuery

__all__ = ["function_logs_router", "parse_since"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "A malformed since",
        401: "A credential is needed and was not presented",
        403: "The credential lacks the admin scope",
        404: "No such function",
        422: "A malformed query",
    }.items()
}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """``10m``/``2h``/``30s``/``1d``/``1w`` ago, an ISO 8601 time (with its offset; UTC
    without one), or seconds since the epoch, as seconds since the epoch.

    Raises:
        ValueError: None of those.
    """
    value = text.strip()
    if match := _AGO.match(value):
        return now - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        epoch = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(epoch):  # "nan" and "inf" parse as floats and match nothing
            return epoch
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"since {text!r} is not a duration (10m, 2h, 30s, 1d), an ISO 8601 time or "
            "seconds since the epoch"
        ) from None
    if moment.tzinfo is None:  # the gateway's own zone is not the caller's: UTC, as documented
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def function_logs_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Functions"])
    buffer = application.function_logs

    def answer(
        function: str | None, since: str | None, request_id: str | None, limit: int, follow: bool
    ) -> Response:
        if function is not None and function not in application.registry:
            raise FunctionNotFoundError(f"Function not found: {function}", function=function)
        try:
            since_at = parse_since(since, time.time()) if since is not None else None
        except ValueError as exc:
            raise InvalidRequestError(str(exc), key="since") from None
        query = LogQuery(function, since_at, request_id, limit)
        if not follow:
            return json_response({"lines": [line.to_dict() for line in buffer.read(query)]})
        # Registered before the backlog is read: no line falls between the two.
        follower = buffer.follow(LogQuery(function, None, request_id))
        backlog = buffer.read(query)

        async def lines() -> AsyncIterator[bytes]:
            try:
                for line in backlog:
                    yield orjson.dumps(line.to_dict()) + b"\n"
                async for item in follower:
                    if isinstance(item, int):
                        yield orjson.dumps({"lost": item}) + b"\n"
                    else:
                        yield orjson.dumps(item.to_dict()) + b"\n"
            finally:
                follower.close()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.get("/functions/logs", responses=_ERRORS)
    async def all_logs(
        since: Annotated[str | None, Query(description="10m, 2h, an ISO time ...")] = None,
        request_id: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
        follow: Annotated[bool, Query(description="Then stream new lines (NDJSON)")] = False,
    ) -> Response:
        """Every function's latest output lines, oldest first (``?follow=true``: then new
        ones as they come, one JSON object per line)."""
        return answer(None, since, request_id, limit, follow)

    @router.get("/functions/{name}/logs", responses=_ERRORS)
    async def function_logs(
        name: str,
        since: Annotated[str | None, Query(description="10m, 2h, an ISO time ...")] = None,
        request_id: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
        follow: Annotated[bool, Query(description="Then stream new lines (NDJSON)")] = False,
    ) -> Response:
        """One function's latest output lines: what it printed to stdout and stderr, and
        Lambda's START/END/REPORT lines, each with its request id."""
        return answer(name, since, request_id, limit, follow)

    return router
