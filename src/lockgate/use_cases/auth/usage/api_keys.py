"""``ApiKeyGate``: routes with ``api_key_required``, as REST APIs run them: the key comes in
``x-api-key``; a missing, unknown or revoked one (or one whose usage plan is no longer
declared) is 403 ``{"message":"Forbidden"}``; over the plan's rate or quota, 429."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lockgate.errors import InvalidRequestError, RunStoreError
from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.routing import Route
from lockgate.models.security.authorizers import UsagePlan
from lockgate.models.security.principals import Credential, CredentialKind
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.use_cases.auth.authorizers.responses import limit_exceeded, too_many_requests
from lockgate.use_cases.auth.credentials import CredentialService
from lockgate.use_cases.auth.usage.meter import UsageMeter

__all__ = ["API_KEY_HEADER", "ApiKeyGate", "check_plan"]

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
_JSON = ("content-type", "application/json")
_FORBIDDEN = HttpResponse(
    403, (_JSON, ("x-amzn-errortype", "ForbiddenException")), b'{"message":"Forbidden"}'
)
_UNAVAILABLE = HttpResponse(
    503, (_JSON, ("retry-after", "1")), b'{"message":"Service Unavailable"}'
)


def check_plan(plan: str, plans: Mapping[str, UsagePlan]) -> str:
    """``plan`` when it is declared (an API key is made only for a plan that exists).

    Raises:
        InvalidRequestError: It is not; the message lists the declared plans.
    """
    if plan not in plans:
        declared = ", ".join(sorted(plans)) or "none: add [usage_plans.NAME] to lockgate.toml"
        raise InvalidRequestError(
            f"no usage plan {plan!r} is declared (declared: {declared})", field="plan"
        )
    return plan


class ApiKeyGate:
    """Checks API keys and meters them.

    Args:
        credentials: Where keys are recognised (hashed, cached for ``token_cache_ttl``).
        meter: Rates and quotas.
    """

    def __init__(self, credentials: CredentialService, meter: UsageMeter) -> None:
        self.credentials = credentials
        self.meter = meter
        self.plans: Mapping[str, UsagePlan] = {}  # replaced whole on reload

    async def admit(self, context: InputContext, route: Route) -> RouteIdentity | HttpResponse:
        """The key's identity for the event, or the refusal to send instead."""
        secret = context.headers.get(API_KEY_HEADER)
        if not secret:
            logger.info("route %s: no API key (x-api-key)", route.route_key)
            return _FORBIDDEN
        try:
            credential = await self.credentials.authenticate(secret, CredentialKind.API_KEY)
        except RunStoreError as exc:
            logger.warning("route %s: API keys cannot be checked: %s", route.route_key, exc)
            return _UNAVAILABLE
        if credential is None:
            logger.info("route %s: an unknown or revoked API key", route.route_key)
            return _FORBIDDEN
        refused = await self._meter(credential, route)
        return refused or RouteIdentity(api_key=secret, api_key_id=credential.credential_id)

    async def _meter(self, credential: Credential, route: Route) -> HttpResponse | None:
        """The refusal when the key's plan is gone or the key is over it, else None."""
        plan = self.plans.get(credential.plan or "")
        if plan is None:
            logger.warning(
                "route %s: API key %r belongs to usage plan %r, which is not declared",
                route.route_key,
                credential.name,
                credential.plan,
            )
            return _FORBIDDEN
        refusal = await self.meter.admit(credential.credential_id, plan)
        if refusal is not None:
            which = "quota" if refusal.quota else "rate"
            logger.info(
                "route %s: API key %r is over its plan's %s",
                route.route_key,
                credential.name,
                which,
            )
            if refusal.quota:
                return limit_exceeded(refusal.retry_after)
            return too_many_requests(refusal.retry_after)
        return None
