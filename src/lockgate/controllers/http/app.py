"""The ASGI application: operations endpoints, the Invoke API, then every declared route."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.bootstrap import Application
from lockgate.controllers.http.lambda_api import lambda_router
from lockgate.controllers.http.requests import (
    HANDLER_MS_KEY,
    REQUEST_ID_KEY,
    read_body,
    to_input_context,
    to_starlette,
)
from lockgate.controllers.http.system import system_router
from lockgate.controllers.log_setup import request_id_var
from lockgate.errors import LockgateError, RequestTooLargeError, http_status
from lockgate.models.routing import HTTP_METHODS

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


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


def create_app(application: Application) -> FastAPI:
    """The gateway's ASGI app; its lifespan starts and stops ``application``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await application.start()
        try:
            yield
        finally:
            await application.stop()

    app = FastAPI(
        title="Lockgate",
        lifespan=lifespan,
        docs_url="/_lockgate/docs",
        redoc_url=None,
        openapi_url="/_lockgate/openapi.json",
    )
    app.include_router(system_router(application))
    app.include_router(lambda_router(application))

    async def function_route(request: Request) -> Response:
        try:
            body = await read_body(request, application.processor.max_body_bytes)
        except RequestTooLargeError:
            return JSONResponse({"message": "Request Entity Too Large"}, status_code=413)
        response = await application.processor.process(to_input_context(request, body))
        request.scope[HANDLER_MS_KEY][0] = response.handler_ms
        try:
            return to_starlette(response)
        except UnicodeEncodeError:
            logger.warning("a function returned a header that is not Latin-1; answering 502")
            return JSONResponse({"message": "Internal server error"}, status_code=502)

    # Declared routes are matched by Lockgate's own route table (API Gateway's precedence),
    # so Starlette only needs one catch-all after the gateway's own endpoints.
    methods = sorted(HTTP_METHODS - {"ANY"})
    app.router.routes.append(Route("/{path:path}", function_route, methods=methods))

    @app.exception_handler(LockgateError)
    async def lockgate_error(_: Request, error: LockgateError) -> JSONResponse:
        return JSONResponse({"message": error.message}, status_code=http_status(error))

    app.add_middleware(RequestContextMiddleware)
    return app
