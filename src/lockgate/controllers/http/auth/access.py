"""Who may call the endpoints the gateway serves itself: one table, one gate.

Every path the gateway reserves is classified here (:func:`classify`) into its surface and
the scope it needs; a path the table does not know needs ``admin``, so an endpoint added
later is closed until someone opens it here on purpose. Only ``/healthz`` and ``/readyz``
are open (probes). Declared routes are not gated here: a route without an authorizer is
public, as on API Gateway.

:class:`AccessGate` admits a request: it asks the ``Authenticator`` who the caller is, lets
an anonymous caller in only where the listener admits anonymous callers on that surface,
checks the scope, and leaves the principal in the ASGI scope for the handler
(:func:`principal_of`). An AWS SigV4-signed request to the Lambda API, where
``[aws_credentials]`` are declared, is read whole first (its signature covers the body) and
its endpoint gets the body replayed. Refusals are answered in the surface's own shape: AWS's for the
Lambda API (so the SDKs raise their own exceptions), the gateway's error body elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import NamedTuple

from starlette.requests import Request
from starlette.types import Receive, Scope

from lockgate.controllers.http.asgi import header
from lockgate.controllers.http.auth.signed_requests import is_signed, read_signed_request, replaying
from lockgate.controllers.http.aws_errors import aws_error, aws_error_response
from lockgate.controllers.http.lambda_api import parse_function_identifier
from lockgate.errors import (
    ForbiddenError,
    LockgateError,
    RequestTooLargeError,
    UnauthorizedError,
)
from lockgate.models.context import HttpResponse
from lockgate.models.security.principals import (
    ADMIN,
    ANONYMOUS_NAME,
    FUNCTIONS_INVOKE,
    OPS_READ,
    RUNS_CANCEL,
    RUNS_READ,
    RUNS_READ_OWN,
    WORKFLOWS_RUN,
    Principal,
    Surface,
)
from lockgate.models.security.sigv4 import AWS_ACCOUNT, user_arn
from lockgate.use_cases.auth.authenticator import Authenticator
from lockgate.use_cases.routes.request_processor import json_response

__all__ = [
    "PRINCIPAL_KEY",
    "PROBES",
    "AccessGate",
    "Admission",
    "Endpoint",
    "classify",
    "denial",
    "principal_of",
]

PRINCIPAL_KEY = "lockgate.principal"
PROBES = frozenset({"/healthz", "/readyz"})
_SURFACE_NAMES = {
    Surface.LAMBDA_API: "the Lambda API",
    Surface.WORKFLOW_API: "the workflow API",
    Surface.OPERATIONS: "the operations endpoints",
    None: "this operator endpoint",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one reserved path needs.

    Attributes:
        surface: The surface it belongs to; None for probes and operator-only endpoints.
        scope: The scope it needs; None: open to anyone (a probe).
        target: The function or workflow it acts on, for scopes narrowed to names.
        listing: It lists names; any scope narrowed to some name lets the caller in, and
            the handler shows only what the caller may see.
        aws: Refusals are answered in AWS's error shape.
        action: The IAM action AWS would name refusing it (``lambda:GetFunction``).
    """

    surface: Surface | None
    scope: str | None
    target: str | None = None
    listing: bool = False
    aws: bool = False
    action: str = "lambda:InvokeFunction"


_OPEN = Endpoint(None, None)
_ADMIN = Endpoint(None, ADMIN)
_OPERATIONS = Endpoint(Surface.OPERATIONS, OPS_READ)
_OPERATIONS_PREFIXES = ("/modules/", "/events/", "/_lockgate/")


def classify(path: str) -> Endpoint:
    """The endpoint a reserved ``path`` (decoded, normalised) belongs to."""
    if path in PROBES:
        return _OPEN
    if path.startswith("/2015-03-31/"):
        return _lambda_endpoint(path)
    if path == "/workflows" or path.startswith(("/workflows/", "/runs/")) or path == "/runs":
        return _workflow_endpoint(path)
    # One delivery's data, and re-driving anything (which changes state), never with a
    # read scope, whatever the prefix.
    if path.endswith("/redrive") or path.startswith("/events/deliveries/"):
        return _ADMIN
    if path in ("/health", "/metrics", "/modules") or path.startswith(_OPERATIONS_PREFIXES):
        return _OPERATIONS
    return _ADMIN  # secrets, jobs, Event invocations, tokens, and anything added later


