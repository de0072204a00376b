"""The event deliveries API: list the durable deliveries (pending, completed, dead) for
operators, show one with its event's data, re-drive the dead.

The list shows no payloads and answers the operations scope (``ops:read``), as it always
has; showing one (its event's data, often personal) and re-driving answer operators only
(the ``admin`` scope, as the Event invocations API; see ``auth.access``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.error_handlers import parse_body
from lockgate.controllers.http.responses import error_response, json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import RequestTooLargeError
from lockgate.models.event import Delivery, DeliveryStatus
from lockgate.use_cases.events.bus import EventBus

__all__ = ["delivery_view", "events_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "A credential is needed and was not presented",
        403: "The credential lacks the scope (ops:read to list; admin to show or re-drive)",
        404: "No such delivery",
        409: "The delivery named is not dead",
        413: "The request body is over the limit",
        422: "A malformed query or body",
        503: "The event store is unavailable, or events are kept in memory only",
    }.items()
}
_BODY_LIMIT = 1024 * 1024


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[str] | None = Field(
        default=None,
        description="Dead deliveries (event_id:subscriber) to make pending again; all dead "
        "ones when absent",
    )
    subscriber: str | None = Field(default=None, description="Only this subscriber's")


def delivery_view(delivery: Delivery, *, data: bool = False) -> dict[str, Any]:
    """A delivery as JSON; its event's data only when ``data``."""
    view = {
        "id": delivery.id,
        "event_id": delivery.event.event_id,
        "event": delivery.event.name,
        "source_module": delivery.event.source_module,
        "subscriber": delivery.subscriber,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "error": delivery.error,
        "created_at": delivery.event.created_at,
    }
    if data:
        view["data"] = delivery.event.data
    return view


def events_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Event deliveries"])

    def durable() -> EventBus | Response:
        bus = application.event_bus
        if not bus.durable:
            return error_response(
                503,
                "DurableEventsOff",
                "events are kept in memory on this gateway (durable_events is off): "
                "its dead letters are listed but cannot be shown by id or re-driven",
            )
        return bus

    @router.get("/events/deliveries", responses=_ERRORS)
    async def deliveries(
        status: Annotated[DeliveryStatus | None, Query()] = None,
        subscriber: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Event deliveries, oldest first (``?status=dead`` for those that ran out of
        attempts, with their last error; ``?subscriber=`` for one subscriber's). Payloads
        are not shown: they may be personal."""
        found = await application.event_bus.deliveries(status, limit, subscriber=subscriber)
        return json_response({"deliveries": [delivery_view(d) for d in found]})

    @router.get("/events/deliveries/{delivery_id}", responses=_ERRORS)
    async def get_delivery(delivery_id: str) -> Response:
        """One event delivery by its id (``event_id:subscriber``), with its event's data."""
        if isinstance(bus := durable(), Response):
            return bus
        return json_response(delivery_view(await bus.get_delivery(delivery_id), data=True))

    @router.post(
        "/events/deliveries/redrive",
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": RedriveRequest.model_json_schema()}}
            }
        },
    )
    async def redrive(request: Request) -> Response:
        """Make dead deliveries pending again, their attempts counted afresh."""
        if isinstance(bus := durable(), Response):
            return bus
        raw = await read_body(request.scope, request.receive, _BODY_LIMIT)
        if raw is None:  # never read as "no body", which would mean every dead one
            raise RequestTooLargeError(
                f"the request body is over the limit of {_BODY_LIMIT} bytes", limit=_BODY_LIMIT
            )
        if isinstance(body := parse_body(RedriveRequest, raw), Response):
            return body
        return json_response({"redriven": await bus.redrive(body.delivery_ids, body.subscriber)})

    @router.post("/events/deliveries/{delivery_id}/redrive", responses=_ERRORS)
    async def redrive_one(delivery_id: str) -> Response:
        """Make one dead delivery pending again (404 unless it exists; 409 unless dead)."""
        if isinstance(bus := durable(), Response):
            return bus
        delivery = await bus.get_delivery(delivery_id)
        if delivery.status is not DeliveryStatus.DEAD:
            return error_response(
                409, "NotDead", f"delivery {delivery_id} is {delivery.status.value}, not dead"
            )
        return json_response({"redriven": await bus.redrive([delivery_id])})

    return router
