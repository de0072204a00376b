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
        """200 when the gateway should get traffic; 503 while it starts or drains, while a
        ``min_warm`` function cannot start, or while the run store does not answer.

        The 503 names only the kinds of reason (``starting``, ``function_cannot_start``,
        ``run_store_unreachable``, ``draining``): anyone may ask, so which function fails
        and why are on the authenticated ``/health``."""
        readiness = application.readiness()
        if readiness.ready:
            return JSONResponse({"status": "ready"})
        reasons = [reason.value for reason in readiness.reasons]
        return JSONResponse({"status": "unavailable", "reasons": reasons}, status_code=503)

    @router.get("/health")
    async def health() -> dict[str, Any]:
        """Per function: warm, busy, starting, queued, breaker, last init error; per resource:
        its probe (SELECT 1, PING ...); the run store's last ping; readiness with its
        reasons in full; overall: healthy or degraded."""
        return await application.health_check()

    @router.get("/metrics", response_model=None)
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(
            application.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return router
