"""``GatewayRequestProcessor``: an HTTP request in, through a function, an HTTP response out.

Knows API Gateway's rules, not any web framework: the controller turns its request into an
``InputContext`` and sends back the ``HttpResponse`` this returns.
"""

from __future__ import annotations

import json
import logging

from lockgate.errors import (
    CircuitOpenError,
    HandlerResponseError,
    InvocationTimeoutError,
    LockgateError,
    TooManyRequestsError,
)
from lockgate.gateways.interfaces import NO_TRACER, ITracer
from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.invocation import InvocationResult
from lockgate.models.routing import PayloadFormat, RouteMatch, RouteTable
from lockgate.models.security.config import CorsConfig
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.models.trace import TraceContext
from lockgate.use_cases.apigw.events import EventBuilder, with_trace_headers
from lockgate.use_cases.apigw.responses import map_response
from lockgate.use_cases.auth.authorizers.responses import INTERNAL_ERROR
from lockgate.use_cases.auth.route_guard import RouteGuard
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.routes.cors import (
    cors_headers,
    is_preflight,
    preflight_headers,
    without_cors_headers,
)

__all__ = ["GatewayRequestProcessor", "json_response"]

logger = logging.getLogger(__name__)


def json_response(
    status: int, body: object, headers: tuple[tuple[str, str], ...] = ()
) -> HttpResponse:
    return HttpResponse(
        status, (("content-type", "application/json"), *headers), json.dumps(body).encode()
    )


