"""``JwtRouteAuthorizer``: a route's JWT authorizer, with API Gateway's answers: 401 for a
missing or bad token, 403 for a good one without any of the route's scopes, and the
token's claims and scopes for the function's event."""

from __future__ import annotations

import logging

from lockgate.errors import AuthorizerUnavailableError
from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.routing import RouteMatch
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.use_cases.auth.authorizers.identity import bearer_token
from lockgate.use_cases.auth.authorizers.jwt_verifier import JwtRejectedError, JwtVerifier
from lockgate.use_cases.auth.authorizers.responses import (
    FORBIDDEN,
    INTERNAL_ERROR,
    invalid_token,
    missing_token,
)

__all__ = ["JwtRouteAuthorizer"]

logger = logging.getLogger(__name__)


class JwtRouteAuthorizer:
    """Admits requests to the routes that name one JWT authorizer.

    Args:
        verifier: Checks the authorizer's tokens.
    """

    def __init__(self, verifier: JwtVerifier) -> None:
        self.verifier = verifier
        self.name = verifier.authorizer.name
        self._source = verifier.authorizer.identity_source

    async def authorize(
        self, context: InputContext, match: RouteMatch
    ) -> RouteIdentity | HttpResponse:
        """The identity the function's event carries, or the refusal to send instead.

        Args:
            context: The request.
            match: The route it matched (its ``scopes``).
        """
        route = match.route
        source = self._source
        found = (context.headers if source.kind == "header" else context.query_params).get(
            source.name
        )
        token = bearer_token(found) if found else ""
        if not token:
            logger.info("route %s: no token in %s", route.route_key, source.expression)
            return missing_token()
        try:
            verified = await self.verifier.verify(token)
        except JwtRejectedError as rejected:
            logger.info(
                "route %s: authorizer %s refused a token: %s",
                route.route_key,
                self.name,
                rejected.reason,
            )
            return invalid_token(rejected.reason)
        except AuthorizerUnavailableError as exc:
            logger.warning("route %s: authorizer %s failed: %s", route.route_key, self.name, exc)
            return INTERNAL_ERROR
        if route.scopes and not any(scope in verified.scopes for scope in route.scopes):
            logger.info(
                "route %s: authorizer %s: the token has none of the scopes %s",
                route.route_key,
                self.name,
                " ".join(route.scopes),
            )
            return FORBIDDEN
        # As API Gateway: the token's own scopes (all of them) when the route asks for
        # scopes, null when it does not.
        return RouteIdentity(
            jwt_claims=verified.event_claims,  # the event builder copies it into each event
            jwt_scopes=verified.scopes if route.scopes else None,
        )
