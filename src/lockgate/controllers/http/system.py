"""Operations endpoints: liveness, readiness, health and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from lockgate.bootstrap import Application

__all__ = ["system_router"]


def system_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive and serving."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse:
        """The pools are started and every function has its ``min_warm`` workers."""
        if application.ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @router.get("/health")
    async def health() -> dict[str, Any]:
        """Per function: warm, busy, starting, queued, breaker, last init error; per resource:
        its probe (SELECT 1, PING ...); overall: healthy or degraded."""
        return await application.health_check()

    @router.get("/metrics", response_model=None)
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(
            application.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return router
