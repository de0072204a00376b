"""The ASGI application: the hot paths raw, Lockgate's other endpoints on FastAPI.

Declared routes and the Invoke API are served as raw ASGI (``FunctionRoutes``,
``InvokeApi``), skipping the framework's routing and middleware on every invocation; the
operations endpoints, the workflow API, the OpenAPI schema and the lifespan live on a
FastAPI app. The paths FastAPI serves are ``lockgate.settings.RESERVED_*`` (declared routes
may not claim them).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.bootstrap import Application
from lockgate.controllers.http.access import PROBES, AccessGate, Endpoint, classify, denial
from lockgate.controllers.http.api_keys_api import api_keys_router
from lockgate.controllers.http.asgi import header, serve_request
from lockgate.controllers.http.aws_errors import aws_error_response
from lockgate.controllers.http.browsers import check_browser
from lockgate.controllers.http.function_routes import FunctionRoutes
from lockgate.controllers.http.hosts import AllowedHosts
from lockgate.controllers.http.invocations_api import invocations_router
from lockgate.controllers.http.jobs_api import jobs_router
from lockgate.controllers.http.lambda_api import INVOKE_PATH, InvokeApi
from lockgate.controllers.http.lambda_functions_api import lambda_functions_router
from lockgate.controllers.http.module_api import module_router
from lockgate.controllers.http.paths import needs_normalizing, normalize_path, raw_path_for
from lockgate.controllers.http.secrets_api import secrets_router
from lockgate.controllers.http.system import system_router
from lockgate.controllers.http.tokens_api import tokens_router
from lockgate.controllers.http.workflow_api import install_error_handlers, workflow_router
from lockgate.controllers.log_setup import request_id_var
from lockgate.errors import LockgateError
from lockgate.models.context import HttpResponse
from lockgate.models.ids import new_request_id
from lockgate.models.security import CorsConfig
from lockgate.settings import RESERVED_PATHS, RESERVED_PREFIXES
from lockgate.use_cases.auth.exposure import anonymous_surfaces, is_loopback_host
from lockgate.use_cases.auth.rate_limits import ClientRateLimiter
from lockgate.use_cases.request_processor import json_response

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
    """Dispatches each request: its path resolved (dot segments, repeated slashes), a
    ``Host`` it does not answer to is a 400 (but for the probes); then declared routes, or
    (once browsers' and ``AccessGate``'s checks let it through) the Invoke API or the
    FastAPI app.

    Args:
        api: The FastAPI app (operations, the workflow API, the lifespan).
        functions: Declared routes.
        invoke: The Invoke API.
        gate: Admits requests to the reserved endpoints.
        hosts: ``allowed_hosts``.
        cors: Returns ``[cors]`` now (a reload may change it).
        limiter: ``[limits]`` per client, for every surface but the probes.
        failures: ``[limits]`` per address for refused credentials.
    """

    def __init__(
        self,
        api: FastAPI,
        functions: FunctionRoutes,
        invoke: InvokeApi,
        gate: AccessGate,
        *,
        hosts: AllowedHosts,
        cors: Callable[[], CorsConfig | None],
        limiter: ClientRateLimiter,
        failures: ClientRateLimiter,
    ) -> None:
        self.api = api
        self._api = RequestContextMiddleware(api)
        self._functions = functions
        self._invoke = invoke
        self._gate = gate
        self._hosts = hosts
        self._cors = cors
        self._limiter = limiter
        self._failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if needs_normalizing(path):  # rare: most paths hold neither "/." nor "//"
                path = normalize_path(path)
                scope = {**scope, "path": path, "raw_path": raw_path_for(path)}
            host = header(scope, b"host")
            # Probes are exempt: load balancers and orchestrators call them by address.
            if host is not None and not self._hosts.allows(host) and path not in PROBES:
                await _answer(send, lambda _: _bad_host(host))
                return
            if path not in RESERVED_PATHS and not path.startswith(RESERVED_PREFIXES):
                if wait := self._limiter.take(_address(scope)):
                    await _answer(send, lambda _: _route_throttled(wait))
                    return
                await self._functions(scope, receive, send)
                return
            await self._reserved(scope, receive, send, path)
            return
        await self._api(scope, receive, send)

    async def _reserved(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """An endpoint the gateway serves itself: browsers' checks, then the gate and the
        caller's rate (by principal, or by address for anonymous callers and failed
        credentials), then the Invoke API or the FastAPI app."""
        verdict = check_browser(scope, self._cors())
        if isinstance(verdict, HttpResponse):
            answer = verdict
            await _answer(send, lambda _: answer)
            return
        endpoint = classify(path)
        if endpoint.scope is not None:
            address = _address(scope)
            # An address whose failed credentials used up their own bucket is turned away
            # before another is looked up (a flood of made-up tokens costs no store reads).
            if wait := self._failures.waiting(address):
                await _answer(send, lambda rid: _throttled(endpoint, wait, rid))
                return
            try:
                principal, receive = await self._gate.admit(scope, endpoint, receive)
            except LockgateError as error:
                self._failures.take(address)
                refused = error
                await _answer(send, lambda rid: denial(refused, endpoint, rid))
                return
            key = address if principal.anonymous else f"p:{principal.name}"
            if wait := self._limiter.take(key):
                await _answer(send, lambda rid: _throttled(endpoint, wait, rid))
                return
        if verdict:
            send = _adding(send, verdict)
        if match := INVOKE_PATH.match(path):
            if scope["method"] == "POST":
                await self._invoke(scope, receive, send, match.group(1))
            else:
                method = scope["method"]
                await _answer(send, lambda rid: _invoke_method_not_allowed(method, rid))
            return
        await self._api(scope, receive, send)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"a:{client[0]}" if client else "a:unknown"


def _route_throttled(wait: int) -> HttpResponse:
    """API Gateway's throttling answer (with Retry-After, which API Gateway omits)."""
    return json_response(429, {"message": "Too Many Requests"}, (("retry-after", str(wait)),))