class GatewayRequestProcessor:
    """Routes an ``InputContext`` to its function and maps the result back.

    Args:
        invoker: Runs the function.
        event_builder: Builds the API Gateway proxy event.
        routes: The route table; none (every path 404) until one is set, so seed 004's
            ``GatewayRequestProcessor(invoker, event_builder)`` makes one too.
        max_body_bytes: Requests with a larger body are refused with 413.
        cors: ``[cors]``, for routes without their own.
        guard: Runs routes' authorizers and API key checks; a route that needs one is
            refused (500) without it.
        tracer: Names each request's server span by its route; the handler's event then
            carries that span as ``traceparent`` and ``X-Amzn-Trace-Id`` (with tracing
            off, a caller's ``traceparent`` is handed on as it came).
    """

    def __init__(
        self,
        invoker: LambdaInvoker,
        event_builder: EventBuilder,
        routes: RouteTable | None = None,
        *,
        max_body_bytes: int = 6 * 1024 * 1024,
        cors: CorsConfig | None = None,
        guard: RouteGuard | None = None,
        tracer: ITracer = NO_TRACER,
    ) -> None:
        self._invoker = invoker
        self._tracer = tracer
        self._events = event_builder
        # Replaced whole on reload, never mutated.
        self.routes = routes if routes is not None else RouteTable()
        self.max_body_bytes = max_body_bytes
        self.cors = cors
        self.guard = guard

    async def process(self, context: InputContext) -> HttpResponse:
        if len(context.body) > self.max_body_bytes:
            return json_response(413, {"message": "Request Entity Too Large"})
        origin = context.headers.get("origin")
        if origin is not None and is_preflight(context.method, context.headers):
            preflight = self._preflight(context, origin)
            if preflight is not None:
                return preflight
        match = self.routes.match(context.method, context.path)
        if match is None:
            return json_response(404, {"message": "Not Found"})
        route = match.route
        trace = None
        if self._tracer.enabled:
            # The request's server span is named by its route (``GET /hello/{name}``); the
            # handler joins that span's trace, or the caller's when there is none.
            span = self._tracer.current()
            span.set_name(f"{context.method} {route.path}")
            span.set_attribute("http.route", route.path)
            trace = span.context() or TraceContext.from_traceparent(
                context.headers.get("traceparent")
            )
        elif "traceparent" in context.headers:  # untraced, but the caller's trace goes on
            trace = TraceContext.from_traceparent(context.headers["traceparent"])
        # What a route without an authorizer or API key pays: two attribute reads.
        if route.authorizer is not None or route.api_key_required:
            if trace is not None:  # the authorizer's event carries the trace too
                context = with_trace_headers(context, trace)
            admitted = await self._admit(context, match)
            if isinstance(admitted, HttpResponse):
                return self._refused(admitted, origin, match)
            event = self._events.build(context, match, admitted)
        else:
            event = self._events.build(context, match, trace=trace)
        result = await self._invoker.invoke_function(
            route.function, event, request_id=context.request_id, trace=trace, trigger="http"
        )
        response = self._to_http(result, route.payload_format, route.function)
        headers = response.headers
        if origin is not None and (cors := route.cors or self.cors) is not None:
            headers = without_cors_headers(headers) + cors_headers(cors, origin)
        # Built directly: dataclasses.replace() introspects the fields on every call.
        return HttpResponse(response.status_code, headers, response.body, result.handler_ms)

    def _refused(
        self, response: HttpResponse, origin: str | None, match: RouteMatch
    ) -> HttpResponse:
        """An authorizer's or API key's refusal, with CORS headers so a browser page can
        read it."""
        if origin is not None and (cors := match.route.cors or self.cors) is not None:
            return response._replace(headers=response.headers + cors_headers(cors, origin))
        return response

    async def _admit(
        self, context: InputContext, match: RouteMatch
    ) -> RouteIdentity | HttpResponse:
        if self.guard is None:  # an embedding that built the processor without one
            logger.error(
                "route %s needs an authorizer or API key check, and none is configured",
                match.route.route_key,
            )
            return INTERNAL_ERROR
        return await self.guard.admit(context, match)

    def _preflight(self, context: InputContext, origin: str) -> HttpResponse | None:
        """The gateway's own answer to a preflight where CORS is configured (the route the
        browser means to call, else ``[cors]``); None lets an OPTIONS route have it."""
        method = context.headers["access-control-request-method"]
        meant: RouteMatch | None = self.routes.match(method, context.path)
        cors = (meant.route.cors if meant is not None else None) or self.cors
        if cors is None:
            return None
        asked = context.headers.get("access-control-request-headers")
        return HttpResponse(204, preflight_headers(cors, origin, method, asked), b"")

    @staticmethod
    def _to_http(
        result: InvocationResult, payload_format: PayloadFormat, function: str
    ) -> HttpResponse:
        if (failure := result.failure) is not None:
            return _error_response(failure, result.status_code, function)
        if result.function_error is not None or result.payload is None:
            logger.warning("function %s %s; answering 502", function, _raised(result.payload))
            return json_response(502, {"message": "Internal server error"})
        try:
            return map_response(result.payload, payload_format)
        except HandlerResponseError as exc:
            logger.warning("function %s returned a malformed response: %s", function, exc.message)
            return json_response(502, {"message": "Internal server error"})


def _raised(payload: bytes | None) -> str:
    """``raised ValueError: boom`` from a handler's error object (its traceback is in the
    function's own output, logged with it)."""
    try:
        error = json.loads(payload or b"")
        text = f"raised {error['errorType']}: {error['errorMessage']}"
    except (ValueError, TypeError, KeyError):
        return "failed"
    return text if len(text) <= 500 else text[:499] + "…"


def _error_response(error: LockgateError, status: int, function: str) -> HttpResponse:
    """API Gateway's messages for each failure; details go to the log, not the client."""
    if isinstance(error, TooManyRequestsError | CircuitOpenError):
        message = "Too Many Requests" if status == 429 else "Service Unavailable"
        return json_response(
            status, {"message": message}, (("retry-after", str(error.retry_after)),)
        )
    if isinstance(error, InvocationTimeoutError):
        return json_response(504, {"message": "Endpoint request timed out"})
    logger.warning("invoking function %s failed: %s", function, error.message)
    if status >= 500:
        return json_response(status, {"message": "Internal server error"})
    return json_response(status, {"message": error.message})
