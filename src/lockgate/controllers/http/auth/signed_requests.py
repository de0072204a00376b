"""The ASGI side of SigV4: a signed request's body read before it is admitted, and handed on.

A SigV4 signature covers the body, so a signed request to the Lambda API is read whole
(bounded by ``max_body_bytes``) before the gate decides, and the endpoint behind it gets a
``receive`` that replays the same bytes: ``InvokeApi`` reads its body as it always does.
Unsigned and bearer requests never come here and keep streaming to their endpoint untouched.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from lockgate.controllers.http.asgi import ClientGoneError, log_client_gone, read_body
from lockgate.errors import RequestTooLargeError, UnauthorizedError
from lockgate.models.security.sigv4 import SIGV4_ALGORITHM, SignedRequest

__all__ = ["is_signed", "read_signed_request", "replaying"]


def is_signed(authorization: str | None) -> bool:
    """Whether an ``Authorization`` header is an AWS SigV4 one."""
    return authorization is not None and authorization.lstrip().startswith(SIGV4_ALGORITHM)


async def read_signed_request(scope: Scope, receive: Receive, limit: int) -> SignedRequest:
    """The request in the forms its signature covers: the raw, still-encoded path and query
    (``arn%3Aaws%3A...`` stays as sent), every header as received, the whole body.

    Raises:
        RequestTooLargeError: The body is over ``limit`` bytes.
        UnauthorizedError: The client went away before its body arrived (logged; nobody
            reads the refusal, and nothing unverified gets in).
    """
    try:
        body = await read_body(scope, receive, limit)
    except ClientGoneError as gone:
        log_client_gone(gone.scope)  # the same one INFO line as every other endpoint's
        raise UnauthorizedError(
            "the client went away before its signed body arrived", presented=True
        ) from None
    if body is None:
        raise RequestTooLargeError(
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            limit=limit,
        )
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return SignedRequest(
        method=scope["method"],
        raw_path=raw_path.decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        ),
        body=body,
    )


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then passes on to ``receive`` (which then
    reports the client's disconnect, as the endpoint may wait for it)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
