"""What AWS Lambda answered to ``lambda.invoke`` as a ``WorkerReply``, with the local pools'
meaning: the function's result, or its error as Lambda reported it, with the log tail AWS
sent (``LogType=Tail``); Lambda timing the function out is a timeout, as locally."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING

from lockgate.errors import InvocationTimeoutError
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerReply

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import InvocationResponseTypeDef

__all__ = ["lambda_reply"]

_REPORT_DURATION = re.compile(rb"^REPORT RequestId: \S+\s+Duration: ([0-9.]+) ms", re.MULTILINE)
_TIMED_OUT = re.compile(r"Task timed out after ([0-9.]+) seconds")
_ERROR_TEXT_LIMIT = 4096


def lambda_reply(
    function: FunctionEntity,
    answer: tuple[InvocationResponseTypeDef, bytes],
    elapsed_s: float,
) -> WorkerReply:
    """``function``'s reply from ``lambda.invoke``'s response and its payload, read; its
    duration is the one Lambda reported, else ``elapsed_s``.

    Raises:
        InvocationTimeoutError: Lambda timed the function out.
    """
    response, payload = answer
    logs = _decode_logs(response.get("LogResult"))
    match = _REPORT_DURATION.search(logs)
    duration_ms = float(match.group(1)) if match else elapsed_s * 1000
    function_error = response.get("FunctionError")
    if not function_error:
        return WorkerReply(payload, None, logs, 0, duration_ms)
    error = _handler_error(payload)
    timed_out = _TIMED_OUT.search(error.error_message)
    if error.error_type == "Sandbox.Timedout" or (timed_out and error.error_type == "Unhandled"):
        # Lambda's own timeout (its setting may differ from ours): a timeout, as locally.
        seconds = timed_out.group(1) if timed_out else f"{function.timeout_seconds:.2f}"
        raise InvocationTimeoutError(
            f"Task timed out after {seconds} seconds",
            function=function.name,
            timeout=function.timeout_seconds,
            logs=logs.decode(errors="replace")[-4096:],
        )
    return WorkerReply(b"", error, logs, 0, duration_ms)


def _decode_logs(log_result: str | None) -> bytes:
    if not log_result:
        return b""
    try:
        return base64.b64decode(log_result, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _handler_error(payload: bytes) -> HandlerError:
    """Lambda's error object (``errorMessage``, ``errorType``, ``requestId``,
    ``stackTrace``); any other payload becomes the message, bounded."""
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = payload.decode(errors="replace")
        return HandlerError(error_message=text[:_ERROR_TEXT_LIMIT], error_type="Unhandled")
    return HandlerError.from_object(data, default_type="Unhandled")
