"""The ASGI application: the hot paths raw, Lockgate's other endpoints on FastAPI.

Declared routes and the Invoke API are served as raw ASGI (``FunctionRoutes``,
``InvokeApi``), skipping the framework's routing and middleware on every invocation; the
operations endpoints, the workflow API, the OpenAPI schema and the lifespan live on a
FastAPI app. The paths FastAPI serves are ``lockgate.config.settings.RESERVED_*`` (declared routes
may not claim them).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lockgate.bootstrap import Application
from lockgate.config.settings import RESERVED_PATHS, RESERVED_PREFIXES
from lockgate.controllers.http.access_log import Emit, log_access
from lockgate.controllers.http.asgi import ARRIVED, arrival, header, serve_request
from lockgate.controllers.http.auth.access import PROBES, classify, denial
from lockgate.controllers.http.auth.api_keys_api import api_keys_router
from lockgate.controllers.http.auth.browsers import check_browser
from lockgate.controllers.http.auth.refusals import (
    bad_host,
    invoke_method_not_allowed,
    not_here,
    route_throttled,
    throttled,
)
from lockgate.controllers.http.auth.tokens_api import tokens_router
from lockgate.controllers.http.error_handlers import install_error_handlers
from lockgate.controllers.http.events_api import events_router
from lockgate.controllers.http.function_logs_api import function_logs_router
from lockgate.controllers.http.function_routes import FunctionRoutes
from lockgate.controllers.http.invocations_api import invocations_router
from lockgate.controllers.http.jobs_api import jobs_router
from lockgate.controllers.http.lambda_api import INVOKE_PATH, InvokeApi
from lockgate.controllers.http.lambda_functions_api import lambda_functions_router
from lockgate.controllers.http.listener.addresses import Listener, listeners_for, pick_listener
from lockgate.controllers.http.listener.paths import needs_normalizing, normalize_path, raw_path_for
from lockgate.controllers.http.module_api import module_router
from lockgate.controllers.http.openapi import gateway_openapi
from lockgate.controllers.http.secrets_api import secrets_router
from lockgate.controllers.http.system import system_router
from lockgate.controllers.http.workflow_api import workflow_router
from lockgate.controllers.log_setup import request_id_var
from lockgate.errors import LockgateError
from lockgate.models.context import HttpResponse
from lockgate.models.ids import new_request_id
from lockgate.models.security.config import CorsConfig
from lockgate.use_cases.auth.rate_limits import ClientRateLimiter
from lockgate.use_cases.routes.server_spans import ServerSpans

__all__ = ["RESERVED_PATHS", "RESERVED_PREFIXES", "GatewayApp", "create_app"]


class RequestContextMiddleware:
    """Gives each request its id (in logs too) and adds ``X-Lockgate-Latency``: the
    milliseconds the gateway added, from the request's arrival."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = arrival(scope)
        token = request_id_var.set(request_id_var.get() or new_request_id())

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
    ``Host`` its listener does not answer to is a 400 (but for the probes); then declared
    routes, or (once browsers' checks, the listener's gate and ``[limits]`` let it
    through) the Invoke API or the FastAPI app.

    Args:
        api: The FastAPI app (operations, the workflow API, the lifespan).
        functions: Declared routes.
        invoke: The Invoke API.
        listeners: What each listening address serves, and its gate and hosts.
        cors: Returns ``[cors]`` now (a reload may change it).
        limiter: ``[limits]`` per client, for every surface but the probes.
        failures: ``[limits]`` per address for refused credentials.
        access_log: Writes the access log's lines (``ILogLines.emit``); None: no access log.
    """

    def __init__(
        self,
        api: FastAPI,
        functions: FunctionRoutes,
        invoke: InvokeApi,
        listeners: Sequence[Listener],
        *,
        cors: Callable[[], CorsConfig | None],
        limiter: ClientRateLimiter,
        failures: ClientRateLimiter,
        access_log: Emit | None = None,
    ) -> None:
        self._access_log = access_log
        self.api = api
        self._api = RequestContextMiddleware(api)
        self._functions = functions
        self._invoke = invoke
        self.listeners = tuple(listeners)
        self._cors = cors
        self._limiter = limiter
        self._failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._api(scope, receive, send)
            return
        # TracedGatewayApp.__call__ does this same work inside the request's span (not
        # awaiting this coroutine: a frame fewer on the traced path): change both alike.
        scope[ARRIVED] = time.perf_counter()
        # The request's id, made here once: the access log, every log line and the function
        # (``context.aws_request_id``) all show the same one.
        request_id = new_request_id()
        token = request_id_var.set(request_id)
        try:
            if self._access_log is None:
                await self._http(scope, receive, send)
            else:
                await log_access(
                    self._access_log, scope, receive, send, self._http, request_id=request_id
                )
        finally:
            request_id_var.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        listener = pick_listener(self.listeners, scope)
        path: str = scope["path"]
        if needs_normalizing(path):  # rare: most paths hold neither "/." nor "//"
            path = normalize_path(path)
            scope = {**scope, "path": path, "raw_path": raw_path_for(path)}
        host = header(scope, b"host")
        # Probes are exempt: load balancers and orchestrators call them by address.
        if host is not None and not listener.hosts.allows(host) and path not in PROBES:
            await _answer(send, lambda _: bad_host(host))
            return
        if path not in RESERVED_PATHS and not path.startswith(RESERVED_PREFIXES):
            if not listener.routes:
                await _answer(send, lambda _: not_here(path))
                return
            if wait := self._limiter.take(_address(scope)):
                await _answer(send, lambda _: route_throttled(wait))
                return
            await self._functions(scope, receive, send)
            return
        await self._reserved(scope, receive, send, path, listener)

    async def _reserved(
        self, scope: Scope, receive: Receive, send: Send, path: str, listener: Listener
    ) -> None:
        """An endpoint the gateway serves itself: browsers' checks, then the gate and the
        caller's rate (by principal, or by address for anonymous callers and failed
        credentials), then the Invoke API or the FastAPI app."""
        endpoint = classify(path)
        if not listener.serves(endpoint):
            await _answer(send, lambda _: not_here(path))
            return
        verdict = check_browser(scope, self._cors())
        if isinstance(verdict, HttpResponse):
            answer = verdict
            await _answer(send, lambda _: answer)
            return
        if endpoint.scope is not None:
            address = _address(scope)
            # An address whose failed credentials used up their own bucket is turned away
            # before another is looked up (a flood of made-up tokens costs no store reads).
            if wait := self._failures.waiting(address):
                await _answer(send, lambda rid: throttled(endpoint, wait, rid))
                return
            try:
                principal, receive = await listener.gate.admit(scope, endpoint, receive)
            except LockgateError as error:
                self._failures.take(address)
                refused = error
                await _answer(send, lambda rid: denial(refused, endpoint, rid))
                return
            key = address if principal.anonymous else f"p:{principal.name}"
            if wait := self._limiter.take(key):
                await _answer(send, lambda rid: throttled(endpoint, wait, rid))
                return
        if verdict:
            send = _adding(send, verdict)
        if match := INVOKE_PATH.match(path):
            if scope["method"] == "POST":
                await self._invoke(scope, receive, send, match.group(1))
            else:
                method = scope["method"]
                await _answer(send, lambda rid: invoke_method_not_allowed(method, rid))
            return
        await self._api(scope, receive, send)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return f"a:{client[0]}" if client else "a:unknown"


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


def create_app(application: Application) -> GatewayApp:
    """The gateway's ASGI app; its lifespan starts and stops ``application``. It listens
    where ``application.settings`` say (``host``/``port``, and ``admin_listen``): the server
    passes it the connections of every listener."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await application.start()
        try:
            yield
        finally:
            await application.stop()

    api = FastAPI(
        title=application.title,
        description=application.description,
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
    api.include_router(events_router(application))
    api.include_router(lambda_functions_router(application.registry))
    api.include_router(function_logs_router(application))
    api.include_router(invocations_router(application))
    api.include_router(jobs_router(application.jobs))
    api.include_router(tokens_router(application))
    api.include_router(api_keys_router(application))
    install_error_handlers(api)
    api.openapi = lambda: gateway_openapi(api)  # type: ignore[method-assign]
    invoke = InvokeApi(
        application.registry,
        application.invoker,
        max_body_bytes=application.settings.max_body_bytes,
        queue=application.async_invocations,
    )
    functions = FunctionRoutes(application.processor)
    listeners = listeners_for(
        application.settings, application.authenticator, lambda: application.security.auth
    )

    def cors() -> CorsConfig | None:
        return application.security.cors

    make: Callable[..., GatewayApp] = GatewayApp
    if application.tracer.enabled:
        # Imported here: it subclasses GatewayApp, so app.py cannot import it at the top.
        from lockgate.controllers.http.tracing import TracedGatewayApp  # noqa: PLC0415

        make = functools.partial(TracedGatewayApp, spans=ServerSpans(application.tracer))
    return make(
        api,
        functions,
        invoke,
        listeners,
        cors=cors,
        limiter=application.limiter,
        failures=application.auth_failures,
        access_log=application.access_log.emit if application.access_log else None,
    )
