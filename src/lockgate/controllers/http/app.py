"""The ASGI application: Lockgate's own endpoints on FastAPI, every declared route raw.

Requests for the reserved paths (the Invoke API, operations, the OpenAPI schema) go to a
FastAPI app; everything else goes straight to ``FunctionRoutes``, skipping the framework's
middleware stack on the hot path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.bootstrap import Application
from lockgate.controllers.http.function_routes import FunctionRoutes
from lockgate.controllers.http.lambda_api import lambda_router
from lockgate.controllers.http.requests import HANDLER_MS_KEY, REQUEST_ID_KEY
from lockgate.controllers.http.system import system_router
from lockgate.controllers.log_setup import request_id_var
from lockgate.errors import LockgateError, http_status

__all__ = ["RESERVED_PATHS", "RESERVED_PREFIXES", "GatewayApp", "create_app"]

RESERVED_PREFIXES = ("/2015-03-31/", "/_lockgate/")
RESERVED_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})


class RequestContextMiddleware:
    """Gives each request its id (in logs too) and adds ``X-Lockgate-Latency``: the
    milliseconds the gateway added, handler time excluded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        handler_ms = scope[HANDLER_MS_KEY] = [0.0]
        request_id = scope[REQUEST_ID_KEY] = str(uuid.uuid4())
        token = request_id_var.set(request_id)

        async def send_with_latency(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = (time.perf_counter() - started) * 1000 - handler_ms[0]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-lockgate-latency", f"{max(added, 0.0):.3f}".encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_latency)
        finally:
            request_id_var.reset(token)


class GatewayApp:
    """Dispatches to the FastAPI app (reserved paths, lifespan) or to the declared routes."""

    def __init__(self, api: FastAPI, functions: FunctionRoutes) -> None:
        self.api = api
        self._api = RequestContextMiddleware(api)
        self._functions = functions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path not in RESERVED_PATHS and not path.startswith(RESERVED_PREFIXES):
                await self._functions(scope, receive, send)
                return
        await self._api(scope, receive, send)


def create_app(application: Application) -> GatewayApp:
    """The gateway's ASGI app; its lifespan starts and stops ``application``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await application.start()
        try:
            yield
        finally:
            await application.stop()

    api = FastAPI(
        title="Lockgate",
        lifespan=lifespan,
        docs_url="/_lockgate/docs",
        redoc_url=None,
        openapi_url="/_lockgate/openapi.json",
    )
    api.include_router(system_router(application))
    api.include_router(lambda_router(application))

    @api.exception_handler(LockgateError)
    async def lockgate_error(_: Request, error: LockgateError) -> JSONResponse:
        return JSONResponse({"message": error.message}, status_code=http_status(error))

    return GatewayApp(api, FunctionRoutes(application.processor))
