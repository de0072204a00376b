"""The client's exceptions, mapped from the gateway's answers.

The tree::

    ClientError                 root; ``status`` (None without an answer), ``code``, ``message``
    ├── GatewayUnavailable      no answer: refused, reset, timed out
    ├── InvalidResponse         an answer the client cannot read (also a ``ValueError``)
    ├── NotFound                404
    │   ├── WorkflowNotFound    no workflow by that name
    │   ├── RunNotFound         no run by that id
    │   └── FunctionNotFound    no function by that name (the Invoke API)
    ├── InvalidRequest          400, 413, 422: the message names the field at fault
    ├── Unauthorized            401: no token, or one the gateway does not accept
    ├── Forbidden               403: the token lacks the scope the call needs
    ├── Conflict                409: idempotency key reused, or the run already finished
    ├── TooManyRequests         429; ``retry_after`` seconds
    ├── ServerError             5xx
    ├── FunctionError           the invoked function raised; ``error_type``, ``error_message``
    └── WaitTimeout             ``wait_for_run`` gave up (also a ``TimeoutError``)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ClientError",
    "Conflict",
    "Forbidden",
    "FunctionError",
    "FunctionNotFound",
    "GatewayUnavailable",
    "InvalidRequest",
    "InvalidResponse",
    "NotFound",
    "RunNotFound",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "WaitTimeout",
    "WorkflowNotFound",
    "error_from_response",
]


class ClientError(Exception):
    """Root of the client's errors.

    Attributes:
        status: The HTTP status the gateway answered with; None when it did not answer.
        code: The gateway's error code (``WorkflowNotFound``, ``InvalidParameters`` ...).
        message: What went wrong, in words.
    """

    default_code = "ClientError"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code or self.default_code

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"


class GatewayUnavailable(ClientError):  # noqa: N818 - the names read as outcomes
    default_code = "GatewayUnavailable"


class InvalidResponse(ClientError, ValueError):  # noqa: N818
    default_code = "InvalidResponse"


class NotFound(ClientError):  # noqa: N818
    default_code = "NotFound"


class WorkflowNotFound(NotFound):
    default_code = "WorkflowNotFound"


class RunNotFound(NotFound):
    default_code = "RunNotFound"


class FunctionNotFound(NotFound):
    default_code = "ResourceNotFoundException"


class InvalidRequest(ClientError):  # noqa: N818
    default_code = "ValidationError"


class Unauthorized(ClientError):  # noqa: N818
    """No token was sent where one is needed, or the gateway does not accept it (unknown,
    revoked, expired): pass ``token=`` or set ``LOCKGATE_TOKEN``."""

    default_code = "Unauthorized"


class Forbidden(ClientError):  # noqa: N818
    """The token is valid but lacks the scope this call needs."""

    default_code = "Forbidden"


class Conflict(ClientError):  # noqa: N818
    default_code = "Conflict"


class TooManyRequests(ClientError):  # noqa: N818
    """The gateway shed the call before it ran; retry after ``retry_after`` seconds."""

    default_code = "TooManyRequestsException"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ServerError(ClientError):
    default_code = "ServerError"


class FunctionError(ClientError):
    """The invoked function raised (AWS: ``X-Amz-Function-Error``).

    Attributes:
        error_type, error_message: The handler's exception, as ``errorType``/``errorMessage``.
        stack_trace: Its traceback lines, when the runtime reported them.
    """

    default_code = "FunctionError"

    def __init__(
        self,
        error_type: str,
        error_message: str,
        *,
        stack_trace: list[str] | None = None,
        status: int | None = 200,
    ):
        super().__init__(error_message, status=status, code=error_type)
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace or []


class WaitTimeout(ClientError, TimeoutError):  # noqa: N818
    default_code = "WaitTimeout"


_BY_CODE: dict[str, type[ClientError]] = {
    "WorkflowNotFound": WorkflowNotFound,
    "RunNotFound": RunNotFound,
    "ResourceNotFoundException": FunctionNotFound,
}
_BY_STATUS: dict[int, type[ClientError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
    429: TooManyRequests,
}


def _code_and_message(
    status: int, body: bytes, headers: Mapping[str, str]
) -> tuple[str | None, str]:
    try:
        data: Any = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):  # Lockgate's own shape
            return str(error.get("code") or "") or None, str(error.get("message", ""))
        # AWS's shape (the Invoke API): the type in a header, the message in the body.
        message = data.get("message", data.get("Message"))
        if message is not None:
            return headers.get("x-amzn-errortype"), str(message)
    text = body.decode("utf-8", "replace").strip()
    return headers.get("x-amzn-errortype"), text[:500] or f"HTTP {status}"


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    not_found: type[ClientError] = NotFound,
) -> ClientError:
    """The exception for an error answer.

    Args:
        status: Its HTTP status (400 or more).
        body, headers: Its body and headers (case-insensitive, as httpx gives them).
        not_found: The class for a 404 whose code the client does not know.
    """
    code, message = _code_and_message(status, body, headers)
    kind = _BY_CODE.get(code or "") or (
        not_found if status == 404 else _BY_STATUS.get(status, ClientError)
    )
    if status >= 500:
        kind = ServerError
    if kind is TooManyRequests:
        retry_after = headers.get("retry-after", "")
        return TooManyRequests(
            message,
            status=status,
            code=code,
            retry_after=float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None,
        )
    return kind(message, status=status, code=code)
