"""The modules API: every module's health, one module's health, and the durable event
deliveries (pending, completed, dead) for operators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.responses import json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.models.event import Delivery, DeliveryStatus

__all__ = ["module_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such module"},
    422: {"model": ErrorBody, "description": "A malformed query"},
    503: {"model": ErrorBody, "description": "The event store is unavailable"},
}


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
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


def module_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Modules"])
    timeout = application.settings.resource_health_timeout

    @router.get("/modules", responses=_ERRORS)
    async def list_modules() -> Response:
        """Every module's health, in dependency order; ``status`` is ``healthy`` when all
        are, else ``degraded`` (as the seed's ``system_health`` view)."""
        modules = await application.modules.check_modules(timeout)
        healthy = all(m["status"] == "healthy" for m in modules.values())
        return json_response({"status": "healthy" if healthy else "degraded", "modules": modules})

    @router.get("/modules/{name}/health", responses=_ERRORS)
    async def module_health(name: str) -> Response:
        """One module: ``status``, ``services``, ``dependencies`` and ``message``."""
        return json_response(await application.modules.check_module_health(name, timeout))

    @router.get("/events/deliveries", responses=_ERRORS)
    async def deliveries(
        status: Annotated[DeliveryStatus | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Event deliveries, oldest first (``?status=dead`` for those that ran out of
        attempts, with their last error). Payloads are not shown: they may be personal."""
        found = await application.event_bus.deliveries(status, limit)
        return json_response({"deliveries": [_delivery(d) for d in found]})

    return router
