"""Errors shaped as AWS shapes them, so boto3 raises its own modelled exceptions."""

from __future__ import annotations

import json

from lockgate.errors import CircuitOpenError, LockgateError, TooManyRequestsError, http_status
from lockgate.models.context import HttpResponse

__all__ = ["aws_error", "aws_error_response"]

# botocore's model spells the member "Message" for these two and "message" for the rest;
# boto3 users read it as exc.response["Message"], so the spelling matters. AWS's IAM
# refusals (AccessDeniedException, not in the model) are captured with "Message" too.
_CAPITALISED_MESSAGE = frozenset(
    {"ResourceNotFoundException", "ServiceException", "AccessDeniedException"}
)


def aws_error(error: LockgateError, request_id: str) -> HttpResponse:
    """``x-amzn-errortype`` names the exception; the JSON body carries ``Type`` and the message."""
    extra: dict[str, object] = {}
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(error, TooManyRequestsError):
        extra["Reason"] = error.fields.get("reason", "CallerRateLimitExceeded")
        headers = (("retry-after", str(error.retry_after)),)
    elif isinstance(error, CircuitOpenError):
        headers = (("retry-after", str(error.retry_after)),)
    return aws_error_response(
        http_status(error), error.code, error.message, request_id, extra=extra, headers=headers
    )


def aws_error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    extra: dict[str, object] | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> HttpResponse:
    """An AWS-shaped error: ``x-amzn-errortype: code`` and ``{"Type": ..., "message": ...}``.

    Args:
        extra: More members of the body (``Reason``).
        headers: More headers (``retry-after``).
    """
    member = "Message" if code in _CAPITALISED_MESSAGE else "message"
    body: dict[str, object] = {"Type": "Service" if status >= 500 else "User", member: message}
    body.update(extra or {})
    return HttpResponse(
        status,
        (
            ("content-type", "application/json"),
            ("x-amzn-errortype", code),
            ("x-amzn-requestid", request_id),
            *headers,
        ),
        json.dumps(body).encode(),
    )