def _lambda_endpoint(path: str) -> Endpoint:
    parts = path.split("/")  # "", "2015-03-31", "functions", NAME, ...
    if len(parts) > 3 and parts[2] == "functions" and parts[3]:
        name, _ = parse_function_identifier(parts[3])
        action = "lambda:InvokeFunction" if len(parts) > 4 else "lambda:GetFunction"
        return Endpoint(Surface.LAMBDA_API, FUNCTIONS_INVOKE, target=name, aws=True, action=action)
    return Endpoint(
        Surface.LAMBDA_API, FUNCTIONS_INVOKE, listing=True, aws=True, action="lambda:ListFunctions"
    )


def _workflow_endpoint(path: str) -> Endpoint:
    if path == "/workflows":
        return Endpoint(Surface.WORKFLOW_API, WORKFLOWS_RUN, listing=True)
    if path.startswith("/workflows/"):
        return Endpoint(Surface.WORKFLOW_API, WORKFLOWS_RUN, target=path.split("/")[2])
    if path.endswith("/cancel"):
        return Endpoint(Surface.WORKFLOW_API, RUNS_CANCEL)
    return Endpoint(Surface.WORKFLOW_API, RUNS_READ_OWN)


def _allowed(principal: Principal, endpoint: Endpoint) -> bool:
    scope = endpoint.scope
    assert scope is not None
    if scope == RUNS_READ_OWN:
        return principal.allows(RUNS_READ) or principal.allows(RUNS_READ_OWN)
    if endpoint.listing:
        return principal.allows_any(scope)
    return principal.allows(scope, endpoint.target)


class Admission(NamedTuple):
    """A request let in: who is calling, and where its endpoint reads the body from (the
    ASGI ``receive``, or a replay of the body a SigV4 signature was checked over)."""

    principal: Principal
    receive: Receive


class AccessGate:
    """Admits requests to one listener's reserved endpoints.

    Args:
        authenticator: Says who presented which credential.
        anonymous: Returns the surfaces this listener lets anonymous callers use (asked on
            every request: a reloaded config may change it).
        max_body_bytes: The largest body a signed request may have (it is read before the
            request is admitted).
    """

    def __init__(
        self,
        authenticator: Authenticator,
        anonymous: Callable[[], Collection[Surface]],
        *,
        max_body_bytes: int = 6 * 1024 * 1024,
    ) -> None:
        self.authenticator = authenticator
        self._anonymous = anonymous
        self._max_body_bytes = max_body_bytes

    async def admit(self, scope: Scope, endpoint: Endpoint, receive: Receive) -> Admission:
        """Let the caller use ``endpoint``, or refuse it; its principal is left in ``scope``.

        Returns:
            The caller, and what the endpoint reads the body from: ``receive``, or a replay
            of the body read to check a SigV4 signature.

        Raises:
            UnauthorizedError: No credential where one is needed, or an invalid one (on the
                Lambda API, ``aws_code`` may name AWS's exception).
            ForbiddenError: A valid credential without the scope the endpoint needs.
            RequestTooLargeError: A signed request's body is over ``max_body_bytes``.
            RunStoreError, SecretStoreError: The credentials could not be read.
        """
        authorization = header(scope, b"authorization")
        if endpoint.aws and is_signed(authorization) and self.authenticator.checks_signatures:
            assert authorization is not None
            signed = await read_signed_request(scope, receive, self._max_body_bytes)
            principal = await self.authenticator.signed_principal(authorization, signed)
            self._check(scope, principal, endpoint)
            return Admission(principal, replaying(signed.body, receive))
        return Admission(await self._admit(scope, endpoint, authorization), receive)

    async def _admit(
        self, scope: Scope, endpoint: Endpoint, authorization: str | None
    ) -> Principal:
        surface = endpoint.surface
        try:
            principal = await self.authenticator.principal(authorization)
        except UnauthorizedError as error:
            if not error.fields.get("unverifiable") or surface not in self._anonymous():
                raise
            principal = None
        if principal is None:
            if surface is None or surface not in self._anonymous():
                raise UnauthorizedError(
                    f"{_SURFACE_NAMES[surface]} needs a credential: send 'Authorization: "
                    f"Bearer <token>' with a token that has scope {endpoint.scope} (make one "
                    f"with `lockgate tokens create NAME --scope {endpoint.scope}`)",
                    scope=endpoint.scope,
                    presented=False,
                )
            principal = Principal(ANONYMOUS_NAME, ANONYMOUS_NAME, surface.anonymous_scopes)
        self._check(scope, principal, endpoint)
        return principal

    @staticmethod
    def _check(scope: Scope, principal: Principal, endpoint: Endpoint) -> None:
        if not _allowed(principal, endpoint):
            on = f" on {endpoint.target!r}" if endpoint.target else ""
            raise ForbiddenError(
                f"{principal.name!r} may not do this: it needs scope {endpoint.scope}{on}",
                scope=endpoint.scope,
                principal=principal.name,
                kind=principal.kind,
            )
        scope[PRINCIPAL_KEY] = principal


