"""Errors shaped as AWS shapes them, so boto3 raises its own modelled exceptions."""

from __future__ import annotations

import json

from lockgate.errors import CircuitOpenError, LockgateError, TooManyRequestsError, http_status
from lockgate.models.context import HttpResponse

__all__ = ["aws_error"]

# botocore's model spells the member "Message" for these two and "message" for the rest;
# boto3 users read it as exc.response["Message"], so the spelling matters.
_CAPITALISED_MESSAGE = frozenset({"ResourceNotFoundException", "ServiceException"})


def aws_error(error: LockgateError, request_id: str) -> HttpResponse:
    """``x-amzn-errortype`` names the exception; the JSON body carries ``Type`` and the message."""
    status = http_status(error)
    member = "Message" if error.code in _CAPITALISED_MESSAGE else "message"
    body: dict[str, object] = {
        "Type": "Service" if status >= 500 else "User",
        member: error.message,
    }
    headers = [
        ("content-type", "application/json"),
        ("x-amzn-errortype", error.code),
        ("x-amzn-requestid", request_id),
    ]
    if isinstance(error, TooManyRequestsError):
        body["Reason"] = error.fields.get("reason", "CallerRateLimitExceeded")
        headers.append(("retry-after", str(error.retry_after)))
    elif isinstance(error, CircuitOpenError):
        headers.append(("retry-after", str(error.retry_after)))
    return HttpResponse(status, tuple(headers), json.dumps(body).encode())
