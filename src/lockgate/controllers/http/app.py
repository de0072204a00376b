"""The ASGI application: the hot paths raw, Lockgate's other endpoints on FastAPI.

Declared routes and the Invoke API are served as raw ASGI (``FunctionRoutes``,
``InvokeApi``), skipping the framework's routing and middleware on every invocation; the
operations endpoints, the workflow API, the OpenAPI schema and the lifespan live on a
FastAPI app. The paths FastAPI serves are ``lockgate.settings.RESERVED_*`` (declared routes
may not claim them).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.bootstrap import Application
from lockgate.controllers.http.function_routes import FunctionRoutes
from lockgate.controllers.http.invocations_api import invocations_router
from lockgate.controllers.http.jobs_api import jobs_router
from lockgate.controllers.http.lambda_api import INVOKE_PATH, InvokeApi
from lockgate.controllers.http.lambda_functions_api import lambda_functions_router
from lockgate.controllers.http.module_api import module_router
from lockgate.controllers.http.paths import needs_normalizing, normalize_path, raw_path_for
from lockgate.controllers.http.secrets_api import secrets_router
from lockgate.controllers.http.system import system_router
from lockgate.controllers.http.workflow_api import install_error_handlers, workflow_router
from lockgate.controllers.log_setup import request_id_var
from lockgate.models.ids import new_request_id
from lockgate.settings import RESERVED_PATHS, RESERVED_PREFIXES

__all__ = ["RESERVED_PATHS", "RESERVED_PREFIXES", "GatewayApp", "create_app"]


class RequestContextMiddleware:
    """Gives each request its id (in logs too) and adds ``X-Lockgate-Latency``: the
    milliseconds the gateway added."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        token = request_id_var.set(new_request_id())

        async def send_with_latency(message: Message) -> None:
            if message["type"] == "http.response.start":
                added = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-lockgate-latency", f"{added:.3f}".encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_latency)
        finally:
            request_id_var.reset(token)


class GatewayApp:
    """Dispatches each request: Invoke API, declared routes, or the FastAPI app."""

    def __init__(self, api: FastAPI, functions: FunctionRoutes, invoke: InvokeApi) -> None:
        self.api = api
        self._api = RequestContextMiddleware(api)
        self._functions = functions
        self._invoke = invoke

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if needs_normalizing(path):  # rare: most paths hold neither "/." nor "//"
                path = normalize_path(path)
                scope = {**scope, "path": path, "raw_path": raw_path_for(path)}
            if path not in RESERVED_PATHS and not path.startswith(RESERVED_PREFIXES):
                await self._functions(scope, receive, send)
                return
            if scope["method"] == "POST" and (match := INVOKE_PATH.match(path)):
                await self._invoke(scope, receive, send, match.group(1))
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
    api.include_router(workflow_router(application))
    api.include_router(secrets_router(application))
    api.include_router(module_router(application))
    api.include_router(lambda_functions_router(application.registry))
    api.include_router(invocations_router(application))
    api.include_router(jobs_router(application))
    install_error_handlers(api)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
            schema["paths"].update(_INVOKE_OPENAPI)
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    invoke = InvokeApi(
        application.registry,
        application.invoker,
        max_body_bytes=application.settings.max_body_bytes,
        queue=application.async_invocations,
    )
    return GatewayApp(api, FunctionRoutes(application.processor), invoke)


# The Invoke operation is served outside FastAPI (it is a hot path), so it is described here.
_INVOKE_OPENAPI: dict[str, Any] = {
    "/2015-03-31/functions/{FunctionName}/invocations": {
        "post": {
            "tags": ["AWS Lambda"],
            "summary": "Invoke a function, as AWS Lambda's Invoke operation does",
            "parameters": [
                {
                    "name": "FunctionName",
                    "in": "path",
                    "required": True,
                    "description": "A name, name:qualifier, or a full or partial ARN",
                    "schema": {"type": "string"},
                },
                {"name": "Qualifier", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "X-Amz-Invocation-Type",
                    "in": "header",
                    "schema": {"enum": ["RequestResponse", "Event", "DryRun"]},
                },
                {"name": "X-Amz-Log-Type", "in": "header", "schema": {"enum": ["None", "Tail"]}},
                {"name": "X-Amz-Client-Context", "in": "header", "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {"application/json": {"schema": {}}}},
            "responses": {
                "200": {
                    "description": "The function's result, or its error object when "
                    "X-Amz-Function-Error is set"
                },
                "202": {"description": "Event: the invocation is stored and will run"},
                "204": {"description": "DryRun: the call would be allowed"},
                "400": {"description": "InvalidRequestContentException"},
                "404": {"description": "ResourceNotFoundException"},
                "413": {"description": "RequestTooLargeException"},
                "429": {"description": "TooManyRequestsException, with Retry-After"},
                "503": {"description": "ServiceException: the function's breaker is open"},
            },
        }
    }
}