def principal_of(request: Request) -> Principal:
    """The principal ``AccessGate`` admitted for ``request``; an anonymous one with no
    scopes when no gate ran (the FastAPI app mounted on its own), so nothing is widened."""
    found = request.scope.get(PRINCIPAL_KEY)
    if isinstance(found, Principal):
        return found
    return Principal(ANONYMOUS_NAME, ANONYMOUS_NAME, frozenset())


def denial(error: LockgateError, endpoint: Endpoint, request_id: str) -> HttpResponse:
    """The response refusing a request: AWS's shape on the Lambda API, else the gateway's
    ``{"error": {"code", "message"}}`` (401 with ``WWW-Authenticate: Bearer``, or 403)."""
    if endpoint.aws:
        return _aws_denial(error, endpoint, request_id)
    status = 401 if isinstance(error, UnauthorizedError) else 403
    if not isinstance(error, UnauthorizedError | ForbiddenError):
        status = 503  # the credential store failed: try again, nothing was refused
    headers: tuple[tuple[str, str], ...] = (("x-lockgate-request-id", request_id),)
    if status == 401:
        headers += (("www-authenticate", 'Bearer realm="lockgate"'),)
    return json_response(status, {"error": {"code": error.code, "message": error.message}}, headers)


def _aws_denial(error: LockgateError, endpoint: Endpoint, request_id: str) -> HttpResponse:
    """AWS's own codes and words, so boto3, the CLI and the JS SDK raise what they would
    against AWS."""
    if isinstance(error, ForbiddenError):
        return aws_error_response(
            403,
            "AccessDeniedException",
            f"User: {_user(error)} is not authorized to perform: {endpoint.action} on "
            f"resource: {_resource(endpoint)} because no identity-based policy allows the "
            f"{endpoint.action} action",
            request_id,
        )
    if isinstance(error, RequestTooLargeError):
        return aws_error(error, request_id)
    if isinstance(error, UnauthorizedError):
        code = error.fields.get("aws_code")
        if isinstance(code, str):  # a SigV4 refusal, in AWS's words already
            # AWS answers a malformed Authorization header 400 (its "common errors"), the
            # rest 403.
            status = 400 if code == "IncompleteSignatureException" else 403
            return aws_error_response(status, code, error.message, request_id)
        if not error.fields.get("presented", True):
            return aws_error_response(
                403,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                request_id,
            )
        return aws_error_response(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            request_id,
        )
    return aws_error_response(503, "ServiceException", error.message, request_id)


def _user(error: ForbiddenError) -> str:
    """Who AWS's message says was refused: an ``[aws_credentials]`` key as its IAM user's
    ARN, other callers by name."""
    name = str(error.fields.get("principal", ANONYMOUS_NAME))
    if error.fields.get("kind") == "aws":
        return user_arn(name.removeprefix("aws:"))
    return name


def _resource(endpoint: Endpoint) -> str:
    if endpoint.listing:
        return "*"  # ListFunctions is not on a resource
    return f"arn:aws:lambda:us-east-1:{AWS_ACCOUNT}:function:{endpoint.target or '*'}"
