"""``RouteGuard``: the step between a matched route and its function, for routes that name
an authorizer or require an API key (routes that do neither never reach it).

The API key is checked first (cheap, and a request over its plan's rate should not cost an
authorizer call), then the authorizer. Both leave what they learnt in one
``RouteIdentity`` for the function's event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lockgate.gateways.interfaces import IKeySetFetcher
from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.routing import RouteMatch
from lockgate.models.security.authorizers import Authorizer, JwtAuthorizer
from lockgate.models.security.config import SecurityConfig
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.auth.authorizers.jwt_authorizer import JwtRouteAuthorizer
from lockgate.use_cases.auth.authorizers.jwt_verifier import JwtVerifier
from lockgate.use_cases.auth.authorizers.lambda_authorizer import LambdaRouteAuthorizer
from lockgate.use_cases.auth.authorizers.responses import INTERNAL_ERROR
from lockgate.use_cases.auth.authorizers.signing_keys import SigningKeys
from lockgate.use_cases.auth.usage.api_keys import ApiKeyGate
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker

__all__ = ["RouteGuard"]

logger = logging.getLogger(__name__)


_RouteAuthorizer = JwtRouteAuthorizer | LambdaRouteAuthorizer


class RouteGuard:
    """Authorizers and API keys for routes.

    Args:
        invoker: Runs Lambda authorizers.
        events: The route events' builder (authorizer events share its ids).
        fetcher: Reads JWT authorizers' keys.
        api_keys: Checks and meters API keys; None where the gateway keeps no credentials.
    """

    def __init__(
        self,
        invoker: LambdaInvoker,
        events: EventBuilder,
        fetcher: IKeySetFetcher,
        api_keys: ApiKeyGate | None,
    ) -> None:
        self._invoker = invoker
        self._events = events
        self._fetcher = fetcher
        self.api_keys = api_keys
        self._declared: Mapping[str, Authorizer] = {}
        self._authorizers: dict[str, _RouteAuthorizer] = {}
        self._verifiers: dict[str, JwtVerifier] = {}
        self._auth_authorizer: str | None = None

    def configure(self, security: SecurityConfig) -> None:
        """Serve ``security``'s authorizers and usage plans from now on. An authorizer
        declared as before keeps its keys and cached results; a changed one starts anew."""
        authorizers: dict[str, _RouteAuthorizer] = {}
        verifiers: dict[str, JwtVerifier] = {}
        for name, declared in security.authorizers.items():
            if self._declared.get(name) == declared:
                authorizers[name] = self._authorizers[name]
                if name in self._verifiers:
                    verifiers[name] = self._verifiers[name]
            elif isinstance(declared, JwtAuthorizer):
                verifier = JwtVerifier(declared, SigningKeys(declared, self._fetcher))
                verifiers[name] = verifier
                authorizers[name] = JwtRouteAuthorizer(verifier)
            else:
                authorizers[name] = LambdaRouteAuthorizer(declared, self._invoker, self._events)
        self._declared = dict(security.authorizers)
        self._authorizers = authorizers
        self._verifiers = verifiers
        self._auth_authorizer = security.auth.authorizer
        if self.api_keys is not None:
            self.api_keys.plans = dict(security.usage_plans)

    async def close(self) -> None:
        """Stop key fetches in progress and release the fetcher's connections."""
        for verifier in self._verifiers.values():
            await verifier.keys.close()
        await self._fetcher.close()

    def auth_verifier(self) -> JwtVerifier | None:
        """The token checks of the JWT authorizer ``[auth] authorizer`` names (sharing its
        keys with the routes that name it), or None."""
        name = self._auth_authorizer
        return self._verifiers.get(name) if name is not None else None

    async def admit(self, context: InputContext, match: RouteMatch) -> RouteIdentity | HttpResponse:
        """What the function's event learns about the caller, or the response refusing it.

        Args:
            context: The request.
            match: The route it matched, which names an authorizer or requires an API key.
        """
        route = match.route
        identity = RouteIdentity()
        if route.api_key_required:
            if self.api_keys is None:
                logger.warning("route %s needs API keys; this gateway keeps none", route.route_key)
                return INTERNAL_ERROR
            checked = await self.api_keys.admit(context, route)
            if isinstance(checked, HttpResponse):
                return checked
            identity = checked
        if route.authorizer is not None:
            authorizer = self._authorizers.get(route.authorizer)
            if authorizer is None:  # GatewayConfig refuses this; a guard left unconfigured
                logger.error(
                    "route %s names authorizer %r, which is not configured",
                    route.route_key,
                    route.authorizer,
                )
                return INTERNAL_ERROR
            authorized = await authorizer.authorize(context, match)
            if isinstance(authorized, HttpResponse):
                return authorized
            if not route.api_key_required:
                return authorized
            identity = authorized._replace(api_key=identity.api_key, api_key_id=identity.api_key_id)
        return identity
