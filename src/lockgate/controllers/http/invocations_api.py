"""The Event invocations API: list them (dead ones above all), show one, re-drive the dead.

Payloads and errors are shown, so the API answers operators only (the ``admin`` scope;
see ``auth.access``).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.error_handlers import parse_body
from lockgate.controllers.http.responses import error_response, json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import RequestTooLargeError
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.use_cases.invocations.queue import AsyncInvocationQueue

__all__ = ["invocation_view", "invocations_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        404: "No such invocation",
        422: "A malformed query or body",
        503: "The store is unavailable, or Event invocations are off",
    }.items()
}


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ids: list[str] | None = Field(
        default=None, description="Dead invocations to queue again; all dead ones when absent"
    )
    function: str | None = Field(default=None, description="Only this function's")


def invocation_view(invocation: AsyncInvocation) -> dict[str, Any]:
    """An invocation as JSON: the payload as JSON when it is, else base64."""
    try:
        payload: Any = orjson.loads(invocation.payload) if invocation.payload else None
        encoding = "json"
    except orjson.JSONDecodeError:
        payload, encoding = base64.b64encode(invocation.payload).decode(), "base64"
    return {
        "request_id": invocation.request_id,
        "function": invocation.function,
        "qualifier": invocation.qualifier,
        "status": invocation.status.value,
        "attempts": invocation.attempts,
        "created_at": invocation.created_at,
        "next_attempt_at": invocation.next_attempt_at,
        "finished_at": invocation.finished_at,
        "error": invocation.error,
        "payload": payload,
        "payload_encoding": encoding,
    }


def invocations_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Event invocations"])

    def queue() -> AsyncInvocationQueue | Response:
        if application.async_invocations is None:
            return error_response(
                503, "AsyncInvocationsOff", "Event invocations are not enabled on this gateway"
            )
        return application.async_invocations

    @router.get("/invocations", responses=_ERRORS)
    async def list_invocations(
        status: Annotated[AsyncInvocationStatus | None, Query()] = None,
        function: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Event invocations, oldest first; ``status=dead`` lists those that failed on
        every attempt, with their last error."""
        if isinstance(found := queue(), Response):
            return found
        listed = await found.list_invocations(status, function, limit)
        return json_response({"invocations": [invocation_view(i) for i in listed]})

    @router.get("/invocations/{request_id}", responses=_ERRORS)
    async def get_invocation(request_id: str) -> Response:
        """One Event invocation by the request id its 202 answered with."""
        if isinstance(found := queue(), Response):
            return found
        return json_response(invocation_view(await found.get(request_id)))

    @router.post(
        "/invocations/redrive",
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": RedriveRequest.model_json_schema()}}
            }
        },
    )
    async def redrive(request: Request) -> Response:
        """Queue dead invocations again, their attempts counted afresh."""
        if isinstance(found := queue(), Response):
            return found
        limit = 1024 * 1024
        raw = await read_body(request.scope, request.receive, limit)
        if raw is None:  # never read as "no body", which would mean every dead one
            raise RequestTooLargeError(
                f"the request body is over the limit of {limit} bytes", limit=limit
            )
        if isinstance(body := parse_body(RedriveRequest, raw), Response):
            return body
        ids = await found.redrive(body.request_ids, body.function)
        return json_response({"redriven": ids})

    @router.post("/invocations/{request_id}/redrive", responses=_ERRORS)
    async def redrive_one(request_id: str) -> Response:
        """Queue one dead invocation again (404 unless it exists; 409 unless it is dead)."""
        if isinstance(found := queue(), Response):
            return found
        invocation = await found.get(request_id)
        if invocation.status is not AsyncInvocationStatus.DEAD:
            return error_response(
                409,
                "NotDead",
                f"invocation {request_id} is {invocation.status.value}, not dead",
            )
        ids = await found.redrive([request_id])
        return json_response({"redriven": ids})

    return router
