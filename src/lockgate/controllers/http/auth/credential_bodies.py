"""What the tokens and API keys APIs share: the credential service (or the 503 saying the
gateway keeps none), and a small JSON body read whole and checked against its model."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.responses import error_response
from lockgate.errors import RequestTooLargeError
from lockgate.use_cases.auth.credentials import CredentialService

__all__ = ["credential_service", "read_model"]

M = TypeVar("M", bound=BaseModel)
_MAX_BODY = 64 * 1024


def credential_service(application: Application, what: str) -> CredentialService | Response:
    """The gateway's credential service, or a 503 saying it keeps no ``what``."""
    if application.credentials is None:
        return error_response(503, "CredentialsOff", f"this gateway keeps no {what}")
    return application.credentials


async def read_model(request: Request, model: type[M], expected: str) -> M | Response:
    """The body as ``model``, or a 422 naming the fields at fault and ``expected``.

    Raises:
        RequestTooLargeError: The body is over 64 KiB.
    """
    raw = await read_body(request.scope, request.receive, _MAX_BODY)
    if raw is None:
        raise RequestTooLargeError(f"the body is over {_MAX_BODY} bytes", limit=_MAX_BODY)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors())
        return error_response(422, "ValidationError", f"body: expected {expected} ({fields})")
