"""``LambdaRouteAuthorizer``: a declared function decides, as an HTTP API's Lambda authorizer
(REQUEST type) does.

* an identity source missing or empty: 401, and the function is not called;
* a cached decision for the same identity values (``ttl``): reused, the function not called;
* the function denies (``isAuthorized: false``, or no policy statement allows the request's
  ARN, or one denies it): 403;
* it fails, times out or answers in another format: 500, and one log line saying which
  authorizer and why (never the request's credentials).
"""

from __future__ import annotations

import logging
import time

import orjson

from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.routing import RouteMatch
from lockgate.models.security.authorizers import FunctionAuthorizer
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.auth.authorizers.identity import identity_values
from lockgate.use_cases.auth.authorizers.lambda_answers import (
    Decision,
    MalformedAnswerError,
    parse_answer,
)
from lockgate.use_cases.auth.authorizers.lambda_events import authorizer_event, execute_api_arn
from lockgate.use_cases.auth.authorizers.responses import (
    FORBIDDEN,
    INTERNAL_ERROR,
    UNAUTHORIZED,
)
from lockgate.use_cases.auth.authorizers.result_cache import ResultCache
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker

__all__ = ["LambdaRouteAuthorizer"]

logger = logging.getLogger(__name__)


class LambdaRouteAuthorizer:
    """Admits requests to the routes that name one function authorizer.

    Args:
        authorizer: Its declaration.
        invoker: Runs the function (the gateway's own pools, under its timeout).
        events: Builds the events (the same api id, stage and account as routes').
    """

    def __init__(
        self, authorizer: FunctionAuthorizer, invoker: LambdaInvoker, events: EventBuilder
    ) -> None:
        self.authorizer = authorizer
        self.name = authorizer.name
        self._invoker = invoker
        self._events = events
        self._cache: ResultCache[Decision] | None = (
            ResultCache(authorizer.ttl) if authorizer.ttl else None
        )

    async def authorize(
        self, context: InputContext, match: RouteMatch
    ) -> RouteIdentity | HttpResponse:
        """The identity the function's event carries, or the refusal to send instead."""
        authorizer = self.authorizer
        route = match.route
        identity: tuple[str, ...] | None = None
        if authorizer.identity_source:
            identity = identity_values(
                authorizer.identity_source, context, route, self._events.stage
            )
            if identity is None:
                logger.info(
                    "route %s: authorizer %s: missing identity source (%s)",
                    route.route_key,
                    self.name,
                    ", ".join(s.expression for s in authorizer.identity_source),
                )
                return UNAUTHORIZED
        latency_ms = 0
        decision = self._cache.get(identity) if self._cache is not None else None
        if decision is None:
            started = time.monotonic()
            outcome = await self._ask(context, match, identity)
            if isinstance(outcome, HttpResponse):
                return outcome
            decision = outcome
            latency_ms = round((time.monotonic() - started) * 1000)
            if self._cache is not None:
                self._cache.put(identity, decision)
        if not decision.allows(execute_api_arn(self._events, context)):
            logger.info("route %s: authorizer %s denied the request", route.route_key, self.name)
            return FORBIDDEN
        return RouteIdentity(
            lambda_context=decision.context if decision.context is not None else {},
            principal_id=decision.principal_id,
            latency_ms=latency_ms,
        )

    async def _ask(
        self, context: InputContext, match: RouteMatch, identity: tuple[str, ...] | None
    ) -> Decision | HttpResponse:
        """Call the function; its decision, or the response when there is none."""
        authorizer = self.authorizer
        route_key = match.route.route_key
        event = authorizer_event(self._events, context, match, identity, authorizer.payload_format)
        result = await self._invoker.invoke_function(authorizer.function, orjson.dumps(event))
        if (failure := result.failure) is not None:
            why = failure.message
        elif result.function_error is not None or result.payload is None:
            if _says_unauthorized(result.payload):
                # REST APIs' convention: an authorizer that fails with exactly
                # "Unauthorized" means 401, not an error of its own.
                logger.info("route %s: authorizer %s answered Unauthorized", route_key, self.name)
                return UNAUTHORIZED
            why = f"function {authorizer.function!r} raised an error"
        else:
            try:
                return parse_answer(result.payload, authorizer)
            except MalformedAnswerError as exc:
                why = f"function {authorizer.function!r} answered in another format: {exc}"
        logger.warning("route %s: authorizer %s failed: %s", route_key, self.name, why)
        return INTERNAL_ERROR


def _says_unauthorized(payload: bytes | None) -> bool:
    try:
        error = orjson.loads(payload or b"null")
    except orjson.JSONDecodeError:
        return False
    return isinstance(error, dict) and error.get("errorMessage") == "Unauthorized"
