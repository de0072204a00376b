"""The AWS Lambda Invoke API: ``POST /2015-03-31/functions/{name}/invocations``, raw ASGI.

Follows botocore's service model so ``boto3.client("lambda", endpoint_url=...)`` works
unchanged: function errors are 200 with ``X-Amz-Function-Error``; errors that prevented
the run are AWS-shaped (see ``aws_errors``).
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from lockgate.controllers.http.asgi import header, read_body, serve_request
from lockgate.controllers.http.aws_errors import aws_error
from lockgate.errors import (
    FunctionInitError,
    FunctionNotFoundError,
    InvalidRequestError,
    InvocationTimeoutError,
    LockgateError,
    RequestTooLargeError,
    WorkerCrashedError,
)
from lockgate.models.context import HttpResponse
from lockgate.models.invocation import InvocationResult
from lockgate.use_cases.function_registry import FunctionRegistry
from lockgate.use_cases.lambda_invoker import LambdaInvoker

__all__ = ["INVOKE_PATH", "InvokeApi"]

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_LOG_TAIL_BYTES = 4096
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_JSON = ("content-type", "application/json")


class InvokeApi:
    """Serves the Invoke operation for the functions of ``registry`` through ``invoker``."""

    def __init__(
        self, registry: FunctionRegistry, invoker: LambdaInvoker, *, max_body_bytes: int
    ) -> None:
        self._registry = registry
        self._invoker = invoker
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send, function: str) -> None:
        async def handle(request_id: str) -> HttpResponse:
            try:
                return await self._invoke(scope, receive, function, request_id)
            except LockgateError as error:
                return aws_error(error, request_id)

        await serve_request(send, handle)

    async def _invoke(
        self, scope: Scope, receive: Receive, function: str, request_id: str
    ) -> HttpResponse:
        qualifier = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("Qualifier")
        name, given_qualifier = _resolve_name(function, qualifier[0] if qualifier else None)
        if name not in self._registry:
            raise FunctionNotFoundError(
                f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}",
                function=name,
            )
        invocation_type = header(scope, b"x-amz-invocation-type") or "RequestResponse"
        if invocation_type not in _INVOCATION_TYPES:
            raise InvalidRequestError(
                f"X-Amz-Invocation-Type must be one of {', '.join(_INVOCATION_TYPES)}, "
                f"got {invocation_type!r}"
            )
        body = await self._json_body(scope, receive)
        if invocation_type == "DryRun":
            return HttpResponse(204, (("x-amzn-requestid", request_id),), b"")
        if invocation_type == "Event":
            raise InvalidRequestError(
                "Event (asynchronous) invocations are not supported by this gateway yet; "
                "use RequestResponse"
            )
        result = await self._invoker.invoke_function(
            name,
            body,
            request_id=request_id,
            client_context=header(scope, b"x-amz-client-context"),
            qualifier=given_qualifier,
        )
        tail = header(scope, b"x-amz-log-type") == "Tail"
        return _to_response(result, request_id, tail)

    async def _json_body(self, scope: Scope, receive: Receive) -> bytes:
        body = await read_body(scope, receive, self._max_body_bytes)
        if body is None:
            raise RequestTooLargeError(
                f"Request must be smaller than {self._max_body_bytes} bytes for the "
                "InvokeFunction operation",
                limit=self._max_body_bytes,
            )
        if body.strip():
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequestError(
                    f"Could not parse request body into json: {exc}"
                ) from None
        return body


def _resolve_name(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """The function's name and the qualifier the caller gave, if any, from a name,
    ``name:qualifier``, or a full or partial ARN (plus the ``Qualifier`` parameter)."""
    parts = function_name.split(":")
    if len(parts) >= 7 and parts[0] == "arn":  # arn:aws:lambda:region:account:function:name[:q]
        name, inline_qualifier = parts[6], (parts[7] if len(parts) > 7 else None)
    elif len(parts) >= 3 and parts[1] == "function":  # account:function:name[:q]
        name, inline_qualifier = parts[2], (parts[3] if len(parts) > 3 else None)
    else:
        name, inline_qualifier = parts[0], (parts[1] if len(parts) > 1 else None)
    for candidate in (inline_qualifier, qualifier):
        if candidate not in (None, "$LATEST"):
            raise FunctionNotFoundError(
                f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:"
                f"{name}:{candidate}",
                function=name,
            )
    return name, inline_qualifier or qualifier


def _to_response(result: InvocationResult, request_id: str, tail: bool) -> HttpResponse:
    headers = [_JSON, ("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")]
    if tail:
        headers.append(
            ("x-amz-log-result", base64.b64encode(result.logs[-_LOG_TAIL_BYTES:]).decode())
        )
    error = result.error
    if error is None:
        if result.function_error is not None:
            headers.append(("x-amz-function-error", result.function_error))
        return HttpResponse(200, tuple(headers), result.payload or b"", result.handler_ms)
    if isinstance(error, InvocationTimeoutError | WorkerCrashedError | FunctionInitError):
        # The function ran (or tried to) and failed: Lambda reports that as a function error.
        headers.append(("x-amz-function-error", "Unhandled"))
        body = json.dumps(_function_failure(error, request_id)).encode()
        return HttpResponse(200, tuple(headers), body, result.handler_ms)
    return aws_error(error, request_id)


def _function_failure(error: LockgateError, request_id: str) -> dict[str, str]:
    """The error object Lambda returns for a timeout, a crash or a failed init."""
    if isinstance(error, FunctionInitError):
        return {
            "errorMessage": str(error.fields.get("error_message", error.message)),
            "errorType": error.error_type,
            "requestId": request_id,
        }
    return {
        "errorMessage": f"RequestId: {request_id} Error: {error.message}",
        "errorType": error.code,
    }