def _throttled(endpoint: Endpoint, wait: int, request_id: str) -> HttpResponse:
    """A caller over ``[limits]``: AWS's throttling error on the Lambda API, the gateway's
    error elsewhere; both with Retry-After."""
    retry = (("retry-after", str(wait)),)
    message = "Rate exceeded: this client is over [limits] rate and burst"
    if endpoint.aws:
        extra: dict[str, object] = {"Reason": "CallerRateLimitExceeded"}
        return aws_error_response(
            429, "TooManyRequestsException", message, request_id, extra=extra, headers=retry
        )
    body = {"error": {"code": "TooManyRequests", "message": message}}
    return json_response(429, body, retry)


def _invoke_method_not_allowed(method: str, request_id: str) -> HttpResponse:
    """The Invoke operation is a POST; anything else is a 405 in AWS's shape."""
    return aws_error_response(
        405,
        "MethodNotAllowedException",
        f"{method} is not allowed on the Invoke operation; use POST",
        request_id,
        headers=(("allow", "POST"),),
    )


def _bad_host(host: str) -> HttpResponse:
    return json_response(
        400,
        {
            "error": {
                "code": "InvalidHost",
                "message": f"this gateway does not answer to Host {host[:200]!r}: add the "
                "name to allowed_hosts",
            }
        },
    )


def _adding(send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
    """``send`` with ``headers`` added to the response's."""

    async def send_with(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return send_with


async def _answer(send: Send, make: Callable[[str], HttpResponse]) -> None:
    """Send the response ``make`` makes, given the request id."""

    async def answer(request_id: str) -> HttpResponse:
        return make(request_id)

    await serve_request(send, answer)


def create_app(application: Application, *, listen_host: str | None = None) -> GatewayApp:
    """The gateway's ASGI app; its lifespan starts and stops ``application``.

    Args:
        application: The gateway.
        listen_host: The address this app is served on (``settings.host`` by default): on
            a loopback one anonymous callers may use every surface unless ``[auth]
            allow_anonymous`` says otherwise; on any other, none.
    """
    loopback = is_loopback_host(listen_host or application.settings.host)

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
        swagger_ui_oauth2_redirect_url="/_lockgate/docs/oauth2-redirect",
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
    api.include_router(tokens_router(application))
    api.include_router(api_keys_router(application))
    install_error_handlers(api)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
            schema["paths"].update(_INVOKE_OPENAPI)
            _document_refusals(schema)
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    invoke = InvokeApi(
        application.registry,
        application.invoker,
        max_body_bytes=application.settings.max_body_bytes,
        queue=application.async_invocations,
    )
    gate = AccessGate(
        application.authenticator,
        lambda: anonymous_surfaces(application.security.auth, loopback=loopback),
        max_body_bytes=application.settings.max_body_bytes,
    )
    return GatewayApp(
        api,
        FunctionRoutes(application.processor),
        invoke,
        gate,
        hosts=AllowedHosts(
            application.settings.allowed_hosts, listen_host or application.settings.host
        ),
        cors=lambda: application.security.cors,
        limiter=application.limiter,
        failures=application.auth_failures,
    )


# What the gateway answers before an endpoint runs: a Host it does not go by, no or a bad
# credential, a credential without the scope, a page on another origin.
_REFUSALS = {
    "400": "A Host the gateway does not answer to (InvalidHost), or a malformed request",
    "401": "No credential, or one the gateway does not accept (Unauthorized)",
    "403": "The credential lacks the scope, or a page on another origin (CrossOriginRefused)",
}


def _document_refusals(schema: dict[str, Any]) -> None:
    """Add the gate's refusals to every operation but the probes'."""
    for path, operations in schema["paths"].items():
        if path in PROBES:
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, text in _REFUSALS.items():
                responses.setdefault(status, {"description": text})


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
