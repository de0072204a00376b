"""The modules API: every module's health and one module's health (their events'
deliveries are ``events_api``'s)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.responses import json_response
from lockgate.controllers.http.workflow_api import ErrorBody

__all__ = ["module_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such module"},
    422: {"model": ErrorBody, "description": "A malformed query"},
    503: {"model": ErrorBody, "description": "A store or a module's service is unavailable"},
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

    return router
