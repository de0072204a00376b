"""Errors shaped as AWS shapes them, so boto3 raises its own modelled exceptions."""

from __future__ import annotations

import json

from starlette.responses import Response

from lockgate.errors import CircuitOpenError, LockgateError, TooManyRequestsError, http_status

__all__ = ["aws_error"]


def aws_error(error: LockgateError, request_id: str) -> Response:
    """``x-amzn-errortype`` names the exception; the JSON body carries ``Type`` and ``message``."""
    body: dict[str, object] = {"Type": "User", _message_member(error.code): error.message}
    headers = {"x-amzn-errortype": error.code, "x-amzn-requestid": request_id}
    status = http_status(error)
    if status >= 500:
        body["Type"] = "Service"
    if isinstance(error, TooManyRequestsError):
        body["Reason"] = error.fields.get("reason", "CallerRateLimitExceeded")
        headers["retry-after"] = str(error.retry_after)
    elif isinstance(error, CircuitOpenError):
        headers["retry-after"] = str(error.retry_after)
    return Response(
        json.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


# botocore's model spells the member "Message" for these two and "message" for the rest;
# boto3 users read it as exc.response["Message"], so the spelling matters.
_CAPITALISED_MESSAGE = frozenset({"ResourceNotFoundException", "ServiceException"})


def _message_member(code: str) -> str:
    return "Message" if code in _CAPITALISED_MESSAGE else "message"
